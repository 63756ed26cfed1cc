"""Encoded training inputs on disk, written once in chunks and read back in chunks, so a model
trains epoch after epoch from data larger than the memory the run may use.

One raw file per model input (its dtype, rows one after another), one for the targets and one for
the class-balancing weights. Reads use ``numpy.fromfile`` at an offset, not a memory map, so what
a read holds is what the process holds: the page cache stays the kernel's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

Arrays = dict[str, np.ndarray]
TARGETS, WEIGHTS = "\0targets", "\0weights"


class Spill:
    def __init__(self, folder: Path, chunk_rows: int = 65_536, memory: int | None = None) -> None:
        self.folder = folder
        self.chunk_rows = chunk_rows
        """Rows a trainer reads at a time."""
        self.memory = memory
        """Bytes a model may build from the whole spill (a tree model's binned rows); None: no bound."""
        folder.mkdir(parents=True, exist_ok=True)
        self.rows = 0
        self.layout: dict[str, tuple[str, tuple[int, ...]]] = {}  # name -> (dtype, shape of one row)
        self._handles: dict[str, Any] = {}

    def _file(self, name: str) -> Path:
        return self.folder / (f"{name[1:]}.bin" if name.startswith("\0") else f"input-{name}.bin")

    def append(self, inputs: Arrays, targets: np.ndarray, weights: np.ndarray) -> None:
        arrays = {**inputs, TARGETS: targets, WEIGHTS: weights.astype("float32")}
        for name, array in arrays.items():
            array = np.ascontiguousarray(array)
            known = self.layout.setdefault(name, (str(array.dtype), tuple(array.shape[1:])))
            if known != (str(array.dtype), tuple(array.shape[1:])):
                raise ValueError(f"spilled input {name!r} changed from {known} to {(str(array.dtype), array.shape[1:])}")
            if name not in self._handles:
                self._handles[name] = self._file(name).open("wb")
            array.tofile(self._handles[name])
        self.rows += len(targets)

    def close(self) -> None:
        for handle in self._handles.values():
            handle.close()
        self._handles.clear()
        (self.folder / "layout.json").write_text(json.dumps({"rows": self.rows, "layout": self.layout}))

    @property
    def inputs(self) -> list[str]:
        return [name for name in self.layout if not name.startswith("\0")]

    def _read(self, name: str, start: int, stop: int) -> np.ndarray:
        dtype, shape = self.layout[name]
        width = int(np.prod(shape)) if shape else 1
        itemsize = np.dtype(dtype).itemsize * width
        out = np.fromfile(self._file(name), dtype=dtype, count=(stop - start) * width, offset=start * itemsize)
        return out.reshape((stop - start, *shape))

    def read(self, start: int, stop: int) -> tuple[Arrays, np.ndarray, np.ndarray]:
        stop = min(stop, self.rows)
        return ({name: self._read(name, start, stop) for name in self.inputs},
                self._read(TARGETS, start, stop), self._read(WEIGHTS, start, stop))

    def column(self, name: str) -> np.ndarray:
        """One whole column of one row each (the targets, the weights): small beside the inputs."""
        return self._read(name, 0, self.rows)

    def chunks(self, rows: int, seed: int | None = None) -> Iterator[tuple[Arrays, np.ndarray, np.ndarray]]:
        """The rows in chunks of ``rows``; with a seed, the chunks come in a shuffled order (a model's
        trainer shuffles the rows within each)."""
        starts = np.arange(0, self.rows, max(rows, 1))
        if seed is not None:
            starts = np.random.default_rng(seed).permutation(starts)
        for start in starts:
            yield self.read(int(start), int(start) + rows)

    def stride(self, bytes_per_row: float) -> int:
        """Every how-many-th row fits in ``memory`` at ``bytes_per_row``."""
        if self.memory is None:
            return 1
        return max(1, int(np.ceil(self.rows * bytes_per_row / self.memory)))

    def sequence(self, name: str, batch_rows: int, stride: int = 1) -> Any:
        """One input as a LightGBM ``Sequence`` (rows read on demand), every ``stride``-th row."""
        import lightgbm as lgb

        spill = self

        class Rows(lgb.Sequence):
            batch_size = batch_rows

            def __len__(self) -> int:
                return (spill.rows + stride - 1) // stride

            def __getitem__(self, index: int | slice) -> np.ndarray:
                if isinstance(index, slice):
                    start, stop, step = index.indices(len(self))
                    block = spill._read(name, start * stride, min(stop * stride, spill.rows))[::stride]
                    return block[::step].reshape(len(block[::step]), -1).astype("float64")  # what LightGBM bins from
                return spill._read(name, index * stride, index * stride + 1).reshape(-1).astype("float64")

        return Rows()
