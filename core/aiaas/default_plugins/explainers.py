"""Model-agnostic explanations that work on any runtime."""

from __future__ import annotations

from aiaas import hookimpl
from aiaas.records import Explainer


@hookimpl
def register_explainers() -> list[Explainer]:
    return [
        Explainer(
            name="feature-ablation",
            modality="tabular",
            impl="aiaas.explainers.ablation:FeatureAblation",
            description="Signed per-column attribution: the change in probability when a column "
            "is replaced by its training baseline (median or most frequent value).",
        )
    ]
