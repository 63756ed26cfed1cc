"""A bounded, uniform sample of a stream that merges: the ``k`` rows with the smallest keyed hashes.

The same rows are kept whatever the order of the batches or how they were cut, and two samples
of parts of the data merge into the sample of the whole (keep the smallest ``k`` of both), so
workers can each keep one and the driver merges them. Rows that share a hash (a group's rows,
keyed by the group: a learner's, a patient's) are kept or left out together, so a sample never
holds part of a group.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from aiaas.dataset import Dataset


class BottomK:
    def __init__(self, k: int) -> None:
        self.k = k
        self.seen = 0
        self.records: pd.DataFrame | None = None
        self.labels: pd.Series | None = None
        self.hashes = np.zeros(0, dtype=np.uint64)

    def add(self, chunk: Dataset, hashes: np.ndarray) -> None:
        self.seen += len(chunk)
        if len(self.hashes) >= self.k:  # only rows that would enter the sample are looked at
            keep = np.flatnonzero(hashes <= self.hashes.max())  # equal: the rest of a group the sample holds
            if not len(keep):
                return
            chunk, hashes = chunk.take(keep), hashes[keep]
        self._merge(chunk.records, chunk.labels, hashes)

    def merge(self, other: BottomK) -> None:
        self.seen += other.seen
        if other.records is not None:
            self._merge(other.records, other.labels, other.hashes)

    def _merge(self, records: pd.DataFrame, labels: pd.Series | None, hashes: np.ndarray) -> None:
        if self.records is not None:
            records = pd.concat([self.records, records], ignore_index=True)
            labels = None if labels is None or self.labels is None else pd.concat([self.labels, labels], ignore_index=True)
            hashes = np.concatenate([self.hashes, hashes])
        order = np.argsort(hashes, kind="stable")
        if len(order) > self.k:
            cut = hashes[order[self.k - 1]]
            # the group at the cut is left out whole when some of its rows do not fit
            order = order[: self.k] if hashes[order[self.k]] != cut else order[: np.searchsorted(hashes[order], cut, side="left")]
        order.sort()  # rows keep the order they came in (a time split's sample stays in time order)
        self.records = records.iloc[order].reset_index(drop=True)
        self.labels = None if labels is None else labels.iloc[order].reset_index(drop=True)
        self.hashes = hashes[order]

    @property
    def complete(self) -> bool:
        """Whether the sample holds every row seen."""
        return self.seen <= self.k

    def dataset(self, columns: list[str] | None = None) -> Dataset:
        records = self.records if self.records is not None else pd.DataFrame(columns=columns or [])
        return Dataset(records, self.labels)
