"""Offline batch scoring: a file in, the same rows with their answers out, each with
its input check as columns (``in_distribution``, ``novelty``, ``unfamiliar_reasons``,
``refused``: a row the task would refuse is written with its check and no answer)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from rich.progress import Progress

from aiaas.errors import UserError
from aiaas.plugins import Host
from aiaas.registry import Registry
from aiaas.loading import load_data
from aiaas.versions import load_version

CHUNK = 2048


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


def score_file(host: Host, registry: Registry, task: str, source: Path, target: Path, version: int | None,
               adapter: str | None, options: dict[str, Any]) -> Scored:
    if target.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise UserError(f"--output {target}: write .csv or .parquet")
    pipeline = load_version(host, registry, task, version)
    dataset = load_data(host, task, source, pipeline.manifest.get("label_column"), adapter, options, labelled=False)
    records = dataset.records
    answers: list[dict[str, Any]] = []
    with Progress(transient=True) as progress:
        bar = progress.add_task(f"scoring {source.name}", total=len(records))
        for start in range(0, len(records), CHUNK):
            chunk = records.iloc[start : start + CHUNK]
            answers.extend(flatten(a) for a in pipeline.answers(chunk, explain=False, refuse=False))
            progress.update(bar, advance=len(chunk))
    answered = pd.DataFrame(answers)
    kept = cell_columns(records).drop(columns=[c for c in answered.columns if c in records.columns])  # the answer's own wins
    scored = pd.concat([kept.reset_index(drop=True), answered], axis=1)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    if target.suffix.lower() == ".csv":
        scored.to_csv(partial, index=False)
    else:
        scored.to_parquet(partial, index=False)
    partial.replace(target)
    flagged = int((~scored["in_distribution"].astype(bool)).sum()) if "in_distribution" in scored else 0
    return Scored(len(scored), flagged, int(scored["refused"].sum()) if "refused" in scored else 0)
