"""A task's data through its adapter as a re-readable stream of bounded ``Dataset`` chunks.

An adapter offers the stream form with ``DataAdapter.stream``: ``stream(path, options, batch_rows)``
yields ``Dataset`` chunks of at most ``batch_rows`` records. An adapter without it (small data, a
plugin written before it) is read whole through ``load`` once per pass and cut into chunks: the
same results, but memory grows with the data, and the run's notes say so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiaas.dataset import Dataset, LoadOptions
from aiaas.errors import UserError
from aiaas.records import resolve

if TYPE_CHECKING:
    import pandas as pd

    from aiaas.plugins import Host

STREAM_FORMS = {"aiaas.tables:load_table": "aiaas.tables:stream_table",
                "aiaas.vision.datasets:load_plain_folder": "aiaas.vision.datasets:stream_plain_folder",
                "aiaas.vision.datasets:load_plain_manifest": "aiaas.vision.datasets:stream_plain_manifest"}
"""The stream form of the core's ready-made adapters, used when a plugin names one as its ``load``."""
IN_PARTS = {"aiaas.vision.datasets:stream_plain_folder", "aiaas.vision.datasets:stream_plain_manifest"}
"""Those of them that read one part of their source when asked (``DataAdapter.parts``)."""


@dataclass
class Chunks:
    """``iter(chunks)`` reads the data once more from the start."""

    read: Callable[[], Iterator[Dataset]]
    adapter: str
    streamed: bool
    notes: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[Dataset]:
        for chunk in self.read():
            if len(chunk):
                yield chunk

    def column(self, name: str) -> Iterator[pd.Series]:
        for chunk in self:
            if name in chunk.records:
                yield chunk.records[name]


PARTS = 32
"""A source read in parts (``DataAdapter.parts``) is cut into this many, whatever the cluster: a part's
chunks, and so the partitions a scoring writes, do not change with the cluster's size."""


@dataclass(frozen=True)
class Part:
    """What one reader on a cluster reads: a table file, or part ``i`` of ``n`` of a source that its
    adapter reads in parts (``n`` 1: the whole)."""

    source: str
    i: int = 0
    n: int = 1

    @property
    def asked(self) -> tuple[int, int] | None:
        return (self.i, self.n) if self.n > 1 else None


def parts_of(host: Host, task_name: str, source: Path, adapter: str | None) -> list[Part]:
    """How a cluster reads a source: in ``PARTS`` parts when its adapter reads in parts, else file by
    file when it is a set of table files (each read through the adapter), else whole on one node."""
    from aiaas.dataplane.stream import files_of

    record = host.adapter(host.task(task_name), adapter, source)
    stream_ref = _stream_ref(record)
    if stream_ref is not None and (record.parts or stream_ref in IN_PARTS):
        return [Part(str(source), i, PARTS) for i in range(PARTS)]
    try:
        return [Part(str(f)) for f in files_of(source)]
    except UserError:
        return [Part(str(source))]


def _stream_ref(record: Any) -> str | None:
    return record.stream or STREAM_FORMS.get(record.load if isinstance(record.load, str) else "")


def chunks_of(host: Host, task_name: str, path: Path, label: str | None, adapter: str | None, options: dict[str, Any],
              batch_rows: int, labelled: bool = True, part: tuple[int, int] | None = None) -> Chunks:
    """The chunks of ``path`` (only those of ``part`` when given: an adapter that reads in parts)."""
    task = host.task(task_name)
    if not Path(path).exists() and not any(c in str(path) for c in "*?["):
        raise UserError(f"{path}: no such file or folder")
    record = host.adapter(task, adapter, path)
    load_options = LoadOptions(label=label or task.label_column if labelled else label, labelled=labelled, extra=options, part=part)
    stream_ref = _stream_ref(record)
    if stream_ref is not None:
        stream = resolve(stream_ref)
        return Chunks(lambda: _checked(stream(path, load_options, batch_rows), path, record.name, load_options),
                      record.name, True)

    def whole() -> Iterator[Dataset]:
        from aiaas.loading import load_data

        dataset = load_data(host, task_name, path, label, record.name, options, labelled)
        for start in range(0, len(dataset), batch_rows):
            yield dataset.take(slice(start, start + batch_rows))

    return Chunks(whole, record.name, False,
                  [f"adapter {record.name} has no stream form: each pass reads the whole data into memory"])


def _checked(chunks: Iterator[Dataset], path: Path, adapter: str, options: LoadOptions) -> Iterator[Dataset]:
    """The adapter's chunks, checked as ``load_data`` checks a whole read."""
    from aiaas.loading import adapter_errors, labelled_as_asked

    with adapter_errors(path, adapter):
        for chunk in chunks:
            yield labelled_as_asked(chunk, path, options)
