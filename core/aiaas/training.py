"""How a model is born: adapter -> data checks -> split -> preprocess -> fit ->
calibrate -> evaluate against the task's classical floor -> register.

Everything here is the same for every task and runtime; the task's records supply
the domain parts (adapter, label schema, processors, architectures, metrics).
``--arch auto`` fits every candidate on the same split and registers the one best
on the task's first validation metric, with a leaderboard in its report.
"""

from __future__ import annotations

import contextlib
import json
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.progress import Progress

from aiaas import labels as label_codec
from aiaas import base_rates
from aiaas.base_rates import parse_prior
from aiaas.calibration import activate, calibrated, checked, choose_threshold, with_prior
from aiaas.classical.base import Selection
from aiaas.datachecks import ColumnScreen, check_leakage, screen_columns
from aiaas.loading import fingerprint, instances, load_data
from aiaas.errors import InvalidInput, UserError
from aiaas import warmup
from aiaas.evaluation import plots, write_report
from aiaas.integrity import file_digests
from aiaas.metrics import METRICS, compute, observed, score_for_selection
from aiaas.monitoring.reference import numeric, reference, score_of
from aiaas.novelty.guard import fit_guard
from aiaas.pipeline import MANIFEST, PREPROCESSOR_STATE, Pipeline
from aiaas.plugins import Host
from aiaas.progress import new_progress
from aiaas.dataset import Dataset
from aiaas.records import AUTO, Architecture, LabelSchema, OperatingPolicy, Task, resolve
from aiaas.registry import ModelVersion, NewVersion, Registry
from aiaas.runtimes.base import FIT_PARAMS, FitConfig, ModelSpec
from aiaas import crossval
from aiaas.settings import get_settings
from aiaas.splits import group_column, groups_of, split, time_column
from aiaas.intervals import gap_note, metric_intervals, paired, split_size
from aiaas import outofcore
from aiaas.dataplane.spill import TARGETS, WEIGHTS, Spill
from aiaas.outofcore import Streamed
from aiaas.distributed.plan import RayPlan
from aiaas.seen import SeenRows
from aiaas.state import State, json_safe
from aiaas.reports import report_figures
from aiaas.selection import CandidateRow, compare_with_floor, leaderboard_html, loses, signed

FIT_KEYS = FIT_PARAMS
DRIVER_MEMORY = "1GB"
"""What a ``--ray`` driver holds of the data (its samples) unless ``--max-memory`` says otherwise."""


@dataclass
class TrainRequest:
    task: str
    data: Path
    runtime: str | None = None
    architecture: str | None = None
    epochs: int | None = None
    label: str | None = None
    adapter: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    promote: bool = False
    weights: Path | None = None
    budget: float | None = None  # minutes for --arch auto: no candidate starts after it is spent
    keep_columns: tuple[str, ...] = ()
    drop_columns: tuple[str, ...] = ()
    max_memory: str | int | None = None
    """Train out of core (``aiaas.outofcore``) holding at most this much of the data: ``"2GB"``."""
    cluster: RayPlan | None = None
    """Train on a Ray cluster (``aiaas.distributed``); implies out of core."""
    force: bool = False
    """With ``promote``: serve the version even if it loses to its classical floor beyond noise."""
    cross_validate: bool | None = None
    """Small data by k-fold cross-validation (``aiaas.crossval``): None decides by the data and the settings; False never."""
    prior: str | None = None
    """Production's label rates (``--prior``): ``0.002`` (a binary task's positive label) or ``a=0.2,b=0.8``."""
    run: str = ""
    """The run's id: its checkpoints' folder on the cluster (``--resume`` names it)."""

    def __post_init__(self) -> None:
        if self.cluster is not None and self.max_memory is None:
            self.max_memory = DRIVER_MEMORY


@dataclass
class TrainResult:
    version: ModelVersion
    metrics: dict[str, float]
    report: Path
    promoted: bool
    floor: dict[str, Any] = field(default_factory=dict)
    leaderboard: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    input_checks: dict[str, Any] | None = None
    intervals: dict[str, list[float] | None] = field(default_factory=dict)
    """Each test metric's 95% bootstrap interval (``aiaas.intervals``)."""


def class_weights(y: np.ndarray, kind: str) -> np.ndarray:
    """Per-instance weights that balance the classes (the split is never resampled)."""
    if kind not in ("binary", "multiclass"):
        return np.ones(len(y), dtype="float32")
    counts = np.bincount(y)
    per_class = len(y) / (len(counts) * np.maximum(counts, 1))
    return per_class[y].astype("float32")


def provenance(host: Host, task_name: str, runtime: str, extra: dict[str, Any]) -> dict[str, Any]:
    owner = host.components.owner[("tasks", task_name)]
    info = host.plugins[owner]
    packages = {}
    for name in ("aiaas", "numpy", "pandas", "scikit-learn", "torch", "tensorflow-cpu", "tensorflow", "keras"):
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            pass
    return {"plugin": owner, "plugin_distribution": info.distribution, "plugin_version": info.version,
            "python": platform.python_version(), "packages": packages, **extra}


