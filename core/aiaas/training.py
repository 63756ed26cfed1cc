"""How a model is born: adapter -> split -> preprocess -> fit -> calibrate -> evaluate -> register.

Everything here is the same for every task and runtime; the task's records supply
the domain parts (adapter, label schema, processors, architecture, metrics).
"""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass, field, fields, replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from aiaas import labels as label_codec
from aiaas.calibration import calibrated, choose_threshold, fit_platt
from aiaas.loading import fingerprint, instances, load_data
from aiaas.errors import InvalidInput, UserError
from aiaas.evaluation import plots, write_report
from aiaas.integrity import file_digests
from aiaas.metrics import compute, observed, score_for_selection
from aiaas.monitoring.reference import reference, score_of
from aiaas.pipeline import MANIFEST, PREPROCESSOR_STATE, Pipeline
from aiaas.plugins import Host
from aiaas.dataset import Dataset
from aiaas.records import LabelSchema, OperatingPolicy, Task, resolve
from aiaas.registry import ModelVersion, NewVersion, Registry
from aiaas.runtimes.base import FitConfig, ModelSpec
from aiaas.splits import split
from aiaas.state import State, json_safe
from aiaas.reports import report_figures

FIT_KEYS = {f.name for f in fields(FitConfig)} | {"patience"}


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


@dataclass
class TrainResult:
    version: ModelVersion
    metrics: dict[str, float]
    report: Path
    promoted: bool


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


def fit_model(runtime: Any, model: Any, spec: ModelSpec, config: FitConfig, patience: int, train: tuple[dict, np.ndarray], val: tuple[dict, np.ndarray],
              metric: str, kind: str, progress: Progress) -> list[dict[str, float]]:
    """Epochs with early stopping on the validation metric; the best epoch's weights are kept."""
    trainer = runtime.trainer(model, spec, config)
    weights = class_weights(train[1], kind)
    history: list[dict[str, float]] = []
    best, best_snapshot, waited = float("-inf"), None, 0
    bar = progress.add_task("training", total=config.epochs, status="")
    for epoch in range(1, config.epochs + 1):
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


def new_progress(quiet: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description:<12}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("{task.fields[status]}"), disable=quiet,
    )


@dataclass
class Prepared:
    """The data after the split, and the model inputs the fitted preprocessor made."""

    train: Dataset
    validation: Dataset
    test: Dataset
    y: tuple[np.ndarray, np.ndarray, np.ndarray]
    split: str
    pre_state: State
    inputs: tuple[dict[str, np.ndarray], dict[str, np.ndarray]]
    spec: ModelSpec
    fingerprint: str
    schema: LabelSchema


def prepare(host: Host, task: Task, request: TrainRequest, preprocessor: Any) -> Prepared:
    """Load, pick the label schema, encode labels, split by the task's policy, fit the preprocessor on train only."""
    dataset = load_data(host, task.name, request.data, request.label, request.adapter, request.options)
    schema = host.label_schema(task, resolve(task.choose_labels)(dataset.labels) if task.choose_labels else None)
    y = label_codec.encode(schema, dataset.labels, request.label or task.label_column)
    parts = split(dataset.records, y, task.split, request.seed)
    train_set, val_set, test_set = (dataset.take(ix) for ix in (parts.train, parts.validation, parts.test))
    if schema.kind == "binary" and y[parts.train].sum() == 0:
        raise InvalidInput(f"the training split has no {schema.positive!r} examples; the model cannot learn that label")
    pre_state = preprocessor.fit(train_set.records, train_set.labels, options=request.options)
    if hasattr(preprocessor, "training_instances"):  # records become model instances after the split (sequence windows)
        train_set, val_set, test_set = (instances(preprocessor, s, pre_state) for s in (train_set, val_set, test_set))
        ys = tuple(label_codec.encode(schema, s.labels, request.label or task.label_column) for s in (train_set, val_set, test_set))
    else:
        ys = (y[parts.train], y[parts.validation], y[parts.test])
    x_train = preprocessor.transform(train_set.records, pre_state)
    x_val = preprocessor.transform(val_set.records, pre_state)
    spec = ModelSpec(
        inputs={k: tuple(v.shape[1:]) for k, v in x_train.items()},
        outputs=schema.outputs, kind=schema.kind, dtypes={k: str(v.dtype) for k, v in x_train.items()},
        hints=preprocessor.model_hints(pre_state) if hasattr(preprocessor, "model_hints") else {},
    )
    return Prepared(train_set, val_set, test_set, ys, parts.description,
                    pre_state, (x_train, x_val), spec, fingerprint(dataset), schema)


