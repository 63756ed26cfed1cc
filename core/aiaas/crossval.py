"""Small data: choose, calibrate and set the operating point by k-fold cross-validation.

With a few thousand rows, one validation split of a few hundred decides between
candidates by noise, and the validation and test splits hold back a third of the data.
When the training data is small (``Settings.small_data_rows`` rows, or fewer than
``Settings.small_data_rarest`` of the rarest label), every candidate is fitted on k folds
of the non-test rows (grouped or time-ordered where the task's split policy says so),
chosen on its out-of-fold predictions, and refitted on every non-test row with the
setting its folds chose (epochs, boosting rounds, regularisation); calibration and the
operating point are fitted on the out-of-fold predictions. The test split is untouched,
so the report and the floor verdict stay honest.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from aiaas.dataset import Dataset
from aiaas.records import Architecture, SplitPolicy, Task

if TYPE_CHECKING:
    from rich.progress import Progress

    from aiaas.plugins import Host
    from aiaas.training import Candidate, Loaded, TrainRequest

FOLDS = 5
CLASSIFICATION = ("binary", "multiclass")


def small(data: Loaded, rows_bar: int, rarest_bar: int) -> bool:
    """Whether the non-test rows are few enough to cross-validate: fewer than ``rows_bar``, or fewer than
    ``rarest_bar`` of a classification task's rarest label. Data read out of core never is."""
    if data.stream is not None or data.schema.kind not in CLASSIFICATION:
        return False
    y = np.concatenate([data.y[0], data.y[1]])
    counts = np.bincount(y, minlength=data.schema.outputs if data.schema.kind == "multiclass" else 2)
    return len(y) < rows_bar or int(counts[counts > 0].min()) < rarest_bar


def development(data: Loaded) -> tuple[Dataset, np.ndarray]:
    """Every non-test row (the training and validation splits), and its labels."""
    train, validation = data.train, data.validation
    labels = None if train.labels is None else pd.concat([train.labels, validation.labels], ignore_index=True)  # type: ignore[list-item]
    return (Dataset(pd.concat([train.records, validation.records], ignore_index=True), labels, train.source, train.notes),
            np.concatenate([data.y[0], data.y[1]]))


def folds(records: pd.DataFrame, y: np.ndarray, policy: SplitPolicy, k: int = FOLDS, seed: int = 0) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    """``k`` (fit, held-out) index pairs over ``records`` by the task's split policy: forward-chaining blocks in
    time order (each fold fits on the past and holds out the next block), whole groups, or stratified rows."""
    from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold

    from aiaas.splits import group_column, groups_of, order_key, time_column

    column = time_column(records, policy)
    if column is not None:
        order = np.argsort(order_key(records[column]).to_numpy(), kind="stable")
        blocks = np.array_split(order, k + 1)
        return [(np.concatenate(blocks[: i + 1]), blocks[i + 1]) for i in range(k)], f"{k} forward-chaining folds in {column!r} order"
    groups = groups_of(records, policy)
    if groups is not None and len(np.unique(groups)) >= k:
        pairs = list(GroupKFold(n_splits=k, shuffle=True, random_state=seed).split(records, y, groups))
        return pairs, f"{k} folds of whole groups ({group_column(records, policy)!r})"
    counts = np.bincount(y) if y.ndim == 1 and y.dtype.kind in "iu" else np.array([])
    if len(counts) and counts[counts > 0].min() >= k:
        return list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(records, y)), f"{k} stratified folds"
    return list(KFold(n_splits=k, shuffle=True, random_state=seed).split(records)), f"{k} folds"


@dataclass
class OutOfFold:
    """One architecture's out-of-fold logits on the development rows (``held`` marks the rows that have
    them: a forward-chaining first block has none) and the histories of its fold fits."""

    architecture: Architecture
    logits: np.ndarray
    held: np.ndarray
    histories: list[list[dict[str, Any]]]


def cross_validate(host: Host, task: Task, architecture: Architecture, data: Loaded, request: TrainRequest,
                   pairs: list[tuple[np.ndarray, np.ndarray]], dev: Dataset, y_dev: np.ndarray, progress: Progress,
                   as_floor: bool = False, prepared: list[dict[str, Any]] | None = None) -> OutOfFold:
    """Fit ``architecture`` on each fold (its preprocessor fitted on the fold too, once per fold for every candidate
    that shares it when ``prepared`` holds a cache per fold) and gather its held-out logits."""
    from aiaas.training import fit_candidate

    logits: np.ndarray | None = None
    held = np.zeros(len(y_dev), dtype=bool)
    histories = []
    bar = progress.add_task("folds", total=len(pairs), status=f"{architecture.name} ({architecture.runtime})")
    for i, (fit_rows, held_rows) in enumerate(pairs):
        fold = replace(data, train=dev.take(fit_rows), validation=dev.take(held_rows), y=(y_dev[fit_rows], y_dev[held_rows], data.y[2]))
        candidate = fit_candidate(host, task, architecture, fold, prepared[i] if prepared else {}, request, progress, as_floor=as_floor)
        assert candidate.own_logits is not None
        if logits is None:
            logits = np.zeros((len(y_dev), *candidate.own_logits.shape[1:]), dtype="float64")
        logits[held_rows] = candidate.own_logits
        held[held_rows] = True
        histories.append(candidate.pipeline.manifest["history"])
        progress.update(bar, advance=1)
    assert logits is not None
    return OutOfFold(architecture, logits, held, histories)