def fit_model(runtime: Any, model: Any, spec: ModelSpec, config: FitConfig, patience: int, train: tuple[Any, np.ndarray], val: tuple[dict, np.ndarray],
              metric: str, kind: str, progress: Progress) -> list[dict[str, float]]:
    """Epochs with early stopping on the validation metric; the best epoch's weights are kept.
    A runtime that fits whole (``classical``) gets the splits and the metric instead."""
    spilled = train[0] if isinstance(train[0], Spill) else None
    weights = spilled.column(WEIGHTS) if spilled is not None else class_weights(train[1], kind)
    if hasattr(runtime, "fit"):
        bar = progress.add_task("fitting", total=None, status="")
        selection = Selection(lambda logits: score_for_selection(metric, val[1], calibrated(logits, kind, None)),
                              lambda status: progress.update(bar, status=status))
        history = runtime.fit(model, (train[0], train[1], weights), val, config, selection)
        progress.update(bar, total=1, completed=1)
        return history
    trainer = runtime.trainer(model, spec, config)
    history: list[dict[str, float]] = []
    best, best_snapshot, waited = float("-inf"), None, 0
    bar = progress.add_task("training", total=config.epochs, status="")
    for epoch in range(1, config.epochs + 1):
        if spilled is not None:  # chunk by chunk from disk, the chunks in a new order each epoch
            losses = [(trainer.epoch(x, y, w), len(y)) for x, y, w in spilled.chunks(spilled.chunk_rows, seed=config.seed + epoch)]
            loss = sum(value * n for value, n in losses) / max(sum(n for _, n in losses), 1)
        else:
            loss = trainer.epoch(train[0], train[1], weights)
        p = calibrated(runtime.predict_logits(model, val[0]), kind, None)
        score = score_for_selection(metric, val[1], p)
        history.append({"epoch": epoch, "loss": loss, "validation": score})
        if score > best + 1e-6:
            best, best_snapshot, waited = score, trainer.snapshot(), 0
        else:
            waited += 1
        progress.update(bar, advance=1, status=f"loss {loss:.4f}  val {metric} {score:.4f}  best {best:.4f}")
        if waited >= patience:
            progress.update(bar, total=epoch, status=f"stopped early at epoch {epoch}; best {metric} {best:.4f}")
            break
    if best_snapshot is not None:
        trainer.restore(best_snapshot)
    return history


def operating_policy(task: Task, target: Any) -> OperatingPolicy:
    """The task's operating policy, with its target changed by ``--param operating_target=X``."""
    policy = task.operating_point or OperatingPolicy()
    if target is None:
        return policy
    try:
        value = float(target)
    except (TypeError, ValueError):
        value = float("nan")
    if policy.objective == "max_f1" or not 0 < value < 1:
        raise UserError(f"--param operating_target={target}: {task.name} picks its threshold by {policy.objective}"
                        + ("; it takes no target" if policy.objective == "max_f1" else "; give a rate between 0 and 1"))
    return replace(policy, target=value)


@dataclass
class Loaded:
    """The data after the checks and the split, shared by every candidate of a run."""

    train: Dataset
    validation: Dataset
    test: Dataset
    y: tuple[np.ndarray, np.ndarray, np.ndarray]
    split: str
    fingerprint: str
    schema: LabelSchema
    screen: ColumnScreen
    stream: Streamed | None = None
    """Out of core: the stream the splits above are samples of."""
    label_mapping: str | None = None
    """How the file's label values became the schema's labels, when they are not its names (``labels.mapping_note``)."""
    leaks_checked: bool = False
    """The leakage check ran on the run's own split: a cross-validation fold (a few held-out positives) or a refit
    (validated on its own training rows) would raise false alarms."""

    @property
    def rows(self) -> dict[str, int]:
        if self.stream is not None:
            return dict(self.stream.rows)
        return {"train": len(self.y[0]), "validation": len(self.y[1]), "test": len(self.y[2])}


@dataclass
class Prepared:
    """A preprocessor fitted on the training split, and the model inputs it made."""

    data: Loaded
    train: Dataset
    validation: Dataset
    test: Dataset
    y: tuple[np.ndarray, np.ndarray, np.ndarray]
    pre_state: State
    inputs: tuple[dict[str, np.ndarray] | SpillLater | ClusterRows, dict[str, np.ndarray]]
    spec: ModelSpec
    sample: tuple[dict[str, np.ndarray], np.ndarray] | None = None
    """Out of core: the training sample's inputs and targets, for a model that cannot stream."""


def load_split(host: Host, task: Task, request: TrainRequest, screens_columns: bool, architectures: list[Architecture] | None = None,
               progress: Progress | None = None) -> Loaded:
    """Load, pick the label schema, encode labels, leave out columns that are not features
    (tables), split by the task's policy."""
    if request.max_memory is not None:
        return load_streamed(host, task, request, screens_columns, architectures or [], progress or new_progress(True))
    dataset = load_data(host, task.name, request.data, request.label, request.adapter, request.options)
    schema = host.label_schema(task, resolve(task.choose_labels)(dataset.labels) if task.choose_labels else None)
    mapping = label_codec.mapping_note(schema, _distinct(dataset.labels), request.options.get(label_codec.LABEL_MAP))
    y = label_codec.encode(schema, dataset.labels, request.label or task.label_column)
    screen = (screen_columns(dataset.records, request.keep_columns, request.drop_columns, time_column(dataset.records, task.split))
              if screens_columns else ColumnScreen())
    parts = split(dataset.records, y, task.split, request.seed)  # the split may order or group by a column left out
    dataset.notes.extend(screen.notes())
    dataset.records = dataset.records.drop(columns=list(screen.ignored))
    train_set, val_set, test_set = (dataset.take(ix) for ix in (parts.train, parts.validation, parts.test))
    if schema.kind == "binary" and y[parts.train].sum() == 0:
        raise InvalidInput(f"the training split has no {schema.positive!r} examples; the model cannot learn that label")
    if mapping:
        dataset.notes.append(f"labels mapped {mapping}")
    return Loaded(train_set, val_set, test_set, (y[parts.train], y[parts.validation], y[parts.test]), parts.description,
                  fingerprint(dataset), schema, screen, label_mapping=mapping)


