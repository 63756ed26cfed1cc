"""Held-out evaluation: metrics and an HTML report with plots a person can read."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aiaas import metrics as metric_fns
from aiaas.intervals import interval_text
from aiaas.records import LabelSchema
from aiaas.reports import figure_png

if TYPE_CHECKING:
    from aiaas.plugins import Host
    from aiaas.registry import Registry


def plots(labels: LabelSchema, y: np.ndarray, p: np.ndarray, threshold: float, history: list[dict[str, float]] | None,
          metric: str = "validation metric") -> dict[str, bytes]:
    """PNG plots by file name: curves and a confusion matrix for classifiers, the training history."""
    from sklearn.metrics import confusion_matrix, precision_recall_curve, roc_curve

    out: dict[str, bytes] = {}
    kind = labels.kind
    unit = "rows"
    if kind == "sequence":  # the scored steps, as one binary problem
        y, p = metric_fns.observed(y, p)
        kind, unit = "binary", "scored steps"
    two_classes = len(np.unique(y)) == 2
    if kind == "binary" and two_classes:
        precision, recall, _ = precision_recall_curve(y, p)
        fpr, tpr, _ = roc_curve(y, p)

        def pr(ax: Any) -> None:
            ax.plot(recall, precision)
            ax.axhline(y.mean(), ls="--", c="grey", label=f"no skill ({y.mean():.3f})")
            ax.set(xlabel="recall", ylabel="precision", title="Precision-recall (test)")
            ax.legend()

        def roc(ax: Any) -> None:
            ax.plot(fpr, tpr)
            ax.plot([0, 1], [0, 1], ls="--", c="grey")
            ax.set(xlabel="false-positive rate", ylabel="true-positive rate", title="ROC (test)")

        def reliability(ax: Any) -> None:
            edges = np.linspace(0, 1, 11)
            which = np.clip(np.digitize(p, edges) - 1, 0, 9)
            filled = [b for b in range(10) if (which == b).any()]
            xs = [p[which == b].mean() for b in filled]
            ys = [y[which == b].mean() for b in filled]
            ax.plot([0, 1], [0, 1], ls="--", c="grey")
            ax.plot(xs, ys, marker="o")
            for x, y_, b in zip(xs, ys, filled):  # how many rows each point stands for: a point of 3 rows is noise
                ax.annotate(f"n={int((which == b).sum()):,}", (x, y_), textcoords="offset points", xytext=(4, -10), fontsize=8)
            ax.set(xlabel="predicted probability", ylabel="observed frequency", title=f"Calibration (test, {len(y):,} {unit})")

        out.update({"pr_curve.png": figure_png(pr), "roc_curve.png": figure_png(roc), "calibration.png": figure_png(reliability)})
    if kind in ("binary", "multiclass"):
        predicted = (p >= threshold).astype(int) if p.ndim == 1 else p.argmax(axis=1)
        names = labels.names if kind == "multiclass" else tuple(n for n in labels.names if n != labels.positive) + (labels.positive or labels.names[1],)
        matrix = confusion_matrix(y, predicted, labels=list(range(len(names))))

        def confusion(ax: Any) -> None:
            ax.imshow(matrix, cmap="Blues")
            for (i, j), v in np.ndenumerate(matrix):
                ax.text(j, i, str(v), ha="center", va="center", color="white" if v > matrix.max() / 2 else "black")
            ax.set_xticks(range(len(names)), names)
            ax.set_yticks(range(len(names)), names)
            title = f"Confusion at threshold {threshold:.3f}" if kind == "binary" else "Confusion (test)"
            ax.set(xlabel="predicted", ylabel="true", title=title)

        out["confusion_matrix.png"] = figure_png(confusion)
    if history:
        out.update(training_curve(history, metric))
    return out


def training_curve(history: list[dict[str, float]], metric: str) -> dict[str, bytes]:
    """The training curve of whatever a model's fit records: loss and validation metric by epoch, training
    and validation loss by boosting round (the chosen round marked), or the validation metric by the
    regularisation a linear model tried."""
    label = f"validation {metric_fns.DESCRIPTIONS.get(metric, metric)}"
    if "epoch" in history[0]:

        def curve(ax: Any) -> None:
            epochs = [h["epoch"] for h in history]
            ax.plot(epochs, [h["loss"] for h in history], label="training loss")
            ax.set(xlabel="epoch", ylabel="loss", title="Training")
            twin = ax.twinx()
            twin.plot(epochs, [h["validation"] for h in history], c="tab:orange", label=label)
            twin.set_ylabel(label)
            ax.legend(loc="upper left")
            twin.legend(loc="lower right")

        return {"training.png": figure_png(curve)}
    rounds = [h for h in history if "validation_loss" in h]
    if rounds:
        chosen = next((h["round"] for h in history if "validation" in h and "round" in h), None)

        def boosting(ax: Any) -> None:
            xs = [h["round"] for h in rounds]
            ax.plot(xs, [h.get("training_loss", float("nan")) for h in rounds], label="training loss")
            ax.plot(xs, [h["validation_loss"] for h in rounds], label="validation loss")
            if chosen:
                ax.axvline(chosen, ls="--", c="grey", label=f"kept: {int(chosen)} rounds")
            ax.set(xlabel="boosting round", ylabel="loss", title="Boosting curve")
            ax.legend()

        return {"training.png": figure_png(boosting)}
    tried = [h for h in history if "C" in h]
    if tried:

        def path(ax: Any) -> None:
            ax.plot([h["C"] for h in tried], [h["validation"] for h in tried], marker="o")
            ax.set_xscale("log")
            ax.set(xlabel="C (inverse regularisation)", ylabel=label, title="Regularisation tried")

        return {"training.png": figure_png(path)}
    return {}


def write_report(folder: Path, title: str, facts: dict[str, Any], scores: dict[str, float], images: dict[str, bytes],
                 heading: str = "Metrics on held-out data", sections: str = "", intervals: dict[str, list[float] | None] | None = None) -> Path:
    """report.html (plots embedded, so the one file can be mailed) plus the PNG files; each metric with its
    95% interval (``intervals``) when given."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in images.items():
        (folder / name).write_bytes(data)
    bounds = intervals or {}
    rows = "".join(
        f"<tr><td>{html.escape(metric_fns.DESCRIPTIONS.get(k, k))}</td><td>{v:.4f}</td><td>{interval_text(bounds.get(k), 4) or 'n/a'}</td></tr>"
        for k, v in scores.items()
    )
    fact_rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td{' class=worse' if 'loses to the floor' in str(v) else ''}>"
                        f"{html.escape(str(v))}</td></tr>" for k, v in facts.items())
    figures = "".join(
        f'<figure><img src="data:image/png;base64,{base64.b64encode(data).decode()}" alt="{name}"><figcaption>{name}</figcaption></figure>'
        for name, data in images.items()
    )
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:4px 10px}}.worse{{color:#b00020;font-weight:bold}}figure{{display:inline-block;margin:0 1em 1em 0}}</style></head>
<body><h1>{html.escape(title)}</h1><h2>{html.escape(heading)}</h2><table><tr><th>metric</th><th>value</th><th>95% interval (bootstrap)</th></tr>{rows}</table>
<h2>About this model</h2><table>{fact_rows}</table>{sections}<h2>Plots</h2>{figures}</body></html>"""
    path = folder / "report.html"
    path.write_text(page)
    return path


@dataclass
class Evaluation:
    """A version scored on a labelled file: every row, and the rows it never learned from on their own."""

    version: int | None
    metrics: dict[str, float]
    intervals: dict[str, list[float] | None]
    report: Path
    rows: int
    seen: int | None = None
    """How many rows the version was trained or validated on (None: a version without a fingerprint)."""
    unseen_metrics: dict[str, float] | None = None
    unseen_intervals: dict[str, list[float] | None] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "metrics": self.metrics, "intervals": self.intervals, "rows": self.rows, "seen_rows": self.seen,
                "unseen": None if self.unseen_metrics is None else {"rows": self.rows - (self.seen or 0), "metrics": self.unseen_metrics,
                                                                    "intervals": self.unseen_intervals},
                "report": str(self.report)}

    @property
    def warning(self) -> str | None:
        if not self.seen:
            return None
        unseen = self.rows - self.seen
        return (f"{self.seen:,} of {self.rows:,} rows were in version {self.version}'s training or validation data: the metrics over "
                f"all rows flatter it. " + (f"On the {unseen:,} rows it never saw they are shown apart." if unseen else
                                            "No row here is new to it, so this measures its memory, not its skill."))


def evaluate_version(host: Host, registry: Registry, task: str, data: Path, version: int | None, label: str | None,
                     adapter: str | None, options: dict[str, Any]) -> Evaluation:
    """Score a registered version on labelled data at its own operating point, with 95% intervals; tell the
    rows it learned from apart from new ones (its fingerprint of seen rows); write a report."""
    from aiaas.intervals import metric_intervals
    from aiaas.labels import encode
    from aiaas.loading import as_trained, instances, load_data
    from aiaas.seen import SeenRows
    from aiaas.settings import get_settings
    from aiaas.splits import groups_of
    from aiaas.versions import load_version

    pipeline = load_version(host, registry, task, version)
    label, adapter, options = as_trained(host, pipeline.manifest, data, label, adapter, options)
    loaded = load_data(host, task, data, label, adapter, options)
    fingerprint = SeenRows.load(registry.folder(registry.get(task, pipeline.version)), pipeline.manifest.get("seen_rows", {}))  # type: ignore[arg-type]
    known = fingerprint is not None and all(c in loaded.records.columns for c in fingerprint.columns)
    seen = fingerprint.contains(loaded.records) if known else np.zeros(len(loaded), dtype=bool)  # type: ignore[union-attr]

    def score(part: Any) -> tuple[dict[str, float], dict[str, list[float] | None], Any, np.ndarray, np.ndarray]:
        dataset = instances(pipeline.preprocessor, part, pipeline.pre_state)
        y = encode(pipeline.labels, dataset.labels, label or pipeline.task.label_column)
        p = pipeline.probabilities(dataset.records)
        scores = metric_fns.compute(pipeline.task.metrics, y, p, pipeline.threshold)
        groups = groups_of(dataset.records, pipeline.task.split)
        return scores, metric_intervals(pipeline.task.metrics, y, p, pipeline.threshold, groups), dataset, y, p

    scores, intervals, scored, y, p = score(loaded)
    result = Evaluation(pipeline.version, scores, intervals, Path(), len(loaded), int(seen.sum()) if known else None)
    if known and seen.any() and not seen.all():
        result.unseen_metrics, result.unseen_intervals, *_ = score(loaded.take(np.flatnonzero(~seen)))
    from aiaas.reports import report_figures

    folder = get_settings().home / "reports" / task.replace("/", "__") / f"v{pipeline.version}-{datetime.now():%Y%m%d-%H%M%S}"
    images = {**plots(pipeline.labels, y, p, pipeline.threshold, None), **report_figures(pipeline, scored.records, y, p)}
    facts: dict[str, Any] = {"data": str(data), "rows": len(loaded),
                             "rows the version learned from": ("unknown: it was trained before versions kept a fingerprint of their rows"
                                                               if fingerprint is None else f"{result.seen:,}" if known else
                                                               "unknown: this file lacks columns the version was trained on")}
    if result.warning:
        facts["warning"] = result.warning
    if result.unseen_metrics is not None:
        facts["on the unseen rows only"] = "; ".join(f"{k} {v:.4f}" for k, v in result.unseen_metrics.items())
    result.report = write_report(folder, f"{task} version {pipeline.version} on {data.name}", facts, scores, images, intervals=intervals)
    return result