def chosen_setting(histories: list[list[dict[str, Any]]], params: dict[str, Any]) -> tuple[dict[str, Any], int | None]:
    """The setting to refit with on every non-test row, from what the folds chose: the median best epoch,
    boosting round or regularisation. Returns parameter overrides and the epochs (None: not epoch-trained)."""
    epochs = [max(h, key=lambda r: r["validation"])["epoch"] for h in histories if h and "epoch" in h[0]]
    if epochs:
        return {"patience": int(np.median(epochs)) + 1}, max(1, int(np.median(epochs)))
    rounds = [h[-1]["round"] for h in histories if h and "round" in h[-1] and "validation" in h[-1]]
    if rounds:
        kept = max(1, int(np.median(rounds)))
        return {"rounds": kept, "early_stopping": kept + 1}, None
    strengths = [h[-1]["chosen C"] for h in histories if h and "chosen C" in h[-1]]
    if strengths:
        return {"C": float(np.exp(np.median(np.log(strengths))))}, None
    return dict(params), None


def refit(host: Host, task: Task, out: OutOfFold, data: Loaded, request: TrainRequest, dev: Dataset, y_dev: np.ndarray,
          description: str, progress: Progress, as_floor: bool = False, prepared: dict[str, Any] | None = None) -> Candidate:
    """The architecture fitted on every non-test row with its folds' setting, calibrated and given its operating
    point on its out-of-fold predictions; its test metrics are on the untouched test split. ``prepared``: the
    preprocessors fitted on every non-test row, shared by the candidates."""
    from aiaas.training import Validated, fit_candidate

    overrides, epochs = chosen_setting(out.histories, {})
    refitted = replace(data, train=dev, validation=dev, y=(y_dev, y_dev, data.y[2]))
    again = replace(request, params={**request.params, **overrides}, epochs=epochs if epochs is not None else request.epochs)
    validated = Validated(out.logits[out.held], y_dev[out.held], dev.records[out.held].reset_index(drop=True))
    candidate = fit_candidate(host, task, out.architecture, refitted, {} if prepared is None else prepared, again, progress,
                              as_floor=as_floor, validated=validated)
    manifest = candidate.pipeline.manifest
    manifest["rows"] = {"train and validation (refitted on both)": len(y_dev), "test": len(data.y[2])}
    manifest["cross_validation"] = {"folds": description, "out_of_fold_rows": int(out.held.sum()), "refit_setting": overrides,
                                    **({"epochs": epochs} if epochs is not None else {})}
    return candidate


def assemble(host: Host, task: Task, fitted: list[Candidate], data: Loaded, request: TrainRequest, dev: Dataset, y_dev: np.ndarray,
             progress: Progress) -> tuple[Candidate | None, str | None]:
    """The weighted ensemble of the cross-validated candidates that share the best one's inputs, its weights
    chosen greedily on their out-of-fold probabilities; None (and why) when fewer than two would join it."""
    from aiaas.classical.ensemble import Ensemble, can_join, greedy_weights
    from aiaas.metrics import score_for_selection
    from aiaas.training import Validated, fit_candidate

    architecture = host.assembler(task)
    if architecture is None:
        return None, None
    best = max(fitted, key=lambda c: c.validation)
    key = best.architecture.preprocessor or task.preprocessor
    members = [c for c in fitted if (c.architecture.preprocessor or task.preprocessor) == key and can_join(c.architecture)
               and c.val_y is not None and best.val_y is not None and np.array_equal(c.val_y, best.val_y)]
    if len(members) < 2:
        return None, None
    y_oof, threshold, metric = best.val_y, best.pipeline.threshold, task.metrics[0]
    weights = greedy_weights([c.p_val for c in members], lambda p: score_for_selection(metric, y_oof, p, threshold))
    if (weights > 0).sum() < 2:
        only = members[int(np.argmax(weights))].label
        return None, f"the weighted ensemble was not built: greedy selection on out-of-fold predictions chose {only} alone"
    progress.update(progress.add_task("ensemble", total=1, status=""), advance=1,
                    status=", ".join(f"{c.label} {w:.2f}" for c, w in zip(members, weights) if w > 0))
    model = Ensemble.of(best.prepared.spec, [(c.architecture, c.pipeline.runtime, c.pipeline.model, c.pipeline.manifest["params"],
                                              c.pipeline.manifest["calibration"], w) for c, w in zip(members, weights)])
    p = np.clip(sum(w * c.p_val for c, w in zip(members, weights)), 1e-7, 1 - 1e-7)
    logits = np.log(p / (1 - p)).reshape(-1, 1) if p.ndim == 1 else np.log(p)
    refitted = replace(data, train=dev, validation=dev, y=(y_dev, y_dev, data.y[2]))
    candidate = fit_candidate(host, task, architecture, refitted, {key: best.prepared}, request, progress,
                              validated=Validated(logits, y_oof, best.val_records), assembled=model)  # type: ignore[arg-type]
    manifest = candidate.pipeline.manifest
    manifest["rows"] = best.pipeline.manifest["rows"]
    manifest["cross_validation"] = best.pipeline.manifest.get("cross_validation")
    manifest["ensemble"] = [{"candidate": c.label, "weight": float(w)} for c, w in zip(members, weights) if w > 0]
    return candidate, None