def _distinct(labels: pd.Series) -> list[object]:
    """The distinct label values of a binary or multiclass file (sequence labels are lists: none)."""
    return [] if labels.map(lambda v: isinstance(v, (list, tuple, np.ndarray))).any() else list(pd.unique(labels.astype(str)))


def load_streamed(host: Host, task: Task, request: TrainRequest, screens_columns: bool, architectures: list[Architecture],
                  progress: Progress) -> Loaded:
    """``load_split`` out of core: the splits are bounded samples of a stream (``aiaas.outofcore``)."""
    tally = None
    if request.cluster is not None:
        from aiaas.dataplane.chunks import parts_of

        tally_parts = resolve("aiaas.distributed.passes:tally_parts")  # Ray loads only on this path
        bar = progress.add_task("on the cluster", total=None, status="reading each file where Ray places it")

        def tallied(rows: int, done: bool) -> None:
            progress.update(bar, status=f"{rows:,} rows tallied", **({"total": 1, "completed": 1} if done else {}))

        tally = tally_parts(parts_of(host, task.name, request.data, request.adapter), request, tallied)
    streamed, *samples = outofcore.load_split(host, task, request, outofcore.summarizing(host, task, architectures), progress, tally)
    sets = [s.dataset() for s in samples]
    schema = host.label_schema(task, resolve(task.choose_labels)(sets[0].labels) if task.choose_labels else None)
    column = request.label or task.label_column
    mapping = label_codec.mapping_note(schema, [str(v) for v in streamed.label_counts] if streamed.label_counts else [],
                                       request.options.get(label_codec.LABEL_MAP))
    ys = tuple(label_codec.encode(schema, d.labels, column) for d in sets)
    screen = (screen_columns(sets[0].records, request.keep_columns, request.drop_columns, time_column(sets[0].records, task.split), in_order=False)
              if screens_columns else ColumnScreen())
    for d in sets:
        d.records = d.records.drop(columns=list(screen.ignored))
        d.notes = sets[0].notes
    sets[0].notes.extend([*streamed.notes, *screen.notes(), outofcore.sample_note(streamed, tuple(samples)),  # type: ignore[arg-type]
                          *([f"labels mapped {mapping}"] if mapping else [])])
    counts = outofcore.class_counts(schema, streamed, column)
    if schema.kind == "binary" and counts is not None and counts[1] == 0:
        raise InvalidInput(f"the training split has no {schema.positive!r} examples; the model cannot learn that label")
    return Loaded(*sets, ys, streamed.plan.description, streamed.fingerprint, schema, screen, streamed, mapping)  # type: ignore[arg-type]


def prepare(data: Loaded, task: Task, request: TrainRequest, preprocessor: Any, key: str = "", progress: Progress | None = None) -> Prepared:
    """Fit the preprocessor on the training split only; check no column leaks the label."""
    schema = data.schema
    if data.stream is not None:
        pre_state, note = outofcore.fit_state(preprocessor, key, data.stream, data.train, request.options)
        if note:
            data.train.notes.append(note)
    else:
        pre_state = preprocessor.fit(data.train.records, data.train.labels, options=request.options)
    if hasattr(preprocessor, "feature_columns") and task.input_model:  # fields served but not learned from, or the reverse
        from aiaas.tabular import mismatch_notes

        data.train.notes.extend(n for n in mismatch_notes(resolve(task.input_model), preprocessor.feature_columns(pre_state))
                                if n not in data.train.notes)
    if getattr(preprocessor, "screens_columns", False):
        pre_state.meta["ignored"] = data.screen.ignored
    if getattr(preprocessor, "screens_columns", False) and not data.leaks_checked:
        check_leakage(preprocessor.used_columns(pre_state), (data.train.records, data.y[0]), (data.validation.records, data.y[1]),
                      schema.kind, request.keep_columns)
    train_set, val_set, test_set = data.train, data.validation, data.test
    ys = data.y
    if hasattr(preprocessor, "training_instances"):  # records become model instances after the split (sequence windows)
        train_set, val_set, test_set = (instances(preprocessor, s, pre_state) for s in (train_set, val_set, test_set))
        ys = tuple(label_codec.encode(schema, s.labels, request.label or task.label_column) for s in (train_set, val_set, test_set))
    x_train = preprocessor.transform(train_set.records, pre_state)
    x_val = preprocessor.transform(val_set.records, pre_state)
    spec = ModelSpec(
        inputs={k: tuple(v.shape[1:]) for k, v in x_train.items()},
        outputs=schema.outputs, kind=schema.kind, dtypes={k: str(v.dtype) for k, v in x_train.items()},
        hints=preprocessor.model_hints(pre_state) if hasattr(preprocessor, "model_hints") else {},
    )
    shapes = {**spec.inputs, TARGETS: ys[0].shape[1:]}  # every chunk of training rows is padded to the sample's widest
    if data.stream is not None and request.cluster is not None:  # every training row, read and encoded on the cluster's nodes
        from aiaas.dataplane.chunks import parts_of
        from aiaas.plugins import get_host

        column = request.label or task.label_column or "label"
        rows = resolve("aiaas.distributed.data:training_rows")(
            parts_of(get_host(), task.name, request.data, request.adapter), task.name, request.label, request.adapter, request.options, data.stream.budget.chunk_rows, data.stream.plan,
            list(data.screen.ignored), preprocessor, pre_state, schema, column, outofcore.class_weighting(schema, data.stream, column), shapes)
        return Prepared(data, train_set, val_set, test_set, ys, pre_state, (ClusterRows(rows), x_val), spec, (x_train, ys[0]))
    if data.stream is not None:  # the model trains on every training row, encoded to disk; the sample serves what cannot stream
        stream = data.stream
        later = SpillLater(lambda: outofcore.spill(stream, preprocessor, pre_state, schema, request.label or task.label_column or "label",
                                                   list(data.screen.ignored), shapes, progress or new_progress(True)))
        return Prepared(data, train_set, val_set, test_set, ys, pre_state, (later, x_val), spec, (x_train, ys[0]))
    return Prepared(data, train_set, val_set, test_set, ys, pre_state, (x_train, x_val), spec)


