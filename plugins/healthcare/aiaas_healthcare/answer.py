"""From calibrated probabilities to the answer a reader of images gets."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from aiaas_healthcare.schemas import Finding, Heatmap, ImageFindings, OperatingPoint

if TYPE_CHECKING:
    import pandas as pd

    from aiaas.pipeline import Batch, Pipeline


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
        for i, record in enumerate(batch.records.to_dict(orient="records")):
            if p.ndim == 1:
                positive = pipeline.labels.positive or names[1]
                negative = next(n for n in names if n != positive)
                q = float(p[i])
                probabilities = {negative: round(1 - q, 6), positive: round(q, 6)}
                findings = [Finding(label=positive, probability=round(q, 6), present=q >= pipeline.threshold)]
                decision = positive if q >= pipeline.threshold else negative
            else:
                probabilities = {n: round(float(v), 6) for n, v in zip(names, p[i])}
                decision = names[int(np.argmax(p[i]))]
                findings = [Finding(label=n, probability=v, present=n == decision)
                            for n, v in sorted(probabilities.items(), key=lambda kv: -kv[1])]
            explanation = heatmaps[i]
            out.append(ImageFindings(
                filename=str(record.get("path") or "image"),
                decision=decision,
                probabilities=probabilities,
                findings=findings,
                operating_point=operating,
                heatmap=Heatmap(label=explanation["label"], **explanation["heatmap"]) if explanation else None,
                metadata=record.get("metadata") if isinstance(record.get("metadata"), dict) else None,
            ))
        return out
