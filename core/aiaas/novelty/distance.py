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


def fit(x: np.ndarray, classes: np.ndarray | None = None, prefix: str = "", min_scale: float = 0.0) -> dict[str, np.ndarray]:
    """Arrays (``{prefix}means``, ``{prefix}precision``, ``{prefix}scale``) that ``distance`` reads.
    ``min_scale`` bounds a feature's unit from below: a one-hot column of a rare but known
    category would otherwise put every row that has it many deviations away."""
    from sklearn.covariance import LedoitWolf

    x = np.asarray(x, dtype="float64").reshape(len(x), -1)
    if len(x) > MAX_ROWS:
        keep = np.random.default_rng(0).choice(len(x), MAX_ROWS, replace=False)
        x, classes = x[keep], None if classes is None else np.asarray(classes)[keep]
    scale = x.std(axis=0)
    scale = np.where(scale > 1e-9, scale, max(float(np.median(scale[scale > 1e-9])) if (scale > 1e-9).any() else 1.0, 1e-3) * 0.1)
    scale = np.maximum(scale, min_scale)
    z = (x - x.mean(axis=0)) / scale
    groups = [np.arange(len(z))] if classes is None else [np.flatnonzero(np.asarray(classes) == c) for c in np.unique(classes)]
    groups = [g for g in groups if len(g) >= 2] or [np.arange(len(z))]
    means = np.stack([z[g].mean(axis=0) for g in groups])
    residuals = np.concatenate([z[g] - z[g].mean(axis=0) for g in groups])
    covariance = LedoitWolf(assume_centered=True).fit(residuals).covariance_
    precision = np.linalg.pinv(covariance, hermitian=True)
    return {f"{prefix}means": (means * scale + x.mean(axis=0)).astype("float64"), f"{prefix}precision": precision.astype("float64"),
            f"{prefix}covariance": covariance.astype("float64"), f"{prefix}scale": scale.astype("float64")}


_MARGINALS: dict[tuple[int, bytes], np.ndarray] = {}


def _marginal_precision(arrays: dict[str, np.ndarray], prefix: str, observed: np.ndarray) -> np.ndarray:
    """The precision of the observed features alone (a Gaussian's marginal), once per pattern."""
    covariance = arrays[f"{prefix}covariance"]
    key = (id(covariance), np.packbits(observed).tobytes())
    if key not in _MARGINALS:
        if len(_MARGINALS) > 256:
            _MARGINALS.clear()
        _MARGINALS[key] = np.linalg.pinv(covariance[np.ix_(observed, observed)], hermitian=True)
    return _MARGINALS[key]


def distance(x: np.ndarray, arrays: dict[str, np.ndarray], prefix: str = "", observed: np.ndarray | None = None) -> np.ndarray:
    """Each row's distance to the nearest class mean, in standard deviations. ``observed``
    (rows x features, bool) leaves out features a row did not have (imputed by the model's
    preprocessing): the distance is then over the features it had."""
    x = np.asarray(x, dtype="float64").reshape(len(x), -1)
    means, precision, scale = arrays[f"{prefix}means"], arrays[f"{prefix}precision"], arrays[f"{prefix}scale"]
    best = np.full(len(x), np.inf)
    patterns = [(np.ones(x.shape[1], dtype=bool), np.arange(len(x)))]
    if observed is not None and f"{prefix}covariance" in arrays and not observed.all():
        groups: dict[bytes, list[int]] = {}  # rows by which features they had (np.unique on rows costs more here)
        for i, key in enumerate(np.packbits(observed, axis=1)):
            groups.setdefault(key.tobytes(), []).append(i)
        patterns = [(observed[rows[0]], np.asarray(rows)) for rows in groups.values()]
    with np.errstate(over="ignore", invalid="ignore"):
        for kept, rows in patterns:
            if not kept.any():
                best[rows] = 0.0
                continue
            inverse_cov = precision if kept.all() else _marginal_precision(arrays, prefix, kept)
            for mean in means:
                d = ((x[np.ix_(rows, kept)] - mean[kept]) / scale[kept])
                best[rows] = np.minimum(best[rows], np.einsum("ij,jk,ik->i", d, inverse_cov, d))
    return np.sqrt(np.nan_to_num(np.clip(best, 0, None), nan=np.inf))


def largest_deviation(x: np.ndarray, arrays: dict[str, np.ndarray], prefix: str = "") -> np.ndarray:
    """Per row, the feature furthest from its nearest class mean in standard deviations (for a reason)."""
    x = np.asarray(x, dtype="float64").reshape(len(x), -1)
    means, scale = arrays[f"{prefix}means"], arrays[f"{prefix}scale"]
    deviations = np.min(np.stack([np.abs(x - m) / scale for m in means]), axis=0)
    return np.argmax(deviations, axis=1)


def largest_contribution(row: np.ndarray, arrays: dict[str, np.ndarray], observed: np.ndarray | None = None, prefix: str = "") -> int:
    """The feature that adds most to one row's squared distance from its nearest class mean."""
    row = np.asarray(row, dtype="float64").reshape(-1)
    kept = np.ones(len(row), dtype=bool) if observed is None else np.asarray(observed, dtype=bool)
    means, scale = arrays[f"{prefix}means"], arrays[f"{prefix}scale"]
    inverse = arrays[f"{prefix}precision"] if kept.all() else _marginal_precision(arrays, prefix, kept)
    best, parts = np.inf, np.zeros(int(kept.sum()))
    for mean in means:
        d = (row[kept] - mean[kept]) / scale[kept]
        share = d * (inverse @ d)
        if share.sum() < best:
            best, parts = share.sum(), share
    return int(np.flatnonzero(kept)[int(np.argmax(parts))])