@dataclass(eq=False)
class SpillLater:
    """The training rows encoded to disk, written when the first model that streams asks for them: a
    run whose models all fit on the sample (a linear model on text) never writes them."""

    write: Callable[[], Spill]
    written: Spill | None = None

    def spill(self) -> Spill:
        if self.written is None:
            self.written = self.write()
        return self.written


@dataclass(frozen=True)
class ClusterRows:
    """The training rows as a Ray Data dataset, read and encoded where Ray places each file."""

    dataset: Any


@dataclass(eq=False)
class Candidate:
    """One architecture fitted, calibrated and scored on the run's split."""

    architecture: Architecture
    pipeline: Pipeline
    prepared: Prepared
    validation: float
    scores: dict[str, float]
    p_val: np.ndarray
    p_test: np.ndarray
    calibration_error: dict[str, float]
    seconds: float
    ms_per_row: float
    size: int = 0
    own_logits: np.ndarray | None = None
    """Its logits on its own validation split (a fold's held-out rows, under cross-validation)."""
    val_y: np.ndarray | None = None
    val_records: pd.DataFrame | None = None
    """The labels and records ``p_val`` is of: the validation split's, or the out-of-fold rows' (``Validated``)."""

    @property
    def label(self) -> str:
        return f"{self.architecture.name} ({self.architecture.runtime})"

    def row(self, metric: str) -> CandidateRow:
        return CandidateRow(self.label, signed(metric, self.validation), self.scores, self.seconds, self.size, self.ms_per_row)


def _settings(architecture: Architecture, task: Task, request: TrainRequest) -> tuple[dict[str, Any], FitConfig, int, OperatingPolicy]:
    params = {**architecture.params, **request.params}
    fit_params = {k: params.pop(k) for k in list(params) if k in FIT_KEYS}
    policy = operating_policy(task, params.pop("operating_target", None))
    patience = int(fit_params.pop("patience", 5))
    if request.epochs is not None:
        fit_params["epochs"] = request.epochs
    return params, FitConfig(**{**fit_params, "seed": request.seed}), patience, policy


@dataclass(frozen=True)
class Validated:
    """Out-of-fold logits of the development rows (``aiaas.crossval``): what a model refitted on every
    non-test row is calibrated and given its operating point by, in place of its own validation split."""

    logits: np.ndarray
    y: np.ndarray
    records: pd.DataFrame


