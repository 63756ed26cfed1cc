"""Reading tables (CSV, TSV, Parquet) for any tabular task's adapter."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd

from aiaas.dataset import Dataset, LoadOptions
from aiaas.errors import InvalidInput


DELIMITERS = (",", ";", "\t", "|")


def delimiter(path: Path) -> str:
    """The delimiter of a delimited text file: the candidate the header line holds most of
    (outside quotes), so a semicolon-separated export (European spreadsheets) reads as well."""
    with path.open(encoding="utf-8-sig", errors="replace") as handle:
        header = handle.readline()
    unquoted = "".join(part for i, part in enumerate(header.split('"')) if i % 2 == 0)
    counts = {d: unquoted.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])  # ties keep the earlier (comma first)
    return best if counts[best] else ("\t" if path.suffix.lower() == ".tsv" else ",")


def read_table(path: Path, text_columns: Iterable[str] = ()) -> pd.DataFrame:
    """A delimited text file (UTF-8, with or without a BOM; comma, semicolon, tab or pipe,
    detected) or Parquet; ``text_columns`` stay strings even when they look numeric
    (codes such as 5411, ids)."""
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        frame = pd.read_parquet(path)
    else:
        frame = pd.read_csv(path, sep=delimiter(path), dtype={c: str for c in text_columns}, encoding="utf-8-sig")
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise InvalidInput(f"{path}: has no rows")
    return frame


def split_label(frame: pd.DataFrame, path: Path, options: LoadOptions) -> Dataset:
    """Take the label column out of the records (when there is one, or must be)."""
    label = options.label
    if label and label in frame.columns:
        return Dataset(frame.drop(columns=[label]), frame[label], path)
    if options.labelled:
        raise InvalidInput(f"{path}: no label column {label!r}; the columns are {', '.join(frame.columns)}; name yours with --label")
    return Dataset(frame, None, path)


def load_table(path: Path, options: LoadOptions) -> Dataset:
    """A ready-made adapter for tabular tasks whose records are the file's columns as they are."""
    return split_label(read_table(path), path, options)


def table_chunks(path: Path, batch_rows: int, text_columns: Iterable[str] = ()) -> Iterator[pd.DataFrame]:
    """``read_table``'s stream form: a CSV or Parquet file, a folder or a glob of them, as frames of at
    most ``batch_rows`` rows, never the whole at once (``aiaas.dataplane.stream``)."""
    from aiaas.dataplane.stream import frames

    yield from frames(path, batch_rows, text_columns=text_columns)


def grouped_chunks(path: Path, batch_rows: int, key: str, text_columns: Iterable[str] = ()) -> Iterator[pd.DataFrame]:
    """``table_chunks`` regrouped so that each frame holds every row of the ``key`` values it holds
    (a learner's answers, a customer's transactions), each about ``batch_rows`` rows; the regrouping
    goes through disk (``aiaas.dataplane.grouped``), so memory stays bounded."""
    from aiaas.dataplane.grouped import estimated_rows, grouped

    yield from grouped(table_chunks(path, batch_rows, text_columns), key, batch_rows, estimated_rows(path))


def stream_table(path: Path, options: LoadOptions, batch_rows: int) -> Iterator[Dataset]:
    """``load_table``'s stream form."""
    for frame in table_chunks(path, batch_rows):
        yield split_label(frame, path, options)
