"""Grad-CAM heatmaps for PyTorch image models (Captum's ``LayerGradCam``).

The layer is the model's ``cam_layer`` attribute when it names one (a ResNet's last
stage), else its last ``Conv2d``. A binary model's map shows the evidence for the
positive label whatever the decision, which is what a reader checks ("where does
the model see the finding?"); a multiclass model's shows the predicted label's.
Each map is upsampled to the original image's size and scaled to 0-255, and is
answered as a grayscale PNG, base64-encoded, of exactly the input's width and height.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from aiaas.vision.decode import encode_png

if TYPE_CHECKING:
    import torch

    from aiaas.pipeline import Pipeline


def cam_layer(model: torch.nn.Module) -> torch.nn.Module:
    import torch

    named = getattr(model, "cam_layer", None)
    if isinstance(named, torch.nn.Module):
        return named
    convolutions = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    if not convolutions:
        raise TypeError(f"{type(model).__name__} has no Conv2d layer for Grad-CAM; give it a cam_layer attribute")
    return convolutions[-1]


def heatmaps(pipeline: Pipeline, records: pd.DataFrame, targets: np.ndarray) -> list[np.ndarray]:
    """One float map in [0, 1] per record, of the record's own height and width."""
    import torch
    from captum.attr import LayerGradCam

    model = pipeline.model
    inputs = pipeline.preprocessor.transform(records, pipeline.pre_state)
    device = next(model.parameters()).device
    (column, values), = inputs.items()
    x = torch.as_tensor(values, device=device)
    explainer = LayerGradCam(lambda batch: model({column: batch}), cam_layer(model))
    with pipeline._lock, torch.enable_grad():
        model.eval()
        cams = explainer.attribute(x, target=[int(t) for t in targets], relu_attributions=True).detach()
    out = []
    for cam, image in zip(cams, records[column]):
        height, width = image.shape[:2]
        full = torch.nn.functional.interpolate(cam[None].float(), size=(height, width), mode="bilinear", align_corners=False)[0, 0]
        peak = float(full.max())
        out.append((full / peak).clamp(0, 1).cpu().numpy() if peak > 0 else np.zeros((height, width), dtype=np.float32))
    return out


class GradCam:
    def explain(self, pipeline: Pipeline, records: pd.DataFrame, probabilities: np.ndarray | None = None) -> list[dict[str, Any]]:
        p = probabilities if probabilities is not None else pipeline.probabilities(records)
        names = pipeline.labels.names
        if p.ndim == 1:
            label = pipeline.labels.positive or names[1]
            targets, explained, scores = np.zeros(len(p), dtype=int), [label] * len(p), p
        else:
            targets = p.argmax(axis=1)
            explained, scores = [names[t] for t in targets], p[np.arange(len(p)), targets]
        out = []
        for i, heat in enumerate(heatmaps(pipeline, records, targets)):
            row, column = np.unravel_index(int(heat.argmax()), heat.shape)
            out.append({
                "method": "grad-cam",
                "label": explained[i],
                "score": round(float(scores[i]), 6),
                "heatmap": {
                    "png_base64": base64.b64encode(encode_png(np.round(heat * 255).astype(np.uint8))).decode(),
                    "width": int(heat.shape[1]),
                    "height": int(heat.shape[0]),
                    "peak": {"x": int(column), "y": int(row)},
                    "area_over_half": round(float((heat >= 0.5).mean()), 4),
                },
            })
        return out