def fit_candidate(host: Host, task: Task, architecture: Architecture, data: Loaded, prepared: dict[str, Prepared],
                  request: TrainRequest, progress: Progress, as_floor: bool = False, validated: Validated | None = None,
                  assembled: Any | None = None) -> Candidate:
    """Fit one architecture on the run's split; its preprocessor is fitted once per run. ``as_floor``: only
    as the baseline the chosen models are compared with. ``validated``: calibrate and choose the operating
    point on these out-of-fold predictions instead of the model's own on the validation split. ``assembled``:
    a model already made of calibrated candidates (the ensemble), neither fitted nor calibrated again."""
    started = time.monotonic()
    preprocessor = host.preprocessor(task, architecture)
    key = architecture.preprocessor or task.preprocessor
    if key not in prepared:
        prepared[key] = prepare(data, task, request, preprocessor, key, progress)
    ready = prepared[key]
    schema, metric = data.schema, task.metrics[0]
    params, config, patience, policy = _settings(architecture, task, request)
    (x_train, x_val), (y_train, y_val, y_test) = ready.inputs, ready.y
    runtime = host.runtime(architecture.runtime)  # imports torch / tensorflow: after the data is known good
    runtime.seed(request.seed)
    model = assembled if assembled is not None else runtime.build(architecture, ready.spec, params)
    params = dict(getattr(assembled, "params", {})) if assembled is not None else params  # what loads it again: its members
    initial = runtime.initialise(model, request.weights) if request.weights and assembled is None else None
    notes = list(data.train.notes)
    streamed = isinstance(x_train, (SpillLater, ClusterRows))
    whole = data.stream is not None and len(data.train) == data.stream.rows["train"]  # the driver's sample is every training row
    if streamed and hasattr(runtime, "fit") and not getattr(model, "streams", False) and ready.sample is not None:
        (x_train, y_train) = ready.sample
        notes.append(f"{architecture.name} cannot train from a stream: fitted on a sample of {len(y_train):,} training rows")
    elif isinstance(x_train, ClusterRows) and as_floor and whole and ready.sample is not None:
        (x_train, y_train) = ready.sample  # the same rows: a cluster job for the baseline would cost more than its fit
        notes.append(f"{architecture.name} (the floor) trained on the driver, which holds every training row")
    elif isinstance(x_train, SpillLater):
        x_train = x_train.spill()
        y_train = x_train.column(TARGETS)
    if assembled is not None:
        history = []
    elif isinstance(x_train, ClusterRows):
        model, history, resumed = fit_on_cluster(request, architecture, runtime.name, ready, params, config, patience, (x_val, y_val),
                                                 metric, schema.kind, data.stream, progress)  # type: ignore[arg-type]
        notes.extend(resumed)
    else:
        history = fit_model(runtime, model, ready.spec, config, patience, (x_train, y_train), (x_val, y_val), metric, schema.kind, progress)
    notes.extend(getattr(model, "notes", []))

    own_logits = runtime.predict_logits(model, x_val)
    val_logits, y_val, val_records = ((validated.logits, validated.y, validated.records) if validated is not None else
                                      (own_logits, y_val, ready.validation.records))
    calibration, calibration_check = checked(schema.kind, val_logits, y_val, seed=request.seed) if assembled is None else (None, {})
    if calibration_check and not calibration_check["kept"]:
        notes.append(f"calibration not applied: fitted on one half of validation and measured on the other it raised the calibration "
                     f"error from {calibration_check['validation_before']:.4f} to {calibration_check['validation_after']:.4f}")
    production = parse_prior(schema, request.prior)
    label_rates = {"training": base_rates.rates(schema, data.y[0]), "validation": base_rates.rates(schema, y_val),
                   "production": dict(zip(base_rates.index_names(schema), production.tolist())) if production is not None else None}
    weights = None
    if production is not None:  # the calibrated probabilities reflect validation's rates; uncalibrated, the class weights' even ones
        outputs = len(base_rates.index_names(schema))
        reflected = np.bincount(y_val, minlength=outputs) / max(len(y_val), 1) if calibration else np.full(outputs, 1 / outputs)
        if assembled is None:  # an ensemble's members are corrected already
            calibration = with_prior(calibration, schema.kind, reflected, production)
        weights = base_rates.production_weights(y_val, np.bincount(y_val, minlength=outputs) / max(len(y_val), 1), production)
    p_val = calibrated(val_logits, schema.kind, calibration)
    operating = choose_threshold(y_val, p_val, policy, weights) if schema.kind == "binary" else {}
    rows = data.rows
    manifest: dict[str, Any] = {
        "task": task.name, "labels": schema.name, "label_schema_version": schema.version,
        "label_column": request.label or task.label_column, "adapter": host.adapter(task, request.adapter, request.data).name,
        "adapter_options": request.options,
        "runtime": runtime.name, "architecture": architecture.name,
        "params": params, "fit": asdict(config), "spec": ready.spec.to_json(), "calibration": calibration,
        "operating_point": operating, "split": data.split, "rows": rows, "history": history, "notes": notes,
        "calibration_check": calibration_check, "label_rates": label_rates, "label_mapping": data.label_mapping,
        "initial_weights": initial,
    }
    pipeline = Pipeline(task, schema, runtime.name, runtime, model, preprocessor, ready.pre_state,
                        host.postprocessor(task), manifest, host.explainer(task, runtime.name))
    manifest["postprocessor"] = pipeline.postprocessor.fit(pipeline, val_records, p_val, y_val)
    fitted = time.monotonic() - started
    timer = time.perf_counter()
    p_test = pipeline.probabilities(ready.test.records)
    ms_per_row = 1000 * (time.perf_counter() - timer) / max(len(ready.test.records), 1)
    scores = compute(task.metrics, y_test, p_test, pipeline.threshold)
    manifest["metrics"] = scores
    if production is not None and schema.kind == "binary":
        manifest["at_production_rate"] = base_rates.at_production_rate(y_test, p_test, pipeline.threshold, production)
    validation = score_for_selection(metric, y_val, p_val, pipeline.threshold)
    return Candidate(architecture, pipeline, ready, validation, scores, p_val, p_test,
                     calibration_errors(pipeline, ready, y_test, p_test), fitted, ms_per_row, own_logits=own_logits, val_y=y_val,
                     val_records=val_records)


def fit_on_cluster(request: TrainRequest, architecture: Architecture, runtime: str, ready: Prepared, params: dict[str, Any],
                   config: FitConfig, patience: int, validation: tuple[dict, np.ndarray], metric: str, kind: str, stream: Streamed,
                   progress: Progress) -> tuple[Any, list[dict[str, Any]], list[str]]:
    """One candidate trained data-parallel on the cluster (``aiaas.distributed.fit``), from its run's last checkpoint if any."""
    assert request.cluster is not None and isinstance(ready.inputs[0], ClusterRows)
    bar = progress.add_task("on the cluster", total=None, status=f"{architecture.name} on {request.cluster.workers} worker(s), run {request.run}")
    job = resolve("aiaas.distributed.fit:Job")(architecture, runtime, ready.spec, params, config, patience, validation, metric, kind,
                                               stream.budget.chunk_rows, int(outofcore.SHARE_TREES * stream.budget.total))
    fitted = resolve("aiaas.distributed.fit:fit")(job, request.cluster, ready.inputs[0].dataset,
                                                  resolve("aiaas.distributed.runs:storage")(), f"{request.run}-{architecture.name}")
    progress.update(bar, total=1, completed=1, status="done")
    return fitted


