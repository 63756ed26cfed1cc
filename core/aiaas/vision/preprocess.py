"""The ``image`` preprocessor: decoded pixels -> a normalised (n, 3, size, size) batch.

Fitted on the training split: the side length (``--option image_size=N``, else the
median short side of the training images, kept between 28 and 224), whether the
model sees colour, and the per-channel mean and standard deviation. Grayscale is
repeated into three channels so ImageNet-shaped networks and weights fit. Images
are resized without cropping, so a heatmap maps back onto the whole original image.
Augmentation is not done here: it belongs to training only, and the architectures
apply it inside the model while it is in training mode.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from aiaas.errors import InvalidInput
from aiaas.state import State

MIN_SIZE, MAX_SIZE = 28, 224
COLUMN = "image"


def resize(pixels: np.ndarray, size: int, color: str) -> np.ndarray:
    """uint8 pixels -> float32 (size, size, 3) in [0, 1]."""
    from PIL import Image

    image = Image.fromarray(pixels)
    image = image.convert("RGB" if color == "rgb" else "L")
    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.BILINEAR)
    out = np.asarray(image, dtype=np.float32) / 255.0
    return np.repeat(out[:, :, None], 3, axis=2) if out.ndim == 2 else out


class ImagePreprocessor:
    """Fitted in two parts: the side length and the colour from summaries that add up across parts
    of the data (``summarize``, ``merge``, ``finish``: how many training images have each short side,
    and whether any has colour), so out-of-core and cluster training see every training image; the
    per-channel statistics from at most 2,000 training images at that size (they barely move past a
    few thousand)."""

    def fit(self, records: pd.DataFrame, labels: pd.Series | None, options: dict[str, Any] | None = None) -> State:
        return self.finish(self.summarize(records, labels, options), records, labels, options)

    def summarize(self, records: pd.DataFrame, labels: pd.Series | None, options: dict[str, Any] | None = None) -> dict[str, Any]:
        if COLUMN not in records.columns:
            raise InvalidInput(f"image records need an {COLUMN!r} column; got {', '.join(map(str, records.columns))}")
        sides: dict[int, int] = {}
        for image in records[COLUMN]:
            side = int(min(image.shape[:2]))
            sides[side] = sides.get(side, 0) + 1
        return {"sides": sides, "rgb": any(image.ndim == 3 for image in records[COLUMN])}

    def merge(self, one: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
        sides = dict(one["sides"])
        for side, n in other["sides"].items():
            sides[side] = sides.get(side, 0) + n
        return {"sides": sides, "rgb": one["rgb"] or other["rgb"]}

    def finish(self, summary: dict[str, Any], records: pd.DataFrame, labels: pd.Series | None,
               options: dict[str, Any] | None = None) -> State:
        """``records``: the training images, or a sample of them (the statistics read at most 2,000)."""
        options = options or {}
        if not summary["sides"] or COLUMN not in records.columns or not len(records):
            raise InvalidInput("no training images to fit the image preprocessor on")
        median = np.median(np.repeat(list(summary["sides"]), list(summary["sides"].values())))
        try:
            size = int(options.get("image_size") or np.clip(median, MIN_SIZE, MAX_SIZE))
        except (TypeError, ValueError):
            raise InvalidInput(f"image_size must be a whole number of pixels, got {options.get('image_size')!r}") from None
        if not 8 <= size <= 1024:
            raise InvalidInput(f"image_size {size} is outside 8..1024")
        color = "rgb" if summary["rgb"] else "gray"
        sample = records[COLUMN].iloc[np.random.default_rng(0).permutation(len(records))[:2000]]
        stacked = np.stack([resize(image, size, color) for image in sample])
        mean = stacked.mean(axis=(0, 1, 2))
        std = np.maximum(stacked.std(axis=(0, 1, 2)), 1e-3)
        return State({"column": COLUMN, "size": size, "color": color, "mean": mean.tolist(), "std": std.tolist()})

    def transform(self, records: pd.DataFrame, state: State) -> dict[str, np.ndarray]:
        meta = state.meta
        size, color = int(meta["size"]), meta["color"]
        if len(records) == 0:
            return {COLUMN: np.zeros((0, 3, size, size), dtype=np.float32)}
        batch = np.stack([resize(image, size, color) for image in records[COLUMN]])
        batch = (batch - np.asarray(meta["mean"], dtype=np.float32)) / np.asarray(meta["std"], dtype=np.float32)
        return {COLUMN: np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32)}

    def input_model(self, state: State, default: Any) -> Any:
        return default
