"""``aiaas monitor``: how a task does in production, from the prediction log.

Per version: predictions, how many were flagged by their input check, feedback received and the metrics that feedback allows
(AUC and Brier score from the answers' probabilities against the true labels;
accuracy where an answer names its label). Drift of the inputs and of the score
against the reference the production version saved at training (PSI; see
``aiaas.monitoring.reference``). A task that logs no inputs has score drift only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from aiaas.errors import UserError
from aiaas.monitoring.reference import drift, shares_like
from aiaas.records import LabelSchema

if TYPE_CHECKING:
    from aiaas.monitoring.predictions import Prediction, PredictionLog
    from aiaas.plugins import Host
    from aiaas.registry import Registry

UNITS = {"m": 60, "h": 3600, "d": 86400}


def since(text: str) -> datetime:
    """``30m``, ``24h``, ``7d`` ago, or an ISO date or time."""
    if text[:-1].replace(".", "", 1).isdigit() and text[-1] in UNITS:
        return datetime.now(UTC) - timedelta(seconds=float(text[:-1]) * UNITS[text[-1]])
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(f"--since {text!r}: give 30m, 24h, 7d or an ISO date such as 2026-11-01") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def live_score(answer: dict[str, Any], labels: LabelSchema) -> float | None:
    """The probability an answer gives, comparable with the reference's scores."""
    probabilities = answer.get("probabilities")
    if isinstance(probabilities, dict) and probabilities:
        if labels.kind == "binary":
            return probabilities.get(labels.positive or labels.names[1])
        return max(probabilities.values())
    for key, value in answer.items():
        if key.endswith("probability") and isinstance(value, (int, float)):
            return float(value)
    nested = answer.get("next")
    return float(nested["probability"]) if isinstance(nested, dict) and "probability" in nested else None


@dataclass
class VersionReport:
    version: int
    predictions: int
    feedback: int
    metrics: dict[str, float] = field(default_factory=dict)
    flagged: int = 0
    """Answers whose input check said the input was unlike the training data."""
    role: str = ""
    """production, canary or shadow (as logged); empty for a version served before."""
    agreement: float | None = None
    """A shadow's or canary's share of answers whose label is production's for the same input."""


@dataclass
class Monitoring:
    task: str
    since: datetime
    versions: list[VersionReport]
    production: int | None
    drift: dict[str, float]
    notes: list[str]
    images: dict[str, bytes] = field(default_factory=dict)
    answers: list[Prediction] = field(default_factory=list, repr=False)
    """The logged answers read (for a caller that draws them over time); not part of ``to_json``."""

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "since": self.since.isoformat(), "production": self.production, "drift": self.drift,
                "versions": [v.__dict__ for v in self.versions], "notes": self.notes}


def _metrics(rows: list[Prediction], truth: dict[str, str], labels: LabelSchema) -> dict[str, float]:
    from sklearn.metrics import brier_score_loss, roc_auc_score

    judged = [(r, truth[r.id]) for r in rows if r.id in truth]
    out: dict[str, float] = {}
    named = [(r.answer.get("label"), t) for r, t in judged if "label" in r.answer]
    if named:
        out["accuracy"] = float(np.mean([a == t for a, t in named]))
    if labels.kind in ("binary", "sequence"):
        positive = labels.positive or labels.names[1]
        pairs = [(live_score(r.answer, labels), t == positive) for r, t in judged]
        pairs = [(s, y) for s, y in pairs if s is not None]
        if pairs:
            scores, ys = np.array([s for s, _ in pairs]), np.array([y for _, y in pairs], dtype=int)
            out["brier"] = float(brier_score_loss(ys, scores))
            if 0 < ys.mean() < 1:
                out["roc_auc"] = float(roc_auc_score(ys, scores))
    return out


def _flagged(row: Prediction) -> bool:
    check = row.answer.get("input_check")
    return isinstance(check, dict) and check.get("in_distribution") is False


