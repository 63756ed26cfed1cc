"""A report figure for image tasks: test images with their heatmaps, so a person can
see what the model looks at when it is right and when it is wrong."""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from aiaas.pipeline import Pipeline


def pick(y: np.ndarray, p: np.ndarray, threshold: float, per_kind: int = 2) -> list[tuple[int, str]]:
    """The surest hits and the worst misses: (index, caption kind)."""
    called = (p >= threshold).astype(int) if p.ndim == 1 else p.argmax(axis=1)
    score = p if p.ndim == 1 else p.max(axis=1)
    chosen: list[tuple[int, str]] = []
    for kind, mask, order in (("right", called == y, -score), ("wrong", called != y, -score)):
        index = np.flatnonzero(mask)
        for i in index[np.argsort(order[index])][: per_kind * 2]:
            chosen.append((int(i), kind))
    return chosen


def heatmap_gallery(pipeline: Pipeline, records: pd.DataFrame, y: np.ndarray, p: np.ndarray) -> bytes | None:
    if pipeline.explainer is None or len(records) == 0:
        return None
    chosen = pick(y, p, pipeline.threshold)
    explanations = pipeline.explain(records.iloc[[i for i, _ in chosen]].reset_index(drop=True), p[[i for i, _ in chosen]])
    if not explanations or "heatmap" not in explanations[0]:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    names = pipeline.labels.names
    truth = [names[int(v)] if pipeline.labels.kind != "binary" else (pipeline.labels.positive if v else next(
        n for n in names if n != pipeline.labels.positive)) for v in y]
    fig, axes = plt.subplots(1, len(chosen), figsize=(2.2 * len(chosen), 2.6), dpi=100, squeeze=False)
    for ax, (i, kind), explanation in zip(axes[0], chosen, explanations):
        image = records["image"].iloc[i]
        heat = np.asarray(Image.open(io.BytesIO(base64.b64decode(explanation["heatmap"]["png_base64"]))))
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None)
        ax.imshow(heat, cmap="jet", alpha=0.35, vmin=0, vmax=255)
        score = p[i] if p.ndim == 1 else p[i].max()
        ax.set_title(f"{kind}: {truth[i]}\np={score:.2f} ({explanation.get('label', '')})", fontsize=8,
                     color="tab:green" if kind == "right" else "tab:red")
        ax.axis("off")
    fig.suptitle("Grad-CAM on test images: surest right and wrong calls", fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()
