"""A stream of frames regrouped so that every value of a key has all its rows in one frame, with
bounded memory: an external hash partition.

An adapter whose records are built from many rows (a learner's answers, a customer's history)
needs each key's rows together, but a log is written in time order, not key by key. One pass
writes each frame's rows into buckets on disk by a hash of the key (Parquet parts); then each
bucket is read whole, in turn. A bucket holds about ``rows`` rows, so what is held at once is one
bucket; the rows of a key keep the order they came in.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from aiaas.dataplane.stream import FORMATS, files_of


def estimated_rows(source: str | Path) -> int:
    """About how many rows a source holds, without reading it: Parquet's footers; for CSV, each
    file's size over the bytes per line of its first megabyte."""
    total = 0
    for path in files_of(source):
        if FORMATS[path.suffix.lower()] == "parquet":
            total += pq.ParquetFile(path).metadata.num_rows
            continue
        with path.open("rb") as handle:
            head = handle.read(1 << 20)
        total += int(path.stat().st_size * max(head.count(b"\n"), 1) / max(len(head), 1)) + 1
    return total


def grouped(frames: Iterable[pd.DataFrame], key: str, rows: int, expected_rows: int) -> Iterator[pd.DataFrame]:
    """``frames`` as frames holding whole keys (each key's rows in their first order), each about
    ``rows`` rows; ``expected_rows`` sizes the partition."""
    buckets = max(1, int(np.ceil(expected_rows / max(rows, 1))))
    folder = Path(tempfile.mkdtemp(prefix="aiaas-grouped-"))
    try:
        written: dict[int, list[Path]] = {}
        for number, frame in enumerate(frames):
            if buckets == 1:
                parts = {0: frame}
            else:
                which = pd.util.hash_pandas_object(frame[key].astype("string"), index=False).to_numpy() % np.uint64(buckets)
                parts = {int(b): frame.iloc[np.flatnonzero(which == b)] for b in np.unique(which)}
            for bucket, part in parts.items():
                path = folder / f"{bucket:06d}-{number:08d}.parquet"
                part.to_parquet(path, index=False)
                written.setdefault(bucket, []).append(path)
        for bucket in sorted(written):
            yield pd.concat([pd.read_parquet(path) for path in written[bucket]], ignore_index=True)
            for path in written[bucket]:
                path.unlink()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
