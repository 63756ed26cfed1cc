"""A ready-made answer for classification tasks: the label and a probability per label.

A vertical with a richer answer (a risk score, a finding with a heatmap) writes its
own postprocessor; a plugin that only needs "which label, how sure" names
``classification`` and ``aiaas:Classification`` as its output model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, Field

if TYPE_CHECKING:
    import pandas as pd

    from aiaas.pipeline import Batch, Pipeline


class Classification(BaseModel):
    label: str = Field(description="the predicted label (at the operating threshold for a binary task)")
    probabilities: dict[str, float] = Field(description="probability of each label")


class ExplainedClassification(Classification):
    explanation: dict[str, Any] = Field(description="why: the task's explanation of this answer, naming the label it explains")


class ClassificationAnswer:
    def fit(self, pipeline: Pipeline, records: pd.DataFrame, probabilities: np.ndarray, y: np.ndarray) -> dict[str, Any]:
        return {}

    def answer(self, batch: Batch) -> list[Classification]:
        """Each label and its probabilities; with the explanation when the request asks (``"explain": true``)."""
        answers = classification_calls(batch.pipeline, batch.probabilities)
        if not batch.explain or (batch.pipeline.explainer is None and batch.pipeline.source is None):
            return answers
        return [ExplainedClassification(**a.model_dump(), explanation=e) for a, e in zip(answers, batch.explanations)]


def classification_calls(pipeline: Pipeline, p: np.ndarray) -> list[Classification]:
    """Each instance's label (binary: at the operating threshold) and probability per label;
    richer answers build on it."""
    names = pipeline.labels.names
    if p.ndim == 1:  # binary: the positive label's probability
        positive = pipeline.labels.positive or names[1]
        negative = next(n for n in names if n != positive)
        return [Classification(label=positive if q >= pipeline.threshold else negative,
                               probabilities={negative: round(1 - float(q), 6), positive: round(float(q), 6)}) for q in p]
    return [Classification(label=names[int(np.argmax(row))], probabilities={n: round(float(v), 6) for n, v in zip(names, row)})
            for row in p]


def __getattr__(name: str) -> object:
    from aiaas.deprecations import moved

    return moved(__name__, name)
