"""From probabilities to the answer a shop's analyst reads."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from aiaas import classification_calls
from aiaas_retail.schemas import ReviewAnalysis, WordWeight

if TYPE_CHECKING:
    import pandas as pd

    from aiaas import Batch, Pipeline


class ReviewAnswer:
    def fit(self, pipeline: Pipeline, records: pd.DataFrame, probabilities: np.ndarray, y: np.ndarray) -> dict[str, Any]:
        return {}

    def answer(self, batch: Batch) -> list[ReviewAnalysis]:
        pipeline, p = batch.pipeline, batch.probabilities
        names = pipeline.labels.names
        pre, state = pipeline.preprocessor, pipeline.pre_state
        counts, limit = pre.token_counts(batch.records, state), pre.max_length(state)
        words = batch.explanations if batch.explain and pipeline.explainer is not None else [None] * len(p)
        stars = names if all(n.isdigit() for n in names) else None
        out = []
        for i, call in enumerate(classification_calls(pipeline, p)):
            explanation = words[i]
            out.append(ReviewAnalysis(
                label=call.label,
                probabilities=call.probabilities,
                confidence=call.probabilities[call.label],
                stars=round(float(sum(int(n) * v for n, v in call.probabilities.items())), 2) if stars else None,
                truncated=bool(counts[i] > limit),
                tokens=int(counts[i]),
                max_tokens=limit,
                words=[WordWeight(**w) for w in explanation["top"]] if explanation else None,
            ))
        return out
