"""Checks for images: a colour image sent to a model trained on grayscale ones, pixel
statistics unlike the training images (noise, photographs, other kinds of scan),
and a class-conditional Mahalanobis distance in the model's own feature space."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from aiaas.novelty import distance
from aiaas.novelty.base import Sample, Scores, fmt
from aiaas.state import State

COLUMN = "image"
SIDE = 32
STATISTICS = (["brightness layout"] * 64 + ["brightness distribution"] * 16
              + ["contrast", "edge strength", "noise level", "noise to edge ratio", "shape"])


def colourfulness(pixels: np.ndarray) -> float:
    """Mean spread between an image's channels, 0 for grayscale, in [0, 1]."""
    if pixels.ndim != 3 or pixels.shape[2] < 3:
        return 0.0
    rgb = pixels[..., :3].astype("float32")
    return float((rgb.max(axis=2) - rgb.min(axis=2)).mean() / 255.0)


class Colour:
    """Applies when every training image is grayscale."""

    floor = 0.03

    def fit(self, sample: Sample) -> State | None:
        if COLUMN not in sample.records or any(colourfulness(p) > 0.01 for p in sample.records[COLUMN]):
            return None
        return State({"trained_on": "grayscale"})

    def score(self, sample: Sample, state: State) -> Scores:
        values = np.array([colourfulness(p) for p in sample.records[COLUMN]])
        return Scores(values, lambda i: "a colour image; the model was trained on grayscale images")


def statistics(pixels: np.ndarray) -> np.ndarray:
    """What an image looks like in a few numbers: an 8x8 thumbnail, a 16-bin histogram,
    contrast, edge strength, high-frequency noise, and the aspect ratio."""
    from PIL import Image

    gray = pixels if pixels.ndim == 2 else pixels[..., :3].mean(axis=2)
    small = np.asarray(Image.fromarray(np.asarray(gray, dtype=np.uint8)).resize((SIDE, SIDE), Image.Resampling.BILINEAR),
                       dtype="float64") / 255.0
    thumbnail = small.reshape(8, SIDE // 8, 8, SIDE // 8).mean(axis=(1, 3)).ravel()
    histogram = np.histogram(small, bins=16, range=(0, 1))[0] / small.size
    gy, gx = np.gradient(small)
    edges = float(np.hypot(gx, gy).mean())
    laplacian = np.abs(4 * small[1:-1, 1:-1] - small[:-2, 1:-1] - small[2:, 1:-1] - small[1:-1, :-2] - small[1:-1, 2:]).mean()
    shape = np.log(pixels.shape[0] / max(pixels.shape[1], 1))
    return np.concatenate([thumbnail, histogram, [small.std(), edges, laplacian, laplacian / (edges + 1e-3), shape]])


def _reason(what: str, d: np.ndarray, worst: np.ndarray, names: list[str] | None) -> Callable[[int], str]:
    return lambda i: f"{what} (distance {fmt(round(float(d[i]), 1))}{', most of all its ' + names[worst[i]] if names else ''})"


class PixelStatistics:
    """A Mahalanobis distance on each image's pixel statistics: any runtime, no model call."""

    floor = 0.0

    def fit(self, sample: Sample) -> State | None:
        if COLUMN not in sample.records or len(sample.records) < 10:
            return None
        return State({}, distance.fit(np.stack([statistics(p) for p in sample.records[COLUMN]])))

    def score(self, sample: Sample, state: State) -> Scores:
        x = np.stack([statistics(p) for p in sample.records[COLUMN]])
        d = distance.distance(x, state.arrays)
        return Scores(d, _reason("pixel statistics unlike the training images", d, distance.largest_deviation(x, state.arrays), STATISTICS))


class EmbeddingDistance:
    """A class-conditional Mahalanobis distance on the model's own features (the input of
    its last layer), for runtimes that give them."""

    floor = 0.0

    def fit(self, sample: Sample) -> State | None:
        x = sample.embeddings
        if x is None or len(x) < 10:
            return None
        return State({"features": int(x.shape[1])}, distance.fit(x, sample.labels))

    def score(self, sample: Sample, state: State) -> Scores:
        x = sample.embeddings
        if x is None:
            return Scores(np.zeros(len(sample.records)), lambda i: "")
        d = distance.distance(x, state.arrays)
        return Scores(d, _reason("unlike the training data in the model's own features", d, np.zeros(len(d), dtype=int), None))
