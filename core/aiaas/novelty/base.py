"""What a detector sees and what it says."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from aiaas.pipeline import Pipeline
    from aiaas.state import State


@dataclass(eq=False)
class Sample:
    """A batch of records as a detector sees it. ``labels`` are given while fitting only.
    ``inputs`` and ``embeddings`` are made on first use and shared with the model call."""

    records: pd.DataFrame
    pipeline: Pipeline
    labels: np.ndarray | None = None

    @cached_property
    def inputs(self) -> dict[str, np.ndarray]:
        return self.pipeline.inputs(self.records)

    @cached_property
    def columns(self) -> dict[str, np.ndarray]:
        """Each column's numpy array, taken from the frame once for every detector."""
        from aiaas.tabular import columns_of

        return columns_of(self.records)

    @cached_property
    def embeddings(self) -> np.ndarray | None:
        """The model's own features of each record (the input of its last layer), when its runtime gives them."""
        return self.pipeline.embeddings(self.records)


@dataclass
class Scores:
    """One score per record, larger meaning less like the training data; 0 is ordinary.

    ``reason(i)`` says in a few words why record ``i`` scored as it did (asked only of
    flagged records). ``definite`` marks records flagged whatever their score: facts
    rather than degrees (a CT slice sent to a radiograph model, a text with no words)."""

    values: np.ndarray
    reason: Callable[[int], str]
    definite: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.values = np.nan_to_num(np.asarray(self.values, dtype="float64"), nan=0.0, posinf=1e12).clip(0, 1e12)


class Detector(Protocol):
    """``fit`` returns the detector's state, or None when it does not apply to this model
    (a colour check for a model trained on colour images). ``floor`` is the smallest score
    that can count as unusual, for a detector whose validation scores are nearly all 0."""

    floor: float

    def fit(self, sample: Sample) -> State | None: ...

    def score(self, sample: Sample, state: State) -> Scores: ...


@dataclass
class Finding:
    """A batch's combined verdict: novelty per record, whether it is flagged (and whether a
    check was definite about it), the reasons of the flagged and, for a record the task
    refuses, the reason it is refused."""

    novelty: np.ndarray
    flagged: np.ndarray
    definite: np.ndarray
    reasons: list[list[str]]
    refused: list[str | None] = field(default_factory=list)

    def ranking(self) -> np.ndarray:
        """A score that orders records from most ordinary to most foreign: novelty, with
        the records a check was definite about above all others (for ROC curves)."""
        return np.where(self.definite, np.inf, self.novelty)


def fmt(value: Any) -> str:
    """A number as a person reads it in a reason."""
    if isinstance(value, (int, np.integer)) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e15):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        return f"{value:.3g}"
    return str(value)
