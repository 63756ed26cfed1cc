"""Mahalanobis distance to the training data, with a shrunk covariance (Ledoit-Wolf)
so a few hundred rows of many features still give a usable, invertible estimate.

Class-conditional (Lee et al., 2018): one mean per class and one shared covariance
of the within-class spread; a record's distance is to its nearest class. Features
that never vary in training get a small fixed variance, so a record where one of
them moves is far.
"""

from __future__ import annotations

import numpy as np

MAX_ROWS = 5000


def fit(x: np.ndarray, classes: np.ndarray | None = None, prefix: str = "") -> dict[str, np.ndarray]:
    """Arrays (``{prefix}means``, ``{prefix}precision``, ``{prefix}scale``) that ``distance`` reads."""
    from sklearn.covariance import LedoitWolf

    x = np.asarray(x, dtype="float64").reshape(len(x), -1)
    if len(x) > MAX_ROWS:
        keep = np.random.default_rng(0).choice(len(x), MAX_ROWS, replace=False)
        x, classes = x[keep], None if classes is None else np.asarray(classes)[keep]
    scale = x.std(axis=0)
    scale = np.where(scale > 1e-9, scale, max(float(np.median(scale[scale > 1e-9])) if (scale > 1e-9).any() else 1.0, 1e-3) * 0.1)
    z = (x - x.mean(axis=0)) / scale
    groups = [np.arange(len(z))] if classes is None else [np.flatnonzero(np.asarray(classes) == c) for c in np.unique(classes)]
    groups = [g for g in groups if len(g) >= 2] or [np.arange(len(z))]
    means = np.stack([z[g].mean(axis=0) for g in groups])
    residuals = np.concatenate([z[g] - z[g].mean(axis=0) for g in groups])
    covariance = LedoitWolf(assume_centered=True).fit(residuals).covariance_
    precision = np.linalg.pinv(covariance, hermitian=True)
    return {f"{prefix}means": (means * scale + x.mean(axis=0)).astype("float64"), f"{prefix}precision": precision.astype("float64"),
            f"{prefix}scale": scale.astype("float64")}


def distance(x: np.ndarray, arrays: dict[str, np.ndarray], prefix: str = "") -> np.ndarray:
    """Each row's distance to the nearest class mean, in standard deviations."""
    x = np.asarray(x, dtype="float64").reshape(len(x), -1)
    means, precision, scale = arrays[f"{prefix}means"], arrays[f"{prefix}precision"], arrays[f"{prefix}scale"]
    best = np.full(len(x), np.inf)
    with np.errstate(over="ignore", invalid="ignore"):
        for mean in means:
            d = (x - mean) / scale
            best = np.minimum(best, np.einsum("ij,jk,ik->i", d, precision, d))
    return np.sqrt(np.nan_to_num(np.clip(best, 0, None), nan=np.inf))


def largest_deviation(x: np.ndarray, arrays: dict[str, np.ndarray], prefix: str = "") -> np.ndarray:
    """Per row, the feature furthest from its nearest class mean in standard deviations (for a reason)."""
    x = np.asarray(x, dtype="float64").reshape(len(x), -1)
    means, scale = arrays[f"{prefix}means"], arrays[f"{prefix}scale"]
    deviations = np.min(np.stack([np.abs(x - m) / scale for m in means]), axis=0)
    return np.argmax(deviations, axis=1)
