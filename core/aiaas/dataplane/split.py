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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from aiaas.dataplane.stream import BATCH_ROWS, dataset_of, record_batches
from aiaas.records import SplitPolicy

TRAIN, VALIDATION, TEST = 0, 1, 2
BINS = 65_536


@dataclass(frozen=True)
class StreamSplit:
    """A split plan: ``assign(batch)`` gives each row of a batch its split (``TRAIN``, ``VALIDATION``, ``TEST``)."""

    kind: str
    column: str | None
    test: float
    validation: float
    key: str
    """16 characters that seed the row hashes (pandas' ``hash_key``), from the training seed."""
    cuts: tuple[float, float] | None = None
    """For ``time``: where validation starts and where test starts, on the column's numeric scale."""
    description: str = ""

    def assign(self, batch: pa.RecordBatch) -> np.ndarray:
        if self.kind == "time" and self.cuts is not None:
            when = _numeric(batch.column(self.column))
            out = np.full(len(when), TRAIN, dtype=np.int8)
            out[when >= self.cuts[0]] = VALIDATION
            out[when >= self.cuts[1]] = TEST
            out[np.isnan(when)] = TRAIN  # a row with no time has no place in the order: it trains
            return out
        frame = batch.to_pandas()
        hashes = pd.util.hash_pandas_object(frame.astype(str), index=False, hash_key=self.key).to_numpy()
        if self.kind == "group" and self.column is not None:
            groups = frame[self.column]
            keyed = pd.util.hash_pandas_object("g:" + groups.astype(str), index=False, hash_key=self.key).to_numpy()
            hashes = np.where(groups.notna().to_numpy(), keyed, hashes)
        bucket = hashes / np.float64(2**64)
        return np.where(bucket < self.test, TEST, np.where(bucket < self.test + self.validation, VALIDATION, TRAIN)).astype(np.int8)


def plan(source: str | Path, policy: SplitPolicy, seed: int = 0, batch_rows: int = BATCH_ROWS) -> StreamSplit:
    """The split plan for a source; ``time`` reads its column twice (its range, then where the cuts fall)."""
    names = dataset_of(source).schema.names
    lowered = {name.lower(): name for name in names}
    column = next((lowered[c.lower()] for c in policy.columns if c.lower() in lowered), None)
    key = hashlib.blake2b(f"aiaas-split:{seed}".encode(), digest_size=8).hexdigest()
    common = {"test": policy.test, "validation": policy.validation, "key": key}
    if policy.kind == "time" and column is not None:
        cuts = _time_cuts(lambda: (_numeric(b.column(0)) for b in record_batches(source, batch_rows, [column])),
                          1 - policy.test - policy.validation, 1 - policy.test)
        if cuts is not None:
            return StreamSplit("time", column, cuts=cuts, description=f"by time ({column!r}): oldest rows train, newest test", **common)
    if policy.kind == "group" and column is not None:
        return StreamSplit("group", column, description=f"by group ({column!r}): each in one split", **common)
    note = "random (a keyed hash of each row)"
    if policy.kind != "random":
        note += f" (no column {' / '.join(policy.columns)} for a {policy.kind} split)"
    return StreamSplit("random", None, description=note, **common)


def _numeric(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A time (or number) column as float64 on one scale (nanoseconds for times); NaN where missing."""
    if pa.types.is_timestamp(column.type) or pa.types.is_date(column.type):
        values = column.cast(pa.timestamp("ns"))
    elif pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        values = pa.array(pd.to_datetime(column.to_pandas(), errors="coerce", utc=True).dt.tz_localize(None), pa.timestamp("ns"))
    else:
        return column.to_numpy(zero_copy_only=False).astype("float64")
    return np.where(values.is_null().to_numpy(zero_copy_only=False), np.nan,
                    values.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False).astype("float64"))


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
        present = values[~np.isnan(values)]
        counts += np.histogram(present, bins=edges)[0]
    cumulative = np.cumsum(counts) / count
    return float(edges[np.searchsorted(cumulative, first, side="right")]), float(edges[np.searchsorted(cumulative, second, side="right")])


def assigned(source: str | Path, plan_: StreamSplit, batch_rows: int = BATCH_ROWS) -> Iterator[tuple[pa.RecordBatch, np.ndarray]]:
    """Each batch of the source with its rows' splits."""
    for batch in record_batches(source, batch_rows):
        yield batch, plan_.assign(batch)
