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
from aiaas.labels import LABEL_MAP, mapped
from aiaas.plugins import Host
from aiaas.records import resolve


def load_data(host: Host, task_name: str, path: Path, label: str | None, adapter: str | None, options: dict[str, Any], labelled: bool = True) -> Dataset:
    """The records of a file, or of every file in a folder or glob that the task's adapter reads (an adapter
    that reads folders itself, an image folder's, is given the folder)."""
    task = host.task(task_name)
    pattern = any(c in str(path) for c in "*?[")
    if not pattern and not path.exists():
        raise UserError(f"{path}: no such file or folder")
    record = host.adapter(task, adapter, path if not pattern else Path(str(path).rstrip("*?[]/")))
    load = resolve(record.load)
    options_ = LoadOptions(label=label or task.label_column if labelled else label, labelled=labelled, extra=options)
    files = [path] if not pattern and (path.is_file() or "/" in record.suffixes) else _files(path, record)
    parts = []
    for file in files:
        with adapter_errors(file, record.name):
            parts.append(labelled_as_asked(load(file, options_), file, options_))
    return parts[0] if len(parts) == 1 else _joined(parts, path)


def _files(source: Path, record: Any) -> list[Path]:
    """The files in a folder (at any depth) or matching a glob that an adapter reads, in a stable order."""
    from aiaas.dataplane.stream import listed

    files = listed(source, record.suffixes)
    if not files:
        raise UserError(f"{source}: holds no file that adapter {record.name} reads ({', '.join(record.suffixes) or 'none named'}); "
                        f"give a file, or a folder or glob of such files")
    return files


def _joined(parts: list[Dataset], source: Path) -> Dataset:
    columns = list(parts[0].records.columns)
    for part in parts[1:]:
        if list(part.records.columns) != columns:
            raise InvalidInput(f"{part.source or source}: its columns ({', '.join(map(str, part.records.columns))}) are not those of "
                               f"the first file ({', '.join(map(str, columns))}); a folder's files must share their columns")
    labels = None if parts[0].labels is None else pd.concat([p.labels for p in parts], ignore_index=True)  # type: ignore[misc]
    notes = [*parts[0].notes, f"read {len(parts)} files of {source}"]
    return Dataset(pd.concat([p.records for p in parts], ignore_index=True), labels, source, notes)


def as_trained(host: Host, manifest: dict[str, Any], path: Path, label: str | None, adapter: str | None,
               options: dict[str, Any]) -> tuple[str | None, str | None, dict[str, Any]]:
    """The label column, adapter and adapter options a version was trained with (its manifest's), for a
    command that reads data again for it (evaluate, optimize); what the caller names wins. The adapter is
    kept only where it reads this path's kind of file."""
    trained = manifest.get("adapter")
    record = host.components.adapters.get(trained) if trained else None
    suffix = "/" if path.is_dir() else path.suffix.lower()
    fits = record is not None and (suffix in record.suffixes or not record.suffixes)
    return (label or manifest.get("label_column"), adapter or (trained if fits else None),
            {**(manifest.get("adapter_options") or {}), **options})


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
    """The dataset, its labels mapped by ``--label-map`` if given; refused when labels were asked for and it has none."""
    if options.labelled and dataset.labels is None:
        raise InvalidInput(f"{path}: no label column {options.label!r}; name yours with --label")
    if dataset.labels is not None and options.extra.get(LABEL_MAP):
        dataset.labels = mapped(dataset.labels, options.extra[LABEL_MAP])
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
