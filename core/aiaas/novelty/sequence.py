"""Checks for sequences (a learner's answers, a customer's events): histories far
longer than training's (a shorter one is a newcomer, served every day), and 0/1 outcome columns far from the training rate
for their length (a binomial z-score, scaled by how much training histories vary)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from aiaas.novelty.base import Sample, Scores, fmt
from aiaas.state import State


def _lists(records: pd.DataFrame) -> list[str]:
    """Columns whose values are lists."""
    out = []
    for column in records.columns:
        present = records[column].dropna()
        if len(present) and isinstance(present.iloc[0], (list, tuple, np.ndarray)):
            out.append(str(column))
    return out


def _outcomes(values: pd.Series) -> bool:
    flat = [v for seq in values.dropna().head(500) for v in seq]
    return bool(flat) and all(v in (0, 1, True, False) for v in flat if v is not None)


class HistoryShape:
    floor = 1.0

    def fit(self, sample: Sample) -> State | None:
        columns = _lists(sample.records)
        if not columns:
            return None
        lengths = np.array([len(v) if isinstance(v, (list, tuple, np.ndarray)) else 0 for v in sample.records[columns[0]]], dtype="float64")
        logs = np.log1p(lengths)
        meta: dict[str, Any] = {"length_column": columns[0], "log_mean": float(logs.mean()), "log_std": max(float(logs.std()), 0.1),
                                "min": int(lengths.min()), "max": int(lengths.max()), "outcomes": []}
        for column in columns:
            if not _outcomes(sample.records[column]):
                continue
            k, n = _counts(sample.records[column])
            rate = float(k.sum() / max(n.sum(), 1))
            z = _z(k, n, rate, 1.0)
            dispersion = max(float(np.mean(z[n > 0] ** 2)) if (n > 0).any() else 1.0, 1.0)  # learners differ more than coins do
            meta["outcomes"].append({"name": column, "rate": rate, "dispersion": dispersion})
        return State(meta)

    def score(self, sample: Sample, state: State) -> Scores:
        meta, records = state.meta, sample.records
        column = meta["length_column"]
        lengths = np.array([len(v) if isinstance(v, (list, tuple, np.ndarray)) else 0 for v in records.get(column, pd.Series([None] * len(records)))],
                           dtype="float64")
        # only longer than training counts: a short history is a new learner or customer, as ordinary as any
        parts = {"length": np.clip(np.log1p(lengths) - meta["log_mean"], 0, None) / meta["log_std"]}
        rates: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for outcome in meta["outcomes"]:
            if outcome["name"] in records:
                k, n = _counts(records[outcome["name"]])
                rates[outcome["name"]] = (k, n)
                parts[outcome["name"]] = np.abs(_z(k, n, outcome["rate"], outcome["dispersion"]))
        stacked = np.stack(list(parts.values()))
        names = list(parts)

        def reason(i: int) -> str:
            which = names[int(np.argmax(stacked[:, i]))]
            if which == "length":
                return f"a history of {fmt(int(lengths[i]))} answers; training histories had {fmt(meta['min'])} to {fmt(meta['max'])}"
            k, n = rates[which]
            rate = next(o["rate"] for o in meta["outcomes"] if o["name"] == which)
            return f"{which} {k[i] / max(n[i], 1):.0%} over {fmt(int(n[i]))}, far from the training rate of {rate:.0%}"

        return Scores(stacked.max(axis=0), reason)


def _counts(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    seqs = [[v for v in seq if v is not None] if isinstance(seq, (list, tuple, np.ndarray)) else [] for seq in values]
    return np.array([float(sum(s)) for s in seqs]), np.array([float(len(s)) for s in seqs])


def _z(k: np.ndarray, n: np.ndarray, rate: float, dispersion: float) -> np.ndarray:
    rate = min(max(rate, 1e-3), 1 - 1e-3)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (k - n * rate) / np.sqrt(n * rate * (1 - rate) * dispersion)
    return np.nan_to_num(z, nan=0.0)
