"""Checks for tables: numbers outside the training range, categories never seen, and
an unusual combination of values (a Mahalanobis distance on the model's inputs)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from aiaas.novelty import distance
from aiaas.novelty.base import Sample, Scores, fmt
from aiaas.state import State
from aiaas.tabular import STACKED_ROWS, category_index, column_spans, infer_column, number_block, stacked, texts_of

MAX_SEEN = 2000
"""A text column with more distinct training values than this is an identifier-like column, not checked."""


def _columns(records: pd.DataFrame, kinds: tuple[str, ...]) -> list[dict[str, Any]]:
    return [c for c in (infer_column(str(name), records[name]) for name in records.columns) if c["kind"] in kinds]


def _numbers(values: pd.Series | np.ndarray) -> np.ndarray:
    raw = values.to_numpy() if isinstance(values, pd.Series) else values
    if raw.dtype.kind in "biuf":
        return raw.astype("float64")
    if raw.dtype == object:
        try:  # numbers and None convert at once; text falls to pandas, which reads it as missing
            return np.array(raw, dtype="float64")
        except (TypeError, ValueError):
            pass
    return pd.to_numeric(pd.Series(raw), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


class ValueRange:
    """How far a number lies outside what training saw, in units of the training
    spread (the 1st to 99th percentile; a skewed column such as an amount on a log scale)."""

    floor = 0.25

    def fit(self, sample: Sample) -> State | None:
        columns = []
        for column in _columns(sample.records, ("numeric", "log")):
            x = _numbers(sample.records[column["name"]])
            x = x[np.isfinite(x)]
            if len(x) < 2:
                continue
            log = column["kind"] == "log"
            t = np.log1p(x) if log else x
            low, high = np.quantile(t, [0.01, 0.99])
            spread = max(float(high - low), float(t.std()), 1e-6)
            columns.append({"name": column["name"], "min": float(x.min()), "max": float(x.max()), "log": log, "spread": spread})
        return State({"columns": columns}) if columns else None

    def score(self, sample: Sample, state: State) -> Scores:
        records, columns, arrays = sample.records, state.meta["columns"], sample.columns
        n = len(records)
        if not columns:
            return Scores(np.zeros(n), lambda i: "")
        # every column at once: (rows, columns) values against per-column bounds
        x = number_block(arrays, [c["name"] for c in columns], n, lambda values, _name: _numbers(values))
        low, high, spread = (np.array([c[k] for c in columns], dtype="float64") for k in ("min", "max", "spread"))
        log = np.array([c["log"] for c in columns])
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            def t(v: np.ndarray) -> np.ndarray:
                return np.where(log, np.sign(v) * np.log1p(np.abs(v)), v)

            excess = np.maximum(np.maximum((t(x) - t(high)) / spread, (t(low) - t(x)) / spread), 0)
        excess = np.nan_to_num(excess, nan=0.0, posinf=1e12)

        def reason(i: int) -> str:
            said = []
            for j in np.argsort(-excess[i])[:3]:
                if excess[i, j] <= 0:
                    break
                c = columns[j]
                value = float(arrays[c["name"]][i])
                said.append(f"{c['name']} {fmt(value)} is {'above' if value > c['max'] else 'below'} the training range "
                            f"({fmt(c['min'])} to {fmt(c['max'])})")
            return "; ".join(said)

        return Scores(excess.max(axis=1), reason)


class UnseenCategories:
    """Categories training never saw, counted over the columns."""

    floor = 0.5

    def fit(self, sample: Sample) -> State | None:
        seen = {}
        for column in _columns(sample.records, ("category", "boolean")):
            values = sample.records[column["name"]].dropna().astype(str).unique()
            if len(values) <= MAX_SEEN:
                seen[column["name"]] = sorted(values.tolist())
        return State({"seen": seen}) if seen else None

    def score(self, sample: Sample, state: State) -> Scores:
        records, seen, arrays = sample.records, state.meta["seen"], sample.columns
        unseen: dict[str, np.ndarray] = {}
        for name, values in seen.items():
            if name in arrays:
                known = category_index(values)  # made once per fitted list
                unseen[name] = np.array([t is not None and t not in known for t in texts_of(arrays[name])], dtype=bool)
        counts = np.sum(list(unseen.values()), axis=0) if unseen else np.zeros(len(records))

        def reason(i: int) -> str:
            new = [f"{name} {arrays[name][i]!r}" for name, mask in unseen.items() if mask[i]]
            return f"never seen in training: {', '.join(new)}"

        return Scores(np.asarray(counts, dtype="float64"), reason)


def _observed(sample: Sample, width: int) -> np.ndarray | None:
    """Which of a tabular model's features each record really had: a value the request left
    out is imputed by the preprocessor, and the server's own imputation is not the caller's oddity."""
    columns = sample.pipeline.pre_state.meta.get("columns")
    if not isinstance(columns, list):
        return None
    spans = column_spans(columns)
    if (spans[-1][1][1] if spans else 0) != width:
        return None
    rows, arrays = len(sample.records), sample.columns
    if not columns:
        return np.zeros((rows, 0), dtype=bool)
    if rows <= STACKED_ROWS:  # one call for every column
        present = ~pd.isna(stacked(arrays, [c["name"] for c in columns], rows))
    else:
        present = np.column_stack([~pd.isna(arrays[c["name"]]) if c["name"] in arrays else np.zeros(rows, dtype=bool) for c in columns])
    return np.repeat(present, [end - start for _, (start, end) in spans], axis=1)


class FeatureDistance:
    """A class-conditional Mahalanobis distance on the model's numeric inputs: catches
    combinations of values that each look ordinary but never occur together in training.
    Class-conditional because a rare class (fraud) is unusual by definition, yet not
    unlike the training data."""

    floor = 0.0
    MAX_FEATURES = 2048
    MIN_SCALE = 0.25
    """Standardised inputs have unit 1; a category's one-hot column held by under about 7% of rows is read in this unit."""

    def _features(self, sample: Sample) -> np.ndarray | None:
        arrays = [v.reshape(len(v), -1) for v in sample.inputs.values() if v.dtype.kind == "f"]
        if not arrays:
            return None
        x = np.concatenate(arrays, axis=1)
        return x if x.shape[1] <= self.MAX_FEATURES else None

    def fit(self, sample: Sample) -> State | None:
        x = self._features(sample)
        if x is None or len(x) < 10:
            return None
        return State({"features": int(x.shape[1])}, distance.fit(x, sample.labels, min_scale=self.MIN_SCALE))

    def score(self, sample: Sample, state: State) -> Scores:
        x = self._features(sample)
        if x is None or x.shape[1] != state.meta["features"]:
            return Scores(np.zeros(len(sample.records)), lambda i: "")
        observed = _observed(sample, x.shape[1])
        d = distance.distance(x, state.arrays, observed=observed)
        names = sample.pipeline.pre_state.meta.get("feature_names")

        def reason(i: int) -> str:
            said = f"an unusual combination of values (distance {fmt(round(float(d[i]), 1))} from the training data"
            if isinstance(names, list) and len(names) == x.shape[1]:
                kept = None if observed is None else observed[i]
                said += f", most of all {names[int(distance.largest_contribution(x[i], state.arrays, kept))]}"
            return said + ")"

        return Scores(d, reason)
