"""Every input check of a model together: fitted on the training split, calibrated on
validation, saved with the model, and asked about each batch it answers.

Each detector's scores are divided by its own scale (its 99th percentile on
validation, or its ``floor`` when that is higher), so the detectors speak in one
unit; a record's novelty is its largest such ratio. The threshold is the novelty
that about 1% of ordinary (validation) records pass, so about 1% are flagged.
A record is flagged when its novelty is above the threshold or a detector is
``definite`` about it; the reasons name the detectors that flagged it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, Field

from aiaas.novelty.base import Finding, Sample, Scores
from aiaas.state import State

if TYPE_CHECKING:
    import pandas as pd

    from aiaas.pipeline import Pipeline
    from aiaas.plugins import Host
    from aiaas.records import Task

STEM = "input_checks"
ALPHA = 0.01
"""The share of ordinary inputs the threshold is chosen to flag."""
ANY = "*"


class InputCheckResult(BaseModel):
    """How much an input is like what the model was trained on."""

    in_distribution: bool = Field(description="false when the input is unlike the training data: treat the answer with care")
    novelty: float = Field(ge=0, description="how unlike the training data the input is; above the threshold it is flagged")
    threshold: float = Field(description="the novelty about 1% of ordinary inputs pass, chosen on validation data")
    reasons: list[str] = Field(description="what makes the input unusual, when it is flagged")


@dataclass
class Guard:
    """The fitted checks of one model version."""

    detectors: dict[str, Any]
    states: dict[str, State]
    scales: dict[str, float]
    threshold: float
    refuse: tuple[str, ...]
    meta: dict[str, Any]
    validation_novelty: np.ndarray | None = field(default=None, repr=False)
    """The novelty of the validation inputs (while training only): the reference that live novelty drifts from."""

    def check(self, sample: Sample, scores: dict[str, Scores] | None = None) -> Finding:
        """The verdict on a batch (``scores``: the detectors' own, when already computed)."""
        if scores is None:
            scores = {name: detector.score(sample, self.states[name]) for name, detector in self.detectors.items()}
        n = len(sample.records)
        novelty = np.max(np.stack([s.values / self.scales[name] for name, s in scores.items()]), axis=0) if scores else np.zeros(n)
        reasons: list[list[str]] = [[] for _ in range(n)]
        refused: list[str | None] = [None] * n
        flagged = novelty > self.threshold
        definite = np.zeros(n, dtype=bool)
        for name, s in scores.items():
            hits = s.values / self.scales[name] > self.threshold
            if s.definite is not None:
                hits |= s.definite
                definite |= s.definite
            for i in np.flatnonzero(hits):
                reason = s.reason(int(i))
                reasons[i].append(reason)
                if refused[i] is None and (name in self.refuse or ANY in self.refuse):
                    refused[i] = reason
            flagged |= hits
        return Finding(novelty, flagged, definite, reasons, refused)

    def answers(self, finding: Finding) -> list[dict[str, Any]]:
        threshold = round(self.threshold, 4)
        return [{"in_distribution": not bool(f), "novelty": round(float(v), 4), "threshold": threshold, "reasons": r}
                for v, f, r in zip(finding.novelty, finding.flagged, finding.reasons)]

    def summary(self) -> dict[str, Any]:
        """What the manifest and the report say about the checks."""
        return {**self.meta, "threshold": round(self.threshold, 4), "detectors": list(self.detectors),
                "scales": {k: round(v, 6) for k, v in self.scales.items()}}

    # -- persistence --------------------------------------------------------------

    def state(self) -> State:
        arrays = {f"{name}/{k}": v for name, st in self.states.items() for k, v in st.arrays.items()}
        detectors = {name: {"scale": self.scales[name], "meta": st.meta} for name, st in self.states.items()}
        return State({**self.meta, "threshold": self.threshold, "detectors": detectors}, arrays)

    def save(self, folder: Path) -> None:
        self.state().save(folder, STEM)

    @classmethod
    def load(cls, host: Host, task: Task, folder: Path) -> Guard | None:
        """None for a version trained before input checks existed (its answers carry no check)."""
        if not (folder / f"{STEM}.json").is_file():
            return None
        saved = State.load(folder, STEM)
        available = {c.name: c for c in host.input_checks(task)}
        detectors, states, scales = {}, {}, {}
        for name, entry in saved.meta["detectors"].items():
            if name not in available:  # the plugin that gave it is gone: the others still answer
                continue
            detectors[name] = host.instance("input_check", name, available[name].impl)
            if hasattr(detectors[name], "warm"):  # load what it needs now, not during the first request
                detectors[name].warm()
            states[name] = State(entry["meta"], {k.split("/", 1)[1]: v for k, v in saved.arrays.items() if k.startswith(f"{name}/")})
            scales[name] = float(entry["scale"])
        meta = {k: v for k, v in saved.meta.items() if k not in ("threshold", "detectors")}
        return cls(detectors, states, scales, float(saved.meta["threshold"]), task.refuse_unfamiliar, meta)


def fit_guard(host: Host, task: Task, pipeline: Pipeline, train: tuple[pd.DataFrame, np.ndarray | None],
              validation: pd.DataFrame, max_rows: int = 5000) -> Guard | None:
    """Fit every check that applies on (a sample of) the training split; calibrate on validation."""
    records, labels = train
    if len(records) > max_rows:
        keep = np.sort(np.random.default_rng(0).choice(len(records), max_rows, replace=False))
        records, labels = records.iloc[keep], None if labels is None else np.asarray(labels)[keep]
    if len(validation) > max_rows:
        validation = validation.iloc[np.sort(np.random.default_rng(1).choice(len(validation), max_rows, replace=False))]
    fitting = Sample(records.reset_index(drop=True), pipeline, labels)
    detectors, states = {}, {}
    for record in host.input_checks(task):
        detector = host.instance("input_check", record.name, record.impl)
        state = detector.fit(fitting)
        if state is not None:
            detectors[record.name], states[record.name] = detector, state
    if not detectors or validation.empty:
        return None
    ordinary = Sample(validation.reset_index(drop=True), pipeline)
    scores = {name: detector.score(ordinary, states[name]) for name, detector in detectors.items()}  # scored once
    scales = {name: max(float(np.quantile(s.values, 1 - ALPHA)), float(detectors[name].floor), 1e-9) for name, s in scores.items()}
    guard = Guard(detectors, states, scales, float("inf"), task.refuse_unfamiliar, {})
    novelty = guard.check(ordinary, scores).novelty
    guard.threshold = max(float(np.quantile(novelty, 1 - ALPHA)), 1.0)
    guard.validation_novelty = novelty
    finding = guard.check(ordinary, scores)
    guard.meta = {"alpha": ALPHA, "validation_rows": len(validation), "validation_flagged": round(float(finding.flagged.mean()), 4)}
    return guard