def judged(task: Task, winner: Candidate, base: Candidate | None) -> tuple[dict[str, Any], dict[str, list[float] | None], str | None]:
    """The winner's test metrics' 95% intervals, its paired verdict against the floor on the same test rows,
    and a note when its validation and test values of the task's first metric disagree beyond noise.
    Where the split keeps groups together, whole groups are resampled."""
    metric, ready, threshold = task.metrics[0], winner.prepared, winner.pipeline.threshold
    y_val, y_test = winner.val_y if winner.val_y is not None else ready.y[1], ready.y[2]
    val_records = winner.val_records if winner.val_records is not None else ready.validation.records
    groups = [groups_of(r, task.split) for r in (val_records, ready.test.records)]
    intervals = metric_intervals(task.metrics, y_test, winner.p_test, threshold, groups[1])
    difference = None
    if base is not None and base is not winner and np.array_equal(base.prepared.y[2], y_test):  # the same rows: a paired comparison
        difference = paired(metric, y_test, (winner.p_test, threshold), (base.p_test, base.pipeline.threshold), groups[1])
    comparison = compare_with_floor(metric, winner.scores, base.scores if base else None, base.label if base else None,
                                    same=base is winner, difference=difference)
    unit = f"groups ({column})" if (column := group_column(ready.test.records, task.split)) else "groups"
    gap = gap_note(metric, (compute([metric], y_val, winner.p_val, threshold)[metric], metric_intervals([metric], y_val, winner.p_val, threshold, groups[0])[metric]),
                   (winner.scores[metric], intervals[metric]),
                   {"validation": split_size(y_val, groups[0], unit), "test": split_size(y_test, groups[1], unit)})
    return comparison, intervals, gap


def calibration_errors(pipeline: Pipeline, ready: Prepared, y_test: np.ndarray, p_test: np.ndarray) -> dict[str, float]:
    """Expected calibration error on the test split before and after calibration (classification only)."""
    kind = pipeline.labels.kind
    if kind not in ("binary", "multiclass", "sequence") or not len(y_test):
        return {}
    raw = activate(pipeline.runtime.predict_logits(pipeline.model, pipeline.inputs(ready.test.records)), kind)
    ece = METRICS["calibration_error"]
    return {"before": ece(*observed(y_test, raw), 0.5), "after": ece(*observed(y_test, p_test), 0.5)}


def plan(host: Host, task: Task, request: TrainRequest) -> tuple[list[Architecture], bool]:
    """The architectures this run fits, and whether it picks among them (``auto``)."""
    name = request.architecture or task.default_architecture
    if name != AUTO and request.architecture is None and request.runtime is not None:
        name = None  # the runtime's own default
    if name == AUTO:
        if request.runtime and request.runtime not in host.components.runtimes:
            raise UserError(f"unknown runtime {request.runtime!r}; known: {', '.join(sorted(host.components.runtimes))}")
        found = host.candidates(task, request.runtime)
        if not found:
            raise UserError(f"no architecture of {task.name} has its runtime installed{' on ' + request.runtime if request.runtime else ''}")
        return found, True
    chosen = host.architecture(task, name, request.runtime)
    if chosen.assembled:
        raise UserError(f"{chosen.name} is built by --arch auto from the other candidates on small data; it is not trained on its own")
    return [chosen], False


def _size(candidate: Candidate) -> int:
    with tempfile.TemporaryDirectory() as folder:
        candidate.pipeline.runtime.save(candidate.pipeline.model, Path(folder))
        return sum(f.stat().st_size for f in Path(folder).rglob("*") if f.is_file())


def train(host: Host, registry: Registry, request: TrainRequest, quiet: bool = False) -> TrainResult:
    task = host.task(request.task)
    architectures, auto = plan(host, task, request)
    if request.epochs is not None and request.epochs < 1:
        raise UserError("--epochs must be at least 1")
    if request.budget is not None and request.budget <= 0:
        raise UserError("--budget must be a positive number of minutes")
    if request.weights is not None and not request.weights.is_file():
        raise UserError(f"--weights {request.weights}: no such file")
    floor = host.floor(task)
    for architecture in architectures:
        operating_policy(task, {**architecture.params, **request.params}.get("operating_target"))  # a bad target fails before any work

    errors: Any = contextlib.nullcontext()
    if request.cluster is not None:
        request, errors = on_cluster(request), resolve("aiaas.distributed.cluster:user_errors")()
    with new_progress(quiet) as progress, errors:
        step = progress.add_task("preparing", total=3, status="loading data, checking columns, splitting")
        data = load_split(host, task, request, any(getattr(host.preprocessor(task, a), "screens_columns", False) for a in architectures),
                          [*architectures, *([floor] if floor else [])], progress)
        try:
            return _train(host, registry, request, task, architectures, auto, floor, data, progress, step)
        finally:
            if data.stream is not None:
                data.stream.close()


def on_cluster(request: TrainRequest) -> TrainRequest:
    """Join the cluster and name the run (``aiaas.distributed.runs``)."""
    assert request.cluster is not None
    start = resolve("aiaas.distributed.runs:start")  # joins the cluster: Ray loads only on this path
    return replace(request, run=start(request.cluster, {**asdict(request), "cluster": None, "data": str(request.data)}))


