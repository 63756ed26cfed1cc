"""The image floor: logistic regression on grayscale pixels averaged down to a small
grid (16x16 by default), standardised on the training split. Any image model is
expected to beat it; the report says by how much."""

from __future__ import annotations

from typing import Any

import numpy as np

from aiaas.classical.base import Estimator, Selection
from aiaas.classical.linear import fit_linear, linear_logits, strengths_of
from aiaas.runtimes.base import Arrays, FitConfig, ModelSpec


def downsample(images: np.ndarray, grid: int) -> np.ndarray:
    """(n, channels, h, w) -> (n, grid*grid): the channel mean, averaged over equal cells."""
    gray = images.mean(axis=1)
    n, h, w = gray.shape
    rows, cols = np.linspace(0, h, grid + 1).astype(int), np.linspace(0, w, grid + 1).astype(int)
    cells = [gray[:, rows[i]:max(rows[i + 1], rows[i] + 1), cols[j]:max(cols[j + 1], cols[j] + 1)].mean(axis=(1, 2))
             for i in range(grid) for j in range(grid)]
    return np.stack(cells, axis=1) if n else np.zeros((0, grid * grid), dtype=np.float32)


class PixelsLinear(Estimator):
    def _features(self, inputs: Arrays) -> np.ndarray:
        x = downsample(next(iter(inputs.values())), int(self.params.get("grid", 16)))
        return (x - self.arrays["mean"]) / self.arrays["std"]

    def fit(self, train: tuple[Arrays, np.ndarray, np.ndarray], validation: tuple[Arrays, np.ndarray],
            config: FitConfig, selection: Selection) -> list[dict[str, float]]:
        raw = downsample(next(iter(train[0].values())), int(self.params.get("grid", 16)))
        self.arrays = {"mean": raw.mean(axis=0).astype("float32"), "std": np.maximum(raw.std(axis=0), 1e-6).astype("float32")}
        weights, history = fit_linear(self._features(train[0]), train[1], train[2], self._features(validation[0]), self.spec.kind,
                                      self.spec.outputs, selection, strengths_of(self.params))
        self.arrays.update(weights)
        return history

    def logits(self, inputs: Arrays) -> np.ndarray:
        return linear_logits(self._features(inputs), self.arrays)


def build(spec: ModelSpec, params: dict[str, Any]) -> PixelsLinear:
    return PixelsLinear(spec, params)
