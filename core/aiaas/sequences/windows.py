"""Long sequences as overlapping windows, each scoring only the steps it adds.

A sequence of ``n`` steps becomes windows of at most ``size`` steps, ``stride`` apart.
The first window scores all its steps; a later one scores only the steps after the
previous window's end, so every step is scored exactly once and, beyond the first
window, with at least ``size - stride`` steps of context before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from aiaas.dataset import Dataset


@dataclass(frozen=True)
class Window:
    start: int
    end: int
    scored_from: int
    """Index within the window of its first scored step."""


def windows(length: int, size: int, stride: int | None = None) -> list[Window]:
    if size < 2:
        raise ValueError("a window holds at least 2 steps")
    stride = min(stride or size // 2 or 1, size)
    if length <= size:
        return [Window(0, length, 0)]
    out = [Window(0, size, 0)]
    while out[-1].end < length:
        end = min(out[-1].end + stride, length)
        start = end - size
        out.append(Window(start, end, out[-1].end - start))
    return out


def expand(dataset: Dataset, size: int, stride: int | None = None) -> Dataset:
    """One row per window of each record. List columns aligned with the steps are cut
    to the window; the label list keeps the scored steps and holds None for context."""
    from aiaas.dataset import Dataset

    records = dataset.records
    lengths = [len(v) for v in dataset.labels] if dataset.labels is not None else None
    if lengths is None:
        raise ValueError("windows are cut from labelled sequences")
    stepwise = [c for c in records.columns if records[c].map(lambda v: isinstance(v, (list, np.ndarray))).all()]
    rows: list[dict[str, object]] = []
    labels: list[list[object]] = []
    for i, (record, label) in enumerate(zip(records.to_dict("records"), dataset.labels)):
        for w in windows(lengths[i], size, stride):
            row = dict(record)
            for column in stepwise:
                if len(record[column]) == lengths[i]:
                    row[column] = list(record[column][w.start : w.end])
            rows.append(row)
            cut = list(label[w.start : w.end])
            labels.append([None] * w.scored_from + cut[w.scored_from :])
    return Dataset(pd.DataFrame(rows, columns=records.columns), pd.Series(labels, dtype=object), dataset.source, dataset.notes)
