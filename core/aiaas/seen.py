"""Which rows a version learned from: a Bloom filter of its training and validation rows.

``aiaas evaluate`` on the training file would report a model's memory, not its skill.
Each version keeps a compact fingerprint of the rows it was fitted and tuned on (about
1.8 bytes a row for a 1-in-1,000 false match), so an evaluation can say how many of its
rows the model has seen and score the unseen ones separately. A row is its values in
the columns the model was given, floats compared in single precision (a value written
to CSV and read back may differ in its last bit) and where a file came from left out
(the same image copied to another folder is the same image).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FILE = "seen_rows.safetensors"
FALSE_MATCH = 0.001
MAX_BYTES = 64 * 2**20
"""The filter's largest size; past it the false-match rate rises, and the manifest says by how much."""
KEY = "aiaas:seen-rows!"
"""The row hashes' key (pandas' ``hash_key``, 16 characters): its own, so a split's hashes tell nothing of these."""
WHERE_FROM = frozenset({"path", "file", "filename", "source", "source_path"})


def _canonical(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return hashlib.blake2b(value.tobytes() + str(value.shape).encode() + value.dtype.str.encode(), digest_size=16).hexdigest()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return hashlib.blake2b(bytes(value), digest_size=16).hexdigest()
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_canonical(v) for v in value) + "]"
    if isinstance(value, float):
        return "nan" if value != value else repr(float(np.float32(value)))
    return "none" if value is None else str(value)


def row_hashes(records: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """A 64-bit hash of each row's values in ``columns``: the data plane's row hash (``dataplane.split``, which
    reads 3 and 3.0 alike), over floats rounded to single precision and arrays, bytes and lists by their content."""
    from aiaas.dataplane.split import row_hashes as content_hashes

    frame = pd.DataFrame(index=range(len(records)))
    for name in columns:
        values = records[name].reset_index(drop=True)
        if pd.api.types.is_float_dtype(values):
            frame[name] = values.astype("float32")
        elif values.dtype == object:
            frame[name] = values.map(_canonical)
        else:
            frame[name] = values
    return content_hashes(frame, KEY)


@dataclass
class SeenRows:
    """A Bloom filter of row hashes: ``bits`` bits, ``hashes`` probes a row (double hashing)."""

    bits: np.ndarray
    hashes: int
    rows: int
    columns: list[str]

    @classmethod
    def of(cls, frames: list[pd.DataFrame]) -> SeenRows:
        columns = [str(c) for c in frames[0].columns if str(c).lower() not in WHERE_FROM]
        rows = sum(len(f) for f in frames)
        size = min(max(64, math.ceil(-max(rows, 1) * math.log(FALSE_MATCH) / math.log(2) ** 2)), 8 * MAX_BYTES)
        hashes = max(1, round(size / max(rows, 1) * math.log(2)))
        seen = cls(np.zeros((size + 7) // 8, dtype=np.uint8), min(hashes, 16), rows, columns)
        for frame in frames:
            seen._add(row_hashes(frame, columns))
        return seen

    def _probes(self, hashed: np.ndarray) -> np.ndarray:
        size = np.uint64(len(self.bits) * 8)
        first, second = hashed & np.uint64(0xFFFFFFFF), (hashed >> np.uint64(32)) | np.uint64(1)
        steps = np.arange(self.hashes, dtype=np.uint64)
        return (first[:, None] + steps[None, :] * second[:, None]) % size

    def _add(self, hashed: np.ndarray) -> None:
        probes = self._probes(hashed).ravel()
        np.bitwise_or.at(self.bits, (probes >> np.uint64(3)).astype(np.int64), (1 << (probes & np.uint64(7))).astype(np.uint8))

    def contains(self, records: pd.DataFrame) -> np.ndarray:
        """Whether each row is (very likely) one the version learned from; a false match is about ``false_match`` likely."""
        probes = self._probes(row_hashes(records, self.columns))
        hit = (self.bits[(probes >> np.uint64(3)).astype(np.int64)] >> (probes & np.uint64(7)).astype(np.uint8)) & 1
        return hit.all(axis=1)

    @property
    def false_match(self) -> float:
        return float((1 - math.exp(-self.hashes * self.rows / (len(self.bits) * 8))) ** self.hashes)

    def summary(self) -> dict[str, Any]:
        return {"rows": self.rows, "columns": self.columns, "hashes": self.hashes, "bytes": int(len(self.bits)),
                "false_match": self.false_match}

    def save(self, folder: Path) -> None:
        from safetensors.numpy import save_file

        save_file({"bits": self.bits}, str(folder / FILE))

    @classmethod
    def load(cls, folder: Path, summary: dict[str, Any]) -> SeenRows | None:
        """The version's filter, or None for a version trained before versions kept one."""
        if not (folder / FILE).is_file() or not summary:
            return None
        from safetensors.numpy import load_file

        return cls(load_file(str(folder / FILE))["bits"], int(summary["hashes"]), int(summary["rows"]), list(summary["columns"]))