def train(host: Host, registry: Registry, request: TrainRequest, quiet: bool = False) -> TrainResult:
    task = host.task(request.task)
    architecture = host.architecture(task, request.architecture, request.runtime)
    preprocessor = host.preprocessor(task, architecture)
    params = {**architecture.params, **request.params}
    fit_params = {k: params.pop(k) for k in list(params) if k in FIT_KEYS}
    policy = operating_policy(task, params.pop("operating_target", None))
    patience = int(fit_params.pop("patience", 5))
    if request.epochs is not None:
        if request.epochs < 1:
            raise UserError("--epochs must be at least 1")
        fit_params["epochs"] = request.epochs
    config = FitConfig(**{**fit_params, "seed": request.seed})
    if request.weights is not None and not request.weights.is_file():
        raise UserError(f"--weights {request.weights}: no such file")

    with new_progress(quiet) as progress:
        step = progress.add_task("preparing", total=4, status="loading data, fitting the preprocessor on the training split")
        data = prepare(host, task, request, preprocessor)
        schema = data.schema
        (x_train, x_val), (y_train, y_val, y_test) = data.inputs, data.y
        progress.update(step, advance=1, status=f"building {architecture.name} on {architecture.runtime}")
        runtime = host.runtime(architecture.runtime)  # imports torch / tensorflow: after the data is known good
        runtime.seed(request.seed)
        model = runtime.build(architecture, data.spec, params)
        initial = runtime.initialise(model, request.weights) if request.weights else None
        history = fit_model(runtime, model, data.spec, config, patience, (x_train, y_train), (x_val, y_val), task.metrics[0], schema.kind, progress)

        progress.update(step, advance=1, status="calibrating and evaluating on the test split")
        val_logits = runtime.predict_logits(model, x_val)
        platt = fit_platt(*reversed(observed(y_val, val_logits))) if schema.kind in ("binary", "sequence") else None
        p_val = calibrated(val_logits, schema.kind, platt)
        operating = choose_threshold(y_val, p_val, policy) if schema.kind == "binary" else {}
        rows = {"train": len(y_train), "validation": len(y_val), "test": len(y_test)}
        manifest: dict[str, Any] = {
            "task": task.name, "labels": schema.name, "label_schema_version": schema.version,
            "label_column": request.label or task.label_column, "runtime": runtime.name, "architecture": architecture.name,
            "params": params, "fit": asdict(config), "spec": data.spec.to_json(), "calibration": platt,
            "operating_point": operating, "split": data.split, "rows": rows, "history": history, "notes": data.train.notes,
            "initial_weights": initial,
        }
        pipeline = Pipeline(task, schema, runtime.name, runtime, model, preprocessor, data.pre_state,
                            host.postprocessor(task), manifest, host.explainer(task, runtime.name))
        manifest["postprocessor"] = pipeline.postprocessor.fit(pipeline, data.validation.records, p_val, y_val)
        manifest["reference"] = reference(data.train.records, score_of(observed(y_val, p_val)[1]))  # what drift is measured against
        p_test = pipeline.probabilities(data.test.records)
        scores = compute(task.metrics, y_test, p_test, pipeline.threshold)
        manifest["metrics"] = scores
        images = plots(schema, y_test, p_test, pipeline.threshold, history, task.metrics[0])
        images.update(report_figures(pipeline, data.test.records, y_test, p_test))

        def write(folder: Path) -> None:
            runtime.save(model, folder)
            data.pre_state.save(folder, PREPROCESSOR_STATE)
            write_report(folder / "report", f"{task.name} — {architecture.name} on {runtime.name}",
                         {"data": str(request.data), "rows": rows, "split": data.split,
                          "operating point": operating or "n/a", "epochs run": len(history),
                          **({"notes": "; ".join(data.train.notes)} if data.train.notes else {})}, scores, images)
            manifest["files"] = file_digests(folder)  # checked before the version serves
            (folder / MANIFEST).write_text(json.dumps(json_safe(manifest), indent=1, default=str, allow_nan=False))

        progress.update(step, advance=1, status="registering")
        extra = {"data": str(request.data), "seed": request.seed, "device": runtime.device(), "split": data.split}
        row = registry.register(
            NewVersion(task.name, runtime.name, architecture.name, scores, data.fingerprint,
                       provenance(host, task.name, runtime.name, extra)),
            write,
        )
        if request.promote:
            registry.promote(task.name, row.version)
    return TrainResult(row, scores, registry.folder(row) / "report" / "report.html", request.promote)