def _rollout(row: Prediction) -> dict[str, Any]:
    value = row.answer.get("rollout")
    return value if isinstance(value, dict) else {}


def _role(rows: list[Prediction], production: bool) -> str:
    roles = {_rollout(r).get("role") for r in rows}
    return "shadow" if "shadow" in roles else "canary" if "canary" in roles else "production" if production else ""


def _agreement(rows: list[Prediction], everything: list[Prediction]) -> float | None:
    """How often a shadow's label matches the answer it shadows, or a canary's matches production
    on the same input (by the input's fingerprint)."""
    mine = [r for r in rows if _rollout(r)]
    if not mine:
        return None
    by_id = {r.id: r for r in everything}
    by_input = {r.fingerprint: r for r in everything if not _rollout(r)}
    pairs = [(r, by_id.get(_rollout(r).get("of", "")) or by_input.get(r.fingerprint)) for r in mine]
    same = [r.answer.get("label") == other.answer.get("label") for r, other in pairs if other is not None and "label" in r.answer]
    return float(np.mean(same)) if same else None


def reference_of(registry: Registry, task: str, version: int) -> dict[str, Any]:
    manifest = json.loads((registry.folder(registry.get(task, version)) / "manifest.json").read_text())
    return manifest.get("reference", {})


def monitor(host: Host, registry: Registry, log: PredictionLog, task_name: str, start: datetime, figures: bool = True,
            newest: int | None = None) -> Monitoring:
    """``newest``: read only that many of the window's latest answers (the notes say so when the window held more)."""
    task = host.task(task_name)
    rows, truth = log.since(task.name, start, newest)
    production = registry.alias(task.name)
    notes: list[str] = []
    if newest is not None and len(rows) >= newest:
        notes.append(f"the answers' figures below read the newest {newest:,} answers of the window, from {rows[0].at:%Y-%m-%d %H:%M}")
    labels = host.label_schema(task)
    by_version: dict[int, list[Prediction]] = {}
    for row in rows:
        by_version.setdefault(row.version, []).append(row)
    truth = {**truth, **{r.id: truth[_rollout(r)["of"]] for r in rows if _rollout(r).get("of") in truth}}  # feedback reaches a shadow
    versions = [VersionReport(v, len(rs), sum(r.id in truth for r in rs), _metrics(rs, truth, labels), sum(map(_flagged, rs)),
                              _role(rs, v == production), _agreement(rs, rows))
                for v, rs in sorted(by_version.items())]
    found: dict[str, float] = {}
    images: dict[str, bytes] = {}
    live = by_version.get(production or -1, [])
    if production is None:
        notes.append("no version is promoted")
    elif not live:
        notes.append(f"no logged predictions of version {production} since {start:%Y-%m-%d %H:%M}")
    else:
        ref = reference_of(registry, task.name, production)
        if not ref:
            notes.append(f"version {production} was trained before references were saved: retrain to measure drift")
        else:
            records = pd.DataFrame([r.inputs for r in live if r.inputs is not None])
            if records.empty:
                notes.append(f"{task.name} logs no inputs (only their fingerprints): drift of the score only")
            scores = np.array([s for s in (live_score(r.answer, labels) for r in live) if s is not None])
            novelty = np.array([r.answer["input_check"]["novelty"] for r in live if isinstance(r.answer.get("input_check"), dict)])
            found = drift(ref, records, scores, novelty)
            if figures:
                images = _figures(ref, records, scores, found, novelty)
    return Monitoring(task.name, start, versions, production, found, notes, images, rows)


