"""Offline batch scoring: a file in, the same rows with their answers out, each with
its input check as columns (``in_distribution``, ``novelty``, ``unfamiliar_reasons``,
``refused``: a row the task would refuse is written with its check and no answer).

``--output`` a ``.csv`` or ``.parquet`` file: the data is read whole and written as one file.
``--output`` a folder: the data streams through the adapter's stream form in chunks and each
chunk becomes one Parquet partition (``part-00000.parquet``, ...), so memory stays bounded
however large the input. A partition is written under a temporary name and renamed, so a
killed run leaves whole partitions only; run the same command again and it scores only the
chunks that have none (``_scoring.json`` records what the folder holds and must match).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from rich.progress import Progress

from aiaas.errors import UserError
from aiaas.plugins import Host
from aiaas.registry import Registry
from aiaas.loading import load_data
from aiaas.versions import load_version

if TYPE_CHECKING:
    from aiaas.pipeline import Pipeline

CHUNK = 2048
BATCH_ROWS = 65_536
"""Rows of one Parquet partition when scoring into a folder."""


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def flatten(answer: dict[str, Any]) -> dict[str, Any]:
    """Scalars stay columns; an object of scalars becomes a column per key
    (``probabilities.pneumonia``); other lists and objects become JSON text."""
    out: dict[str, Any] = {}
    check = answer.pop("input_check", None)
    for k, v in answer.items():
        if isinstance(v, dict) and v and all(_scalar(x) for x in v.values()):
            out.update({f"{k}.{sub}": x for sub, x in v.items()})
        else:
            out[k] = json.dumps(v, default=str) if isinstance(v, (list, dict)) else v
    if check is not None:  # the flag, its score and reasons as plain columns a spreadsheet filters on
        out.update({"in_distribution": check["in_distribution"], "novelty": check["novelty"],
                    "unfamiliar_reasons": "; ".join(check["reasons"]), "refused": bool(check.get("refused", False))})
    return out


def cell_columns(records: pd.DataFrame) -> pd.DataFrame:
    """The columns that fit in a table cell: an image's pixels or metadata do not."""
    keep = [c for c in records.columns
            if records[c].dtype != object or records[c].map(lambda v: _scalar(v) or hasattr(v, "isoformat")).all()]
    return records[keep]


@dataclass(frozen=True)
class Scored:
    rows: int
    flagged: int
    refused: int
    resumed: int = 0
    """Rows an earlier, stopped run had already written (a folder's partitions)."""


def score_records(pipeline: Pipeline, records: pd.DataFrame, progress: Callable[[int], None] = lambda rows: None) -> pd.DataFrame:
    """The records that fit in a cell, with each one's flattened answer and input check beside it."""
    answers: list[dict[str, Any]] = []
    for start in range(0, len(records), CHUNK):
        chunk = records.iloc[start : start + CHUNK]
        answers.extend(flatten(a) for a in pipeline.answers(chunk, explain=False, refuse=False))
        progress(len(chunk))
    answered = pd.DataFrame(answers)
    kept = cell_columns(records).drop(columns=[c for c in answered.columns if c in records.columns])  # the answer's own wins
    return pd.concat([kept.reset_index(drop=True), answered], axis=1)


def tally(scored: pd.DataFrame) -> Scored:
    flagged = int((~scored["in_distribution"].astype(bool)).sum()) if "in_distribution" in scored else 0
    return Scored(len(scored), flagged, int(scored["refused"].sum()) if "refused" in scored else 0)


def score_file(host: Host, registry: Registry, task: str, source: Path, target: Path, version: int | None,
               adapter: str | None, options: dict[str, Any], batch_rows: int = BATCH_ROWS) -> Scored:
    if not target.suffix:
        return score_to_folder(host, registry, task, source, target, version, adapter, options, batch_rows)
    if target.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise UserError(f"--output {target}: write .csv or .parquet, or name a folder for Parquet partitions")
    pipeline = load_version(host, registry, task, version)
    dataset = load_data(host, task, source, pipeline.manifest.get("label_column"), adapter, options, labelled=False)
    with Progress(transient=True) as progress:
        bar = progress.add_task(f"scoring {source.name}", total=len(dataset.records))
        scored = score_records(pipeline, dataset.records, lambda rows: progress.update(bar, advance=rows))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    if target.suffix.lower() == ".csv":
        scored.to_csv(partial, index=False)
    else:
        scored.to_parquet(partial, index=False)
    partial.replace(target)
    return tally(scored)


def partition_schema(scored: Any) -> Any:
    """The column types partitions take from one scored table (pandas or Arrow): a column of nulls becomes text."""
    import pyarrow as pa

    table = scored if isinstance(scored, pa.Table) else pa.Table.from_pandas(scored, preserve_index=False)
    return pa.schema([f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in table.schema]).remove_metadata()


def write_partition(scored: pd.DataFrame, path: Path, schema: Any = None) -> Any:
    """One partition, whole or not at all (written under a temporary name, then renamed). Later partitions take
    the first one's column types, so the folder reads back as one table."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(scored, preserve_index=False)
    schema = schema or partition_schema(table)
    table = table.select([n for n in schema.names if n in table.column_names])
    missing = [f for f in schema if f.name not in table.column_names]
    for f in missing:
        table = table.append_column(f, pa.nulls(len(table), f.type))
    table = table.select(schema.names).cast(schema, safe=False)
    partial = path.with_name(f".{path.name}.partial")
    pq.write_table(table, partial)
    partial.replace(path)
    return schema


def claim_folder(target: Path, claim: dict[str, Any]) -> None:
    """Mark ``target`` as holding the partitions of this scoring; refuse one that holds another's."""
    target.mkdir(parents=True, exist_ok=True)
    marker = target / "_scoring.json"
    if marker.exists() and json.loads(marker.read_text()) != claim:
        raise UserError(f"--output {target}: holds partitions of another scoring ({marker.read_text().strip()}); name an empty folder")
    marker.write_text(json.dumps(claim))


def score_partition(pipeline: Pipeline, records: pd.DataFrame, path: Path, schema: Any,
                    progress: Callable[[int], None] = lambda rows: None) -> tuple[Scored, Any]:
    """One chunk scored into its partition, or skipped (``resumed``) where an earlier run wrote it:
    a row is never written twice."""
    if path.exists():
        progress(len(records))
        return Scored(0, 0, 0, len(records)), schema
    scored = score_records(pipeline, records, progress)
    return tally(scored), write_partition(scored, path, schema)


def add(a: Scored, b: Scored) -> Scored:
    return Scored(a.rows + b.rows, a.flagged + b.flagged, a.refused + b.refused, a.resumed + b.resumed)


def score_to_folder(host: Host, registry: Registry, task: str, source: Path, target: Path, version: int | None,
                    adapter: str | None, options: dict[str, Any], batch_rows: int) -> Scored:
    from aiaas.dataplane.chunks import chunks_of

    pipeline = load_version(host, registry, task, version)
    chunks = chunks_of(host, task, source, pipeline.manifest.get("label_column"), adapter, options, batch_rows, labelled=False)
    claim_folder(target, {"task": task, "version": pipeline.version, "input": str(source), "batch_rows": batch_rows})
    total, schema = Scored(0, 0, 0), None
    with Progress(transient=True) as progress:
        bar = progress.add_task(f"scoring {source}", total=None)
        for index, chunk in enumerate(chunks):
            done, schema = score_partition(pipeline, chunk.records, target / f"part-{index:05d}.parquet", schema,
                                           lambda rows: progress.update(bar, advance=rows))
            total = add(total, done)
    return total
