"""``aiaas optimize``: a trained version exported to ONNX (and quantised to int8 when asked),
checked against the original on the version's own validation split, and registered as a
new version with its lineage, size, metric change and time per row.

The new version's folder keeps the source's files beside ``model.onnx``: answers come from
ONNX Runtime, and an explanation that needs the framework (a heatmap's gradients) is
asked of the source model. Quantisation is dynamic (weights in int8, activations
quantised as they come) for models of matrix products, and static, calibrated on training
inputs, for convolutional ones, where int8 convolutions are what makes them fast.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aiaas.errors import UserError
from aiaas.integrity import MANIFEST, file_digests
from aiaas.pipeline import Pipeline
from aiaas.plugins import Host
from aiaas.registry import ModelVersion, NewVersion, Registry
from aiaas.runtimes.base import Arrays, batches
from aiaas.state import json_safe

TARGETS = ("onnx",)
QUANTIZE = ("int8",)
TIMING_BATCH = 64


@dataclass
class Comparison:
    """The source and the optimised model on the same validation rows."""

    rows: int
    metric: str
    before: float
    after: float
    max_abs_difference: float
    """Largest difference of any logit."""
    agreement: float
    """Share of rows whose predicted label (at the operating point) is the same."""
    size_bytes: tuple[int, int]
    ms_per_row: tuple[float, float]


@dataclass
class Optimized:
    version: ModelVersion
    source: int
    quantize: str | None
    comparison: Comparison
    test_metrics: dict[str, float]


def optimize(host: Host, registry: Registry, task_name: str, version: int, to: str = "onnx", quantize: str | None = None,
             data: Path | None = None, label: str | None = None, adapter: str | None = None, options: dict[str, Any] | None = None,
             rows: int = 2000, promote: bool = False, say: Callable[[str], None] = lambda _: None) -> Optimized:
    from aiaas.versions import load_version

    if to not in TARGETS:
        raise UserError(f"--to {to}: aiaas exports to {', '.join(TARGETS)}")
    if quantize is not None and quantize not in QUANTIZE:
        raise UserError(f"--quantize {quantize}: aiaas quantises to {', '.join(QUANTIZE)}")
    if not host.runtime_installed("onnx"):
        raise UserError("optimising needs ONNX Runtime: pip install 'aiaas[onnx]'")
    task = host.task(task_name)
    row = registry.get(task.name, version)
    if row.runtime == "onnx":
        raise UserError(f"{task.name} version {version} is an optimised version already; optimise its source, version "
                        f"{row.provenance.get('optimized_from', '?')}")
    pipeline = load_version(host, registry, task.name, version)
    say(f"reading the validation and test splits of version {version}")
    splits = _splits(host, pipeline, row, data, label, adapter, options or {}, rows)
    with tempfile.TemporaryDirectory(prefix="aiaas-optimize-") as scratch:
        path = Path(scratch) / "model.onnx"
        say(f"exporting {row.architecture} ({row.runtime}) to ONNX")
        export(pipeline, splits["calibration"], path)
        onnx = host.runtime("onnx")
        if quantize:
            say("quantising to int8" + (" (static, calibrated on training inputs)" if onnx.convolutional(path) else " (dynamic)"))
            path = onnx.quantize_int8(path, splits["calibration"])
        say("checking the ONNX model against the original on validation rows")
        model = onnx.open(path)
        candidate = Pipeline(task, pipeline.labels, "onnx", onnx, model, pipeline.preprocessor, pipeline.pre_state,
                             pipeline.postprocessor, pipeline.manifest, version=None)
        comparison = compare(pipeline, candidate, splits["validation"], _size(registry.folder(row), row.runtime), model.size)
        test_records, y_test = splits["test"]
        from aiaas.metrics import compute

        test_metrics = compute(task.metrics, y_test, candidate.probabilities(test_records), pipeline.threshold)
        new = _register(host, registry, row, pipeline, path, quantize, comparison, test_metrics)
    if promote:
        registry.promote(task.name, new.version)
    return Optimized(new, version, quantize, comparison, test_metrics)


def _splits(host: Host, pipeline: Pipeline, row: ModelVersion, data: Path | None, label: str | None, adapter: str | None,
            options: dict[str, Any], rows: int) -> dict[str, Any]:
    """(records, y) of the version's validation and test splits (the training run's own, by its seed),
    and model inputs of training rows to calibrate quantisation."""
    from aiaas.labels import encode
    from aiaas.loading import as_trained, instances
    from aiaas.training import TrainRequest, load_split

    source = data or (Path(row.provenance["data"]) if row.provenance.get("data") else None)
    if source is None or not source.exists():
        raise UserError(f"the data version {row.version} was trained on ({source}) is not here; give it with --data FILE "
                        "(validation rows check the optimised model against the original)")
    label, adapter, options = as_trained(host, pipeline.manifest, source, label, adapter, options)
    request = TrainRequest(pipeline.task.name, source, label=label, adapter=adapter, options=options, seed=int(row.provenance.get("seed", 0)))
    loaded = load_split(host, pipeline.task, request, screens_columns=False)
    out: dict[str, Any] = {}
    for name, part in (("validation", loaded.validation), ("test", loaded.test), ("train", loaded.train)):
        cut = instances(pipeline.preprocessor, part, pipeline.pre_state)
        cut = cut.take(np.arange(min(len(cut), rows if name != "train" else 256)))
        out[name] = (cut.records, encode(pipeline.labels, cut.labels, label or pipeline.task.label_column))
    out["calibration"] = pipeline.preprocessor.transform(out.pop("train")[0], pipeline.pre_state)
    return out


def export(pipeline: Pipeline, sample: Arrays, path: Path) -> None:
    """Write the model as ONNX with outputs ``logits`` and, where the runtime gives it, ``embedding``."""
    if not hasattr(pipeline.runtime, "export_onnx"):
        raise UserError(f"{pipeline.runtime_name} models are not exported to ONNX: a {pipeline.manifest['architecture']} model is already "
                        "compact and fast on its own runtime; optimise a torch or tensorflow version")
    pipeline.runtime.export_onnx(pipeline.model, sample, path)


def ms_per_row(run: Callable[[Arrays], Any], inputs: Arrays, batch: int = TIMING_BATCH) -> float:
    """One pass over rows the model has not seen, in batches of ``batch``, as ms per row: the
    first batch warms up (first-call allocations), the rest are timed. One pass, because a
    model may remember what it computed (a frozen encoder's sentence vectors) and a second pass
    would time its memory rather than its arithmetic."""
    n = len(next(iter(inputs.values())))
    parts = [{k: v[part] for k, v in inputs.items()} for part in batches(n, batch)]
    run(parts[0])
    timed = parts[1:] or parts
    started = time.perf_counter()
    for part in timed:
        run(part)
    return 1000 * (time.perf_counter() - started) / max(sum(len(next(iter(p.values()))) for p in timed), 1)


def compare(source: Pipeline, optimised: Pipeline, validation: tuple[Any, np.ndarray], source_size: int, size: int) -> Comparison:
    from aiaas.calibration import calibrated
    from aiaas.metrics import compute

    records, y = validation
    inputs = source.inputs(records)
    timings = tuple(ms_per_row(lambda part, pipe=pipe: pipe.runtime.predict_logits(pipe.model, part), inputs) for pipe in (source, optimised))
    logits = [p.runtime.predict_logits(p.model, inputs) for p in (source, optimised)]
    kind, calibration = source.labels.kind, source.manifest.get("calibration")
    p = [calibrated(x, kind, calibration) for x in logits]
    metric = source.task.metrics[0]
    before, after = (compute((metric,), y, q, source.threshold)[metric] for q in p)
    predicted = [(q >= source.threshold) if q.ndim == 1 or kind in ("multilabel", "sequence") else q.argmax(-1) for q in p]
    return Comparison(len(y), metric, float(before), float(after), float(np.nanmax(np.abs(logits[0] - logits[1]))) if logits[0].size else 0.0,
                      float(np.mean(predicted[0] == predicted[1])), (source_size, size), timings)  # type: ignore[arg-type]


def _size(folder: Path, runtime: str) -> int:
    """Bytes of a version's model files (weights; not its preprocessing state, checks or report)."""
    names = {"torch": ("model.safetensors",), "tensorflow": ("model.keras",)}.get(runtime, ())
    return sum((folder / n).stat().st_size for n in names if (folder / n).is_file())


def _register(host: Host, registry: Registry, row: ModelVersion, pipeline: Pipeline, model: Path, quantize: str | None,
              comparison: Comparison, test_metrics: dict[str, float]) -> ModelVersion:
    from aiaas.evaluation import write_report
    from aiaas.training import provenance

    source_folder = registry.folder(row)
    optimized = {"from_version": row.version, "from_runtime": row.runtime, "to": "onnx", "quantize": quantize, **asdict(comparison)}
    manifest = {**pipeline.manifest, "runtime": "onnx", "optimized": optimized, "metrics": test_metrics}

    def write(folder: Path) -> None:
        for item in source_folder.iterdir():  # the source's files: preprocessing state, checks, and the weights explanations need
            if item.name not in (MANIFEST, "report") and item.is_file():
                shutil.copy2(item, folder / item.name)
        shutil.copy2(model, folder / "model.onnx")
        c = comparison
        facts = {"optimised from": f"version {row.version} ({row.architecture} on {row.runtime})",
                 "export": "ONNX" + (f", quantised to {quantize}" if quantize else ""),
                 "size": f"{c.size_bytes[1] / 1e6:.2f} MB, from {c.size_bytes[0] / 1e6:.2f} MB ({c.size_bytes[0] / max(c.size_bytes[1], 1):.1f}x smaller)",
                 "time per row": f"{c.ms_per_row[1]:.3f} ms, from {c.ms_per_row[0]:.3f} ms ({c.ms_per_row[0] / max(c.ms_per_row[1], 1e-9):.1f}x faster, "
                                 f"batches of {TIMING_BATCH})",
                 "validation": f"{c.metric} {c.after:.4f}, from {c.before:.4f} ({c.after - c.before:+.4f}) on {c.rows:,} rows; "
                               f"same label on {c.agreement:.1%}; largest logit difference {c.max_abs_difference:.2e}"}
        write_report(folder / "report", f"{row.task}: version {row.version} optimised", facts, test_metrics, {})
        manifest["files"] = file_digests(folder)
        (folder / MANIFEST).write_text(json.dumps(json_safe(manifest), indent=1, default=str, allow_nan=False))

    extra = {key: row.provenance[key] for key in ("data", "seed", "split", "floor") if key in row.provenance}
    return registry.register(NewVersion(row.task, "onnx", row.architecture, test_metrics, row.data_fingerprint,
                                        provenance(host, row.task, "onnx", {**extra, "optimized_from": row.version,
                                                                            "quantize": quantize})), write)
