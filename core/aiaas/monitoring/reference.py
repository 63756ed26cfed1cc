"""What a model saw in training, kept with it so live traffic can be compared: the
distribution of each input feature on the training split and of the model's score on
validation. Features come from the records in a way that fits any task: numbers in
decile bins, a column of few distinct strings as categories, free text as its word
count, a list (a learner's history) as its length, an image as its mean brightness.

With input checks, the reference also holds the distribution of the validation inputs'
novelty (their distance from the training data: known words for text, the model's
own features for images), so drift in what a text or an image looks like to the
model is measured too.

Drift is the population stability index (PSI) of live values against the reference:
below 0.1 stable, 0.1 to 0.25 a moderate shift, above 0.25 a major one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

CATEGORIES = 50
OTHER = "<other>"


def features(records: pd.DataFrame) -> dict[str, pd.Series]:
    """name -> numeric (float) or categorical (str) values, one per record."""
    out: dict[str, pd.Series] = {}
    for column in records.columns:
        values = records[column]
        present = values.dropna()
        if present.empty:
            continue
        first = present.iloc[0]
        if isinstance(first, np.ndarray):
            out[f"{column}.brightness"] = values.map(lambda a: float(np.mean(a)) if isinstance(a, np.ndarray) else np.nan)
        elif isinstance(first, (list, tuple)):
            out[f"{column}.length"] = values.map(lambda v: float(len(v)) if isinstance(v, (list, tuple, np.ndarray)) else np.nan)
        elif isinstance(first, (bytes, dict)) or pd.api.types.is_datetime64_any_dtype(values):
            continue
        elif pd.api.types.is_bool_dtype(values) or isinstance(first, bool):
            out[column] = values.astype(str)
        elif pd.api.types.is_numeric_dtype(values):
            out[column] = values.astype(float)
        elif isinstance(first, str):
            if present.nunique() <= CATEGORIES and present.map(len).mean() < 40:
                out[column] = values.astype(str)
            else:
                out[f"{column}.words"] = values.map(lambda t: float(len(t.split())) if isinstance(t, str) else np.nan)
    return out


def numeric(values: pd.Series) -> dict[str, Any] | None:
    finite = values[np.isfinite(values)]
    if finite.nunique() < 2:
        return None
    edges = np.unique(np.quantile(finite, np.linspace(0.1, 0.9, 9)))
    return {"kind": "numeric", "edges": edges.tolist(), "shares": _numeric_shares(edges, finite).tolist()}


def _numeric_shares(edges: np.ndarray, values: pd.Series) -> np.ndarray:
    counts = np.bincount(np.searchsorted(edges, values.to_numpy(dtype=float), side="right"), minlength=len(edges) + 1)
    return counts / max(counts.sum(), 1)


def _categorical(values: pd.Series) -> dict[str, Any]:
    shares = values.value_counts(normalize=True)
    kept = shares.iloc[:CATEGORIES]
    return {"kind": "categorical", "shares": {**kept.to_dict(), OTHER: float(1 - kept.sum())}}


def describe(values: pd.Series) -> dict[str, Any] | None:
    return numeric(values) if pd.api.types.is_float_dtype(values) else _categorical(values.dropna())


def score_of(p: np.ndarray) -> np.ndarray:
    """One score per prediction: the probability itself (binary, per step) or the surest class's."""
    return p.max(axis=1) if p.ndim == 2 and p.shape[1] > 1 and np.allclose(p.sum(axis=1), 1, atol=1e-3) else p.reshape(-1)


def reference(records: pd.DataFrame, scores: np.ndarray) -> dict[str, Any]:
    described = {name: describe(values) for name, values in features(records).items()}
    edges = np.linspace(0, 1, 11)[1:-1]
    return {"features": {k: v for k, v in described.items() if v}, "rows": len(records),
            "scores": {"kind": "numeric", "edges": edges.tolist(), "shares": _numeric_shares(edges, pd.Series(scores)).tolist()}}


def psi(expected: list[float] | np.ndarray, actual: list[float] | np.ndarray) -> float:
    e = np.clip(np.asarray(expected, dtype=float), 1e-4, None)
    a = np.clip(np.asarray(actual, dtype=float), 1e-4, None)
    return float(np.sum((a - e) * np.log(a / e)))


def shares_like(spec: dict[str, Any], values: pd.Series) -> tuple[list[float], list[float], list[str]]:
    """(reference shares, live shares, bin names) for one feature."""
    if spec["kind"] == "numeric":
        edges = np.asarray(spec["edges"])
        live = _numeric_shares(edges, values.astype(float)[np.isfinite(values.astype(float))])
        names = [f"< {edges[0]:.3g}", *[f"{a:.3g}-{b:.3g}" for a, b in zip(edges[:-1], edges[1:])], f">= {edges[-1]:.3g}"]
        return list(spec["shares"]), live.tolist(), names
    known = [k for k in spec["shares"] if k != OTHER]
    counts = values.dropna().astype(str).map(lambda v: v if v in known else OTHER).value_counts(normalize=True)
    names = [*known, OTHER]
    return [spec["shares"][k] for k in names], [float(counts.get(k, 0.0)) for k in names], names


def drift(ref: dict[str, Any], records: pd.DataFrame, scores: np.ndarray, novelty: np.ndarray | None = None) -> dict[str, float]:
    """PSI of each feature (and of the score, as ``score``) of live records against the reference;
    with ``novelty`` (the answers' input checks), of the inputs' distance from the training data,
    as ``novelty``: the one drift measure that reads text and images as the model does."""
    out: dict[str, float] = {}
    live = features(records) if len(records) else {}
    for name, spec in ref.get("features", {}).items():
        if name in live and live[name].notna().any():
            expected, actual, _ = shares_like(spec, live[name])
            out[name] = psi(expected, actual)
    if len(scores) and "scores" in ref:
        expected, actual, _ = shares_like(ref["scores"], pd.Series(scores))
        out["score"] = psi(expected, actual)
    if novelty is not None and len(novelty) and ref.get("novelty"):
        expected, actual, _ = shares_like(ref["novelty"], pd.Series(novelty))
        out["novelty"] = psi(expected, actual)
    return out