def _figures(ref: dict[str, Any], records: pd.DataFrame, scores: np.ndarray, found: dict[str, float],
             novelty: np.ndarray | None = None) -> dict[str, bytes]:
    from aiaas.monitoring.reference import features
    from aiaas.reports import figure_png

    out: dict[str, bytes] = {}
    if found:
        ranked = sorted(found.items(), key=lambda kv: -kv[1])[:25]

        def bars(ax: Any) -> None:
            ax.barh([k for k, _ in ranked], [v for _, v in ranked], color=["tab:red" if v > 0.25 else "tab:orange" if v > 0.1 else "tab:green"
                                                                          for _, v in ranked])
            ax.axvline(0.1, ls="--", c="grey")
            ax.axvline(0.25, ls="--", c="black")
            ax.invert_yaxis()
            ax.set(xlabel="PSI against training (0.1 moderate, 0.25 major)", title="Drift by feature")

        out["drift.png"] = figure_png(bars, size=(6.0, max(3.0, 0.25 * len(ranked) + 1.2)))
    shown = [("score", ref.get("scores"), pd.Series(scores)), ("novelty", ref.get("novelty"), pd.Series(novelty, dtype="float64"))] + [
        (name, ref["features"].get(name), values) for name, values in features(records).items() if name in ref.get("features", {})][:5]
    for name, spec, values in shown:
        if spec is None or not len(values):
            continue
        expected, actual, bins = shares_like(spec, values)

        def compare(ax: Any, expected: list[float] = expected, actual: list[float] = actual, bins: list[str] = bins, name: str = name) -> None:
            x = np.arange(len(bins))
            ax.bar(x - 0.2, expected, 0.4, label="training")
            ax.bar(x + 0.2, actual, 0.4, label="live")
            ax.set_xticks(x, bins, rotation=60, fontsize=7, ha="right")
            ax.set(ylabel="share", title=f"{name}: PSI {found.get(name, float('nan')):.3f}")
            ax.legend()

        out[f"distribution_{name.replace('/', '_')}.png"] = figure_png(compare, size=(5.5, 3.8))
    return out


def write_monitoring_report(result: Monitoring, folder: Path) -> Path:
    from aiaas.evaluation import write_report

    facts: dict[str, Any] = {"since": f"{result.since:%Y-%m-%d %H:%M} UTC", "production version": result.production}
    for v in result.versions:
        facts[f"version {v.version}" + (f" ({v.role})" if v.role else "")] = f"{v.predictions} predictions ({v.flagged} flagged as unlike training), {v.feedback} with feedback; " + (
            ", ".join(f"{k} {val:.3f}" for k, val in v.metrics.items()) or "no feedback metrics yet") + (
            f"; agrees with production on {v.agreement:.1%}" if v.agreement is not None else "")
    facts.update({f"note {i + 1}": n for i, n in enumerate(result.notes)})
    scores = {f"PSI {k}": v for k, v in sorted(result.drift.items(), key=lambda kv: -kv[1])}
    return write_report(folder, f"{result.task} in production", facts, scores, result.images,
                        heading="Drift against training (PSI: below 0.1 stable, 0.1-0.25 moderate, above 0.25 major)")


class DriftGauges:
    """Keeps ``aiaas_drift_psi{task, feature}`` on /metrics current: a thread recomputes drift
    from the prediction log every ``interval`` seconds (over the last ``window``)."""

    def __init__(self, host: Host, registry: Registry, log: PredictionLog, gauge: Any, interval: float, window: timedelta) -> None:
        self.host, self.registry, self.log, self.gauge, self.interval, self.window = host, registry, log, gauge, interval, window

    def start(self) -> None:
        import threading

        threading.Thread(target=self._loop, name="aiaas drift", daemon=True).start()

    def _loop(self) -> None:
        import logging
        import time

        while True:
            time.sleep(self.interval)
            try:
                self.refresh()
            except Exception:
                logging.getLogger("aiaas.monitoring").exception("drift refresh failed")

    def refresh(self) -> None:
        for name in self.host.components.tasks:
            if self.registry.alias(name) is None:
                continue
            for feature, value in monitor(self.host, self.registry, self.log, name, datetime.now(UTC) - self.window, figures=False).drift.items():
                self.gauge.labels(name, feature).set(value)
