"""Figures a task adds to its evaluation report beyond the curves every task gets:
Grad-CAM galleries for image tasks, and whatever the task's own ``report`` names
(a knowledge-tracing task's per-skill AUC and mastery heatmap)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from aiaas.records import resolve

if TYPE_CHECKING:
    import pandas as pd

    from aiaas.pipeline import Pipeline


def report_figures(pipeline: Pipeline, records: pd.DataFrame, y: np.ndarray, p: np.ndarray) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    if pipeline.task.modality == "image":
        from aiaas.vision.gallery import heatmap_gallery

        gallery = heatmap_gallery(pipeline, records, y, p)
        if gallery:
            out["heatmaps.png"] = gallery
    if pipeline.task.report is not None:
        out.update(resolve(pipeline.task.report)(pipeline, records, y, p))
    return out


def figure_png(draw: Any, size: tuple[float, float] = (4.8, 4.0), panels: int = 1) -> bytes:
    """One matplotlib figure drawn by ``draw(ax)`` (``draw(axes)`` for several panels side by side), as PNG bytes."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, panels, figsize=size, dpi=100, squeeze=panels == 1)
    draw(axes if panels == 1 else list(axes[0]))
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()
