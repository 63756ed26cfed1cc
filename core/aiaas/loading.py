"""A task's data, read through its adapter: the one way files come in, for
training, evaluation and offline scoring alike."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from aiaas.dataset import Dataset, LoadOptions
from aiaas.errors import InvalidInput, UserError
from aiaas.plugins import Host
from aiaas.records import resolve


def load_data(host: Host, task_name: str, path: Path, label: str | None, adapter: str | None, options: dict[str, Any], labelled: bool = True) -> Dataset:
    task = host.task(task_name)
    if not path.exists():
        raise UserError(f"{path}: no such file or folder")
    record = host.adapter(task, adapter, path)
    load = resolve(record.load)
    options_ = LoadOptions(label=label or task.label_column if labelled else label, labelled=labelled, extra=options)
    with adapter_errors(path, record.name):
        dataset: Dataset = load(path, options_)
    return labelled_as_asked(dataset, path, options_)


@contextmanager
def adapter_errors(path: Path, adapter: str) -> Iterator[None]:
    """What an adapter raises reading a user's file, as a one-line input error naming the file."""
    try:
        yield
    except UserError:
        raise
    except (ValueError, KeyError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InvalidInput(f"{path}: cannot be read by adapter {adapter}: {exc}") from exc


def labelled_as_asked(dataset: Dataset, path: Path, options: LoadOptions) -> Dataset:
    if options.labelled and dataset.labels is None:
        raise InvalidInput(f"{path}: no label column {options.label!r}; name yours with --label")
    return dataset


def instances(preprocessor: Any, dataset: Dataset, state: Any) -> Dataset:
    """The model instances of labelled records: the same rows, unless the preprocessor cuts
    them (``training_instances``: a long sequence becomes windows)."""
    cut = getattr(preprocessor, "training_instances", None)
    return cut(dataset, state) if cut else dataset


def fingerprint(dataset: Dataset) -> str:
    """A hash of the records and labels; array cells (an image's pixels) are hashed by their bytes."""
    digest = hashlib.sha256()
    records = dataset.records
    for column in records.columns:
        values = records[column]
        if values.dtype == object and len(values) and all(hasattr(v, "tobytes") for v in values):
            for value in values:
                digest.update(str(value.shape).encode())
                digest.update(value.tobytes())
            records = records.drop(columns=[column])
    digest.update(pd.util.hash_pandas_object(records.astype(str), index=False).to_numpy().tobytes())
    if dataset.labels is not None:
        digest.update(pd.util.hash_pandas_object(dataset.labels.astype(str), index=False).to_numpy().tobytes())
    digest.update(",".join(map(str, dataset.records.columns)).encode())
    return "sha256:" + digest.hexdigest()[:32]
