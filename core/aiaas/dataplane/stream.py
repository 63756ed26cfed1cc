"""Tables as a stream of Arrow record batches, never one frame.

A source is a CSV or Parquet file, a folder of them (read recursively) or a glob (``logs/*.csv``).
Batches hold at most ``batch_rows`` rows, so what is held at once is bounded however large the
source.
"""

from __future__ import annotations

import glob
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from aiaas.errors import InvalidInput, UserError

if TYPE_CHECKING:
    import pandas as pd

BATCH_ROWS = 65_536
FORMATS = {".csv": "csv", ".tsv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def listed(source: str | Path, suffixes: Iterable[str]) -> list[Path]:
    """The files ending in one of ``suffixes`` that a source names (a file, a folder at any depth, or a glob),
    hidden ones left out, in a stable order (sorted paths); possibly none."""
    text, endings = str(source), set(suffixes)
    if any(c in text for c in "*?["):
        found = [Path(p) for p in glob.glob(text, recursive=True)]
    else:
        path = Path(text)
        if not path.exists():
            raise UserError(f"{source}: no such file or folder")
        found = [p for p in path.rglob("*")] if path.is_dir() else [path]
    return sorted(p for p in found if p.is_file() and p.suffix.lower() in endings and not p.name.startswith("."))


def files_of(source: str | Path) -> list[Path]:
    """The data files (CSV or Parquet, one kind) a source names, in a stable order (sorted paths)."""
    files = listed(source, FORMATS)
    if not files:
        raise UserError(f"{source}: holds no CSV or Parquet files")
    kinds = {FORMATS[p.suffix.lower()] for p in files}
    if len(kinds) > 1:
        raise UserError(f"{source}: mixes CSV and Parquet files; give one kind at a time")
    return files


def dataset_of(source: str | Path, text_columns: Iterable[str] = ()) -> ds.Dataset:
    """A pyarrow dataset over the source's files (nothing is read yet). CSV's delimiter is the first
    file's (``aiaas.tables.delimiter``); ``text_columns`` stay text in CSV even when they look numeric."""
    from aiaas.tables import delimiter

    files = files_of(source)
    if FORMATS[files[0].suffix.lower()] == "parquet":
        return ds.dataset([str(p) for p in files], format="parquet")
    csv = ds.CsvFileFormat(parse_options=pacsv.ParseOptions(delimiter=delimiter(files[0])),
                           convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in text_columns}),
                           read_options=pacsv.ReadOptions(encoding="utf-8"))
    return ds.dataset([str(p) for p in files], format=csv)


def record_batches(source: str | Path, batch_rows: int = BATCH_ROWS, columns: list[str] | None = None,
                   text_columns: Iterable[str] = ()) -> Iterator[pa.RecordBatch]:
    """The source's rows in order, file by file, at most ``batch_rows`` at a time."""
    if batch_rows < 1:
        raise UserError(f"batch_rows must be at least 1, not {batch_rows}")
    dataset = dataset_of(source, text_columns)
    missing = [c for c in columns or [] if c not in dataset.schema.names]
    if missing:
        raise UserError(f"{source}: no column {', '.join(map(repr, missing))}; its columns are {', '.join(dataset.schema.names)}")
    if isinstance(dataset.format, ds.ParquetFileFormat):
        # file by file through a buffered stream: pages decode as they are read, where a dataset scan holds a whole row group
        batches = (batch for path in dataset.files
                   for batch in pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20).iter_batches(batch_rows, columns=columns))
    else:  # one batch read ahead, one file at a time (pyarrow's defaults read 16 batches ahead of 4 files)
        batches = dataset.to_batches(columns=columns, batch_size=batch_rows, batch_readahead=1, fragment_readahead=1)
    for batch in batches:
        if batch.num_rows:
            yield batch


def frames(source: str | Path, batch_rows: int = BATCH_ROWS, columns: list[str] | None = None,
           text_columns: Iterable[str] = ()) -> Iterator[pd.DataFrame]:
    """The source as pandas frames of at most ``batch_rows`` rows, column names stripped as ``read_table`` does."""
    import pyarrow.lib

    try:
        for batch in record_batches(source, batch_rows, columns, text_columns):
            frame = batch.to_pandas()
            frame.columns = [str(c).strip() for c in frame.columns]
            yield frame
    except pyarrow.lib.ArrowInvalid as exc:  # a row that does not parse (a stray delimiter, a text in a number column)
        raise InvalidInput(f"{source}: {str(exc).splitlines()[0]}") from None

