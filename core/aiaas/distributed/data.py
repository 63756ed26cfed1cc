"""A run's training rows as a Ray Data dataset: each part of the data (a file, or a part of a source
read in parts) is read through the task's adapter and encoded by the fitted preprocessor in
``map_batches`` on the cluster's nodes, never on the driver.

A batch's model inputs are columns ``x:<input>`` (an input of several values a row is a tensor
column), with ``y`` the targets and ``w`` the class-balancing weights.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from aiaas.dataplane.chunks import Part

INPUT = "x:"


@dataclass(frozen=True)
class Encoding:
    """What a node needs to turn a part into training rows (sent once to each node with the dataset)."""

    task: str
    label: str | None
    adapter: str | None
    options: dict[str, Any]
    batch_rows: int
    plan: Any
    drop: list[str]
    preprocessor: Any
    state: Any
    schema: Any
    column: str
    per_class: np.ndarray | None
    shapes: dict[str, tuple[int, ...]]


def _encode(batch: dict[str, np.ndarray], encoding: Encoding) -> Iterator[dict[str, np.ndarray]]:
    from aiaas.dataplane.chunks import Part
    from aiaas.distributed.passes import read_part
    from aiaas.outofcore import encode_part, training_rows

    e = encoding
    for source, i, n in zip(batch["source"], batch["i"], batch["n"]):
        chunks = read_part(e.task, Part(str(source), int(i), int(n)), e.label, e.adapter, e.options, e.batch_rows)
        for part in training_rows(chunks, e.plan, e.drop):
            x, y, w = encode_part(part, e.preprocessor, e.state, e.schema, e.column, e.per_class, e.shapes)
            yield {**{INPUT + name: value for name, value in x.items()}, "y": y, "w": w}


def listing(parts: list[Part], **more: list[Any]) -> Any:
    """The parts as a Ray dataset of one row each (``more``: further columns, one value a part)."""
    import ray.data

    rows = [{"source": p.source, "i": p.i, "n": p.n, **{k: v[index] for k, v in more.items()}} for index, p in enumerate(parts)]
    return ray.data.from_items(rows, override_num_blocks=max(1, len(parts)))


def training_rows(parts: list[Part], *how: Any) -> Any:
    """The dataset (lazy: nothing is read until a worker iterates it); ``how`` are ``Encoding``'s fields."""
    encoding = Encoding(*how)
    return listing(parts).map_batches(_encode, batch_size=1, fn_kwargs={"encoding": encoding}, batch_format="numpy")


def unpack(batch: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    return ({name[len(INPUT):]: value for name, value in batch.items() if name.startswith(INPUT)}, batch["y"], batch["w"])
