"""Rows of different lengths -> one right-padded array, as wide as the longest row."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def pad(rows: Sequence[Sequence[float] | np.ndarray], value: float = 0, dtype: str = "int32", width: int | None = None) -> np.ndarray:
    """``width`` None pads to the longest row of the batch (at least 1 column)."""
    longest = max((len(r) for r in rows), default=0)
    out = np.full((len(rows), max(width if width is not None else longest, 1)), value, dtype=dtype)
    for i, row in enumerate(rows):
        if len(row):
            out[i, : len(row)] = row[: out.shape[1]]
    return out
