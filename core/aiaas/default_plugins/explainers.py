"""The core's explainers: feature ablation for tables (any runtime); Grad-CAM for
images and integrated-gradient token attributions for text (PyTorch); exact
contributions from classical models (TreeSHAP for trees, weights for TF-IDF)."""

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
        ),
        Explainer(
            name="grad-cam",
            modality="image",
            impl="aiaas.explainers.gradcam:GradCam",
            runtimes=("torch",),
            description="Grad-CAM heatmap of the model's last convolutional stage (Captum), as a grayscale PNG "
            "the size of the input image.",
        ),
        Explainer(
            name="token-attributions",
            modality="text",
            impl="aiaas.explainers.tokens:TokenAttributions",
            runtimes=("torch",),
            description="Integrated gradients on the token embeddings (Captum): each word's signed weight "
            "towards the answered label.",
        ),
        Explainer(
            name="tree-contributions",
            modality="tabular",
            impl="aiaas.explainers.exact:TreeContributions",
            runtimes=("classical",),
            description="Exact TreeSHAP contributions of gradient-boosted trees, per column, in probability: one call per batch.",
        ),
        Explainer(
            name="linear-word-weights",
            modality="text",
            impl="aiaas.explainers.exact:LinearWordWeights",
            runtimes=("classical",),
            description="Each word's exact share of a TF-IDF linear model's logit for the answered label.",
        ),
    ]