def _train(host: Host, registry: Registry, request: TrainRequest, task: Task, architectures: list[Architecture], auto: bool,
           floor: Architecture | None, data: Loaded, progress: Progress, step: Any) -> TrainResult:
    parse_prior(data.schema, request.prior)  # a bad --prior fails before any model is fitted
    prepared: dict[str, Prepared] = {}
    started, fitted, skipped = time.monotonic(), [], []
    settings = get_settings()
    folded = None
    if request.cross_validate is not False and crossval.small(data, settings.small_data_rows, settings.small_data_rarest):
        dev, y_dev = crossval.development(data)
        pairs, how = crossval.folds(dev.records, y_dev, task.split, crossval.FOLDS, request.seed)
        folded = (dev, y_dev, pairs, how)
        fold_prepared: list[dict[str, Prepared]] = [{} for _ in range(len(pairs) + 1)]  # per fold, and the refit's last
        for architecture in architectures:  # the leakage check on the run's split, once per preprocessor; not on folds
            key = architecture.preprocessor or task.preprocessor
            if key not in prepared and getattr(host.preprocessor(task, architecture), "screens_columns", False):
                prepared[key] = prepare(data, task, request, host.preprocessor(task, architecture), key, progress)
        data = replace(data, leaks_checked=True)
        counts = np.bincount(y_dev)
        data.train.notes.append(f"small data ({len(y_dev):,} non-test rows, {int(counts[counts > 0].min()):,} of the rarest label): every "
                                f"candidate was chosen, calibrated and given its operating point on its out-of-fold predictions over {how}, "
                                f"then refitted on every non-test row")

    def fit_one(architecture: Architecture, asked: TrainRequest, as_floor: bool = False) -> Candidate:
        if folded is None:
            return fit_candidate(host, task, architecture, data, prepared, asked, progress, as_floor=as_floor)
        dev, y_dev, pairs, how = folded
        out = crossval.cross_validate(host, task, architecture, data, asked, pairs, dev, y_dev, progress, as_floor, fold_prepared[:-1])
        return crossval.refit(host, task, out, data, asked, dev, y_dev, how, progress, as_floor, fold_prepared[-1])

    progress.update(step, advance=1, status=f"fitting {len(architectures)} candidate(s)" if auto else f"fitting {architectures[0].name}")
    failed: list[UserError] = []
    for architecture in architectures:
        if auto and fitted and request.budget is not None and time.monotonic() - started > 60 * request.budget:
            skipped.append(f"{architecture.name} ({architecture.runtime})")
            continue
        try:
            fitted.append(fit_one(architecture, request))
        except UserError as exc:  # auto goes on without a candidate that cannot run here (a missing weights package)
            if not auto:
                raise
            failed.append(exc)
            skipped.append(f"{architecture.name} ({architecture.runtime}): {exc}")
    if not fitted:
        raise failed[0]
    if folded is not None and auto:  # small data: the candidates' weighted ensemble serves when it beats the best of them
        ensemble, why = crossval.assemble(host, task, fitted, data, request, folded[0], folded[1], progress)
        fitted.extend([ensemble] if ensemble is not None else [])
        data.train.notes.extend([why] if why else [])
    winner = max(fitted, key=lambda c: c.validation)
    base = next((c for c in fitted if c.architecture == floor), None)
    if floor is not None and base is None:
        progress.update(step, status=f"fitting the classical floor {floor.name} on the same split")
        base = fit_one(floor, replace(request, params={}, epochs=None, weights=None), as_floor=True)
    for candidate in {id(c): c for c in [*fitted, *([base] if base else [])]}.values():
        candidate.size = _size(candidate)

    progress.update(step, advance=1, status="evaluating and registering")
    metric = task.metrics[0]
    comparison, intervals, gap = judged(task, winner, base)
    if gap:
        data.train.notes.append(gap)
    pipeline, ready, manifest = winner.pipeline, winner.prepared, winner.pipeline.manifest
    manifest["floor"] = comparison
    manifest["intervals"] = intervals
    manifest["calibration_error"] = winner.calibration_error
    manifest["reference"] = reference(ready.train.records, score_of(observed(winner.val_y if winner.val_y is not None else ready.y[1], winner.p_val)[1]))
    progress.update(step, status="fitting the input checks on the training split, calibrating them on validation")
    classes = data.y[0] if data.schema.kind in ("binary", "multiclass") else None
    guard = fit_guard(host, task, pipeline, (data.train.records, classes), data.validation.records)
    manifest["input_checks"] = guard.summary() if guard else None
    if guard is not None and guard.validation_novelty is not None:
        manifest["reference"]["novelty"] = numeric(pd.Series(guard.validation_novelty, dtype="float64"))
    board = [c.row(metric) for c in fitted] + ([base.row(metric)] if base is not None and base not in fitted else [])
    if auto:
        manifest["leaderboard"] = [asdict(r) for r in board]
        manifest["skipped"] = skipped
    seen = SeenRows.of([data.train.records, data.validation.records])  # what `aiaas evaluate` tells apart from new rows
    manifest["seen_rows"] = {**seen.summary(), **({"sampled": True} if data.stream is not None else {})}
    whole = hasattr(pipeline.runtime, "fit")  # fitted in one call: no epochs to plot
    images = plots(data.schema, ready.y[2], winner.p_test, pipeline.threshold, manifest["history"], metric)
    images.update(report_figures(pipeline, ready.test.records, ready.y[2], winner.p_test))
    scores = winner.scores
    architecture = winner.architecture

    def write(folder: Path) -> None:
        pipeline.runtime.save(pipeline.model, folder)
        ready.pre_state.save(folder, PREPROCESSOR_STATE)
        if guard is not None:
            guard.save(folder)
        seen.save(folder)
        warmup.save(folder, data.validation.records, task.log_omit)  # what a server answers before the version takes traffic
        facts = {"data": str(request.data), "rows": rows_fact(manifest["rows"], task.modality, [len(y) for y in ready.y]), "split": data.split,
                 "classical floor": comparison["text"],
                 **({"labels mapped": data.label_mapping} if data.label_mapping else {}),
                 "label rates": base_rates.describe(manifest["label_rates"]) if manifest["label_rates"]["training"] else "n/a",
                 **({"at production's label rate": _production_fact(manifest["at_production_rate"])} if manifest.get("at_production_rate") else {}),
                 "calibration": _calibration_fact(manifest["calibration"], winner.calibration_error, manifest.get("calibration_check")),
                 "operating point": operating_fact(manifest["operating_point"]),
                 "input checks": checks_fact(manifest["input_checks"]),
                 **({"chosen setting": setting_fact(manifest["history"][-1]) if manifest["history"] else "n/a"} if whole else
                    {"epochs run": len(manifest["history"])}),
                 **({"notes": "; ".join(data.train.notes)} if data.train.notes else {})}
        sections = leaderboard_html(metric, board, winner.label, skipped) if auto else ""
        sections += data_section(ready)
        write_report(folder / "report", f"{task.name} — {architecture.name} on {pipeline.runtime_name}", facts, scores, images,
                     sections=sections, intervals=intervals)
        manifest["files"] = file_digests(folder)  # checked before the version serves
        (folder / MANIFEST).write_text(json.dumps(json_safe(manifest), indent=1, default=str, allow_nan=False))

    extra = {"data": str(request.data), "seed": request.seed, "device": pipeline.runtime.device(), "split": data.split,
             "floor": comparison, "intervals": intervals, "label_rates": manifest["label_rates"],
             **({"at_production_rate": manifest["at_production_rate"]} if manifest.get("at_production_rate") else {})}
    row = registry.register(
        NewVersion(task.name, pipeline.runtime_name, architecture.name, scores, data.fingerprint,
                   provenance(host, task.name, pipeline.runtime_name, extra)),
        write,
    )
    promoted = request.promote and (request.force or not loses(comparison))
    if promoted:
        registry.promote(task.name, row.version, force=request.force)
    elif request.promote:
        data.train.notes.append(f"not promoted: it loses to its classical floor beyond noise; `aiaas promote {task.name} {row.version} --force` "
                                f"serves it anyway")
    progress.update(step, advance=1, status="done")
    return TrainResult(row, scores, registry.folder(row) / "report" / "report.html", promoted, comparison,
                       [asdict(r) for r in board] if auto else [], data.train.notes, manifest["input_checks"], intervals)


