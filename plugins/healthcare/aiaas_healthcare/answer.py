"""From calibrated probabilities to the answer a reader of images gets."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from aiaas import classification_calls
from aiaas_healthcare.schemas import Finding, Heatmap, ImageFindings, OperatingPoint

if TYPE_CHECKING:
    import pandas as pd

    from aiaas import Batch, Pipeline


class FindingsAnswer:
    def fit(self, pipeline: Pipeline, records: pd.DataFrame, probabilities: np.ndarray, y: np.ndarray) -> dict[str, Any]:
        """What the operating point achieves on validation data, to quote in every answer."""
        if probabilities.ndim != 1 or len(np.unique(y)) < 2:
            return {}
        called = probabilities >= pipeline.threshold
        return {"validation_sensitivity": float(called[y == 1].mean()), "validation_specificity": float((~called[y == 0]).mean())}

    def answer(self, batch: Batch) -> list[ImageFindings]:
        pipeline, p = batch.pipeline, batch.probabilities
        names = pipeline.labels.names
        heatmaps = batch.explanations if batch.explain and pipeline.explainer is not None else [None] * len(p)
        operating = None
        if p.ndim == 1:
            target = pipeline.manifest.get("operating_point", {}).get("target")
            operating = OperatingPoint(threshold=round(pipeline.threshold, 6), target_sensitivity=target, **pipeline.post_state)
        out = []
        positive = pipeline.labels.positive or names[1]
        for i, (record, call) in enumerate(zip(batch.records.to_dict(orient="records"), classification_calls(pipeline, p))):
            if p.ndim == 1:  # one finding: the positive label
                findings = [Finding(label=positive, probability=call.probabilities[positive], present=call.label == positive)]
            else:
                findings = [Finding(label=n, probability=v, present=n == call.label)
                            for n, v in sorted(call.probabilities.items(), key=lambda kv: -kv[1])]
            explanation = heatmaps[i]
            out.append(ImageFindings(
                filename=str(record.get("path") or "image"),
                decision=call.label,
                probabilities=call.probabilities,
                findings=findings,
                operating_point=operating,
                heatmap=Heatmap(label=explanation["label"], **explanation["heatmap"]) if explanation else None,
                metadata=record.get("metadata") if isinstance(record.get("metadata"), dict) else None,
            ))
        return out
