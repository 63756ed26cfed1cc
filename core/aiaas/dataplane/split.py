"""Which split a row belongs to, decided without holding the data.

``aiaas.splits`` cuts a frame it holds whole. Here each row's split follows from the row alone,
so the answer is the same whatever the batch size, the order of the files or the machine that
reads them:

- ``group``: a keyed hash of the group value (a learner, a patient) picks the split, so a group
  never straddles two; a row without a group value is hashed by its content;
- ``random``: a keyed hash of the row's content (the same row always lands in the same split);
- ``time``: a first pass over the time column alone finds the cuts (a 65,536-bin histogram
  between its first and last value): rows before the first cut train, rows after the second test.

The fractions are the policy's in expectation (hash buckets) or to the histogram's resolution (time).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from aiaas.records import SplitPolicy

TRAIN, VALIDATION, TEST = 0, 1, 2
NAMES = ("train", "validation", "test")
BINS = 65_536


def split_key(seed: int) -> str:
    """16 characters that key the row hashes (pandas' ``hash_key``), from the training seed."""
    return hashlib.blake2b(f"aiaas-split:{seed}".encode(), digest_size=8).hexdigest()


def _stable(values: pd.Series) -> pd.Series:
    """A column on a scale that does not depend on how it was read: a whole number read as 3 in one
    file and 3.0 in another (where a gap made the column float) hashes the same."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return pd.to_numeric(values, errors="coerce").astype("float64").fillna(np.nan)
    if pd.api.types.is_datetime64_any_dtype(values):
        return pd.Series(numeric_time(values), index=values.index)
    return values.astype("string").fillna("\0")


def row_hashes(records: pd.DataFrame, key: str) -> np.ndarray:
    """A keyed 64-bit hash of each row's content (the columns in name order)."""
    if records.shape[1] == 0:
        return np.zeros(len(records), dtype=np.uint64)
    stable = pd.DataFrame({name: _stable(records[name]) for name in sorted(map(str, records.columns))})
    return pd.util.hash_pandas_object(stable, index=False, hash_key=key).to_numpy()


@dataclass(frozen=True)
class StreamSplit:
    """A split plan: ``assign(records)`` gives each row its split (``TRAIN``, ``VALIDATION``, ``TEST``)."""

    kind: str
    column: str | None
    test: float
    validation: float
    key: str
    cuts: tuple[float, float] | None = None
    """For ``time``: where validation starts and where test starts, on the column's numeric scale."""
    description: str = ""

    def keys(self, records: pd.DataFrame, hashes: np.ndarray | None = None) -> np.ndarray:
        """Each row's keyed hash: its group's (every row of a group shares it) or its content's."""
        hashes = row_hashes(records, self.key) if hashes is None else hashes
        if self.kind == "group" and self.column is not None:
            groups = records[self.column]
            keyed = pd.util.hash_pandas_object("g:" + _stable(groups).astype("string"), index=False, hash_key=self.key).to_numpy()
            hashes = np.where(groups.notna().to_numpy(), keyed, hashes)
        return hashes

    def assign(self, records: pd.DataFrame, hashes: np.ndarray | None = None) -> np.ndarray:
        """Each row's split; ``hashes`` are the rows' ``row_hashes`` when the caller has them already."""
        if self.kind == "time" and self.cuts is not None:
            when = numeric_time(records[self.column])
            out = np.full(len(when), TRAIN, dtype=np.int8)
            out[when >= self.cuts[0]] = VALIDATION
            out[when >= self.cuts[1]] = TEST
            out[np.isnan(when)] = TRAIN  # a row with no time has no place in the order: it trains
            return out
        bucket = self.keys(records, hashes) / np.float64(2**64)
        return np.where(bucket < self.test, TEST, np.where(bucket < self.test + self.validation, VALIDATION, TRAIN)).astype(np.int8)


def find_column(names: Iterable[str], wanted: tuple[str, ...]) -> str | None:
    lowered = {str(name).lower(): str(name) for name in names}
    return next((lowered[c.lower()] for c in wanted if c.lower() in lowered), None)


def plan(names: Iterable[str], policy: SplitPolicy, seed: int, times: Callable[[str], Iterator[pd.Series]]) -> StreamSplit:
    """The split plan for data with these columns; ``times(column)`` reads one column in a fresh
    pass (a ``time`` policy reads it twice: its range, then where the cuts fall)."""
    column = find_column(names, policy.columns)
    common = {"test": policy.test, "validation": policy.validation, "key": split_key(seed)}
    if policy.kind == "time" and column is not None:
        cuts = _time_cuts(lambda: (numeric_time(values) for values in times(column)), 1 - policy.test - policy.validation, 1 - policy.test)
        if cuts is not None:
            return StreamSplit("time", column, cuts=cuts, description=f"by time ({column!r}): oldest rows train, newest test", **common)
    if policy.kind == "group" and column is not None:
        return StreamSplit("group", column, description=f"by group ({column!r}): each in one split", **common)
    note = "random (a keyed hash of each row)"
    if policy.kind != "random":
        note += f" (no column {' / '.join(policy.columns)} for a {policy.kind} split)"
    return StreamSplit("random", None, description=note, **common)


def numeric_time(values: pd.Series) -> np.ndarray:
    """A time (or number) column as float64 on one scale (nanoseconds for times); NaN where missing."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    from aiaas.tabular import to_datetime

    stamps = to_datetime(values) if not pd.api.types.is_datetime64_any_dtype(values) else values
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_convert(None)
    as_ns = stamps.astype("datetime64[ns]")
    return np.where(as_ns.isna().to_numpy(), np.nan, as_ns.to_numpy().astype("int64").astype("float64"))


def _time_cuts(read: Callable[[], Iterator[np.ndarray]], first: float, second: float) -> tuple[float, float] | None:
    """The values below which ``first`` and ``second`` of the rows fall, found in two passes of one column."""
    low, high, count = np.inf, -np.inf, 0
    for values in read():
        present = values[~np.isnan(values)]
        if len(present):
            low, high, count = min(low, present.min()), max(high, present.max()), count + len(present)
    if count == 0 or high <= low:
        return None
    counts = np.zeros(BINS, dtype=np.int64)
    edges = np.linspace(low, high, BINS + 1)
    for values in read():
        counts += np.histogram(values[~np.isnan(values)], bins=edges)[0]
    cumulative = np.cumsum(counts) / count
    return float(edges[np.searchsorted(cumulative, first, side="right")]), float(edges[np.searchsorted(cumulative, second, side="right")])