def _calibration_fact(calibration: dict[str, Any] | None, errors: dict[str, float], check: dict[str, Any] | None = None) -> str:
    fitted = bool(calibration) and not calibration.get("prior_only")  # type: ignore[union-attr]
    how = ("temperature scaling (T = {temperature:.3f})".format(**calibration) if fitted and "temperature" in calibration else  # type: ignore[operator]
           "Platt scaling" if fitted else "none")
    if check:
        how += (f"; {'kept' if check['kept'] else 'not applied'}: out-of-fold validation calibration error "
                f"{check['validation_before']:.4f} without, {check['validation_after']:.4f} with it")
    if calibration and ("prior_shift" in calibration or "shift" in calibration):
        how += "; corrected for production's label rate (--prior)"
    if errors:
        how += f"; expected calibration error on test {errors['before']:.4f} before, {errors['after']:.4f} after"
    return how


UNITS = {"tabular": "rows", "image": "images", "text": "documents", "sequence": "sequences"}


def rows_fact(rows: dict[str, int], modality: str, instances: list[int]) -> str:
    """The split sizes in the data's own unit, with the model's instances where a record becomes several (windows)."""
    unit = UNITS.get(modality, "records")
    text = " · ".join(f"{name} {count:,}" for name, count in rows.items()) + f" {unit}"
    if instances and list(rows.values()) != instances and len(instances) == len(rows):
        text += " (model instances, windows of them: " + " · ".join(f"{name} {n:,}" for name, n in zip(rows, instances)) + ")"
    return text


def operating_fact(point: dict[str, Any] | None) -> str:
    if not point:
        return "n/a (the model's answer is its most likely label)"
    text = f"threshold {point['threshold']:.4g} ({point.get('policy', '')}" + (f", target {point['target']:g}" if point.get("target") else "") + ")"
    achieved = point.get("validation") or {}
    if achieved:
        text += "; on validation: " + ", ".join(f"{k.replace('_', ' ')} {v:.3f}" for k, v in achieved.items())
    return text + (f"; {point['note']}" if point.get("note") else "")


def setting_fact(setting: dict[str, Any]) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {v:.4g}" if isinstance(v, float) else f"{k.replace('_', ' ')} {v}" for k, v in setting.items())


def _production_fact(at: dict[str, float]) -> str:
    return (f"at a positive rate of {at['rate']:.3%}: precision {at['precision']:.4f}, recall {at['recall']:.4f}, "
            f"PR-AUC {at['average_precision']:.4f} (the test split reweighted to that rate)")


def checks_fact(summary: dict[str, Any] | None) -> str:
    if not summary:
        return "none apply to this task and model"
    return (f"{', '.join(summary['detectors'])}; threshold {summary['threshold']:.3g}, "
            f"flagging {summary['validation_flagged']:.1%} of {summary['validation_rows']:,} validation inputs")


def data_section(ready: Prepared) -> str:
    """The report's "data" section: the columns a table model used, and those it ignored with the reason."""
    import html

    meta = ready.pre_state.meta
    if "columns" not in meta:
        return ""
    used = [f"<tr><td>{html.escape(c['name'])}</td><td>used</td><td>{html.escape(c['kind'])}</td></tr>"
            for c in meta["columns"] if c["kind"] != "identifier"]
    ignored = [f"<tr><td>{html.escape(str(name))}</td><td>ignored</td><td>{html.escape(reason)}</td></tr>"
               for name, reason in {**{c["name"]: "looks like an identifier" for c in meta["columns"] if c["kind"] == "identifier"},
                                    **meta.get("ignored", {})}.items()]
    return f"<h2>Data</h2><table><tr><th>column</th><th></th><th>kind or reason</th></tr>{''.join(used + ignored)}</table>"
