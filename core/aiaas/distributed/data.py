"""A run's training rows as a Ray Data dataset: each file is read through the task's adapter and
encoded by the fitted preprocessor in ``map_batches`` on the cluster's nodes, never on the driver.

A batch's model inputs are columns ``x:<input>`` (an input of several values a row is a tensor
column), with ``y`` the targets and ``w`` the class-balancing weights.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

INPUT = "x:"


@dataclass(frozen=True)
class Encoding:
    """What a node needs to turn a file into training rows (sent once to each node with the dataset)."""

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


def _encode(batch: dict[str, np.ndarray], encoding: Encoding) -> Iterator[dict[str, np.ndarray]]:
    from aiaas.distributed.passes import read_file
    from aiaas.outofcore import encode_part, training_rows

    e = encoding
    for file in batch["file"]:
        chunks = read_file(e.task, str(file), e.label, e.adapter, e.options, e.batch_rows)
        for part in training_rows(chunks, e.plan, e.drop):
            x, y, w = encode_part(part, e.preprocessor, e.state, e.schema, e.column, e.per_class)
            yield {**{INPUT + name: value for name, value in x.items()}, "y": y, "w": w}


def training_rows(files: list[Path], *how: Any) -> Any:
    """The dataset (lazy: nothing is read until a worker iterates it); ``how`` are ``Encoding``'s fields."""
    import ray.data

    encoding = Encoding(*how)

    listing = ray.data.from_items([{"file": str(f)} for f in files], override_num_blocks=max(1, len(files)))
    return listing.map_batches(_encode, batch_size=1, fn_kwargs={"encoding": encoding}, batch_format="numpy")


def unpack(batch: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    return ({name[len(INPUT):]: value for name, value in batch.items() if name.startswith(INPUT)}, batch["y"], batch["w"])
