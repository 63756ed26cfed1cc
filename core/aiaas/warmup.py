"""A version's warm-up batch: a few of its own training records, kept with the model so
a server can run them through the whole answer path (input checks, preprocessing, the
model, postprocessing, the explanation) before the version takes traffic.

Why: a version that has only been loaded still pays on its first request for lazy imports,
a framework's first call (Keras traces its graph), an explainer's set-up and per-version
memos, which is seconds. Triton and KServe warm a model before marking it ready; so does
aiaas. Fields a task never logs (``Task.log_omit``: a learner id, a file name) are blanked
before saving, so the warm-up batch holds no identifier. Values are JSON, arrays (images)
safetensors: nothing that can run code when read.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aiaas.errors import InvalidInput
from aiaas.state import State

if TYPE_CHECKING:
    import pandas as pd

    from aiaas.pipeline import Pipeline

STEM = "warmup"
ROWS = 2
log = logging.getLogger("aiaas.serving")


def save(folder: Path, records: pd.DataFrame, omit: tuple[str, ...] = (), rows: int = ROWS) -> None:
    """Keep the first ``rows`` records (a label column is not among records; ``omit`` fields are blanked)."""
    omit = (*omit, "path")  # an image record's file name, which in a hospital may name the patient
    meta: list[dict[str, Any]] = []
    arrays: dict[str, np.ndarray] = {}
    for i, record in enumerate(records.head(rows).to_dict(orient="records")):
        row: dict[str, Any] = {}
        for name, value in record.items():
            if name in omit:
                value = "warm-up" if isinstance(value, str) else None
            if isinstance(value, np.ndarray):
                arrays[f"{i}/{name}"] = np.ascontiguousarray(value)
                row[name] = {"$array": f"{i}/{name}"}
            elif isinstance(value, (datetime, date)):
                row[name] = {"$datetime": value.isoformat()}
            else:
                row[name] = _plain(value)
        meta.append(row)
    State({"rows": meta}, arrays).save(folder, STEM)


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, float) and value != value:  # NaN: a missing value
        return None
    if isinstance(value, (bytes, bytearray)):
        return None
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)


def load(folder: Path) -> list[dict[str, Any]] | None:
    """The warm-up rows as the request path makes them, or None for a version saved without them."""
    if not (folder / f"{STEM}.json").is_file():
        return None
    state = State.load(folder, STEM)
    rows = []
    for row in state.meta["rows"]:
        out = {}
        for name, value in row.items():
            if isinstance(value, dict) and "$array" in value:
                value = state.arrays[value["$array"]]
            elif isinstance(value, dict) and "$datetime" in value:
                value = datetime.fromisoformat(value["$datetime"])
            out[name] = value
        rows.append(out)
    return rows


def warm(pipeline: Pipeline, folder: Path) -> bool:
    """Run the version's warm-up batch through every answer it gives; False when it has none.
    An input the task refuses or flags is still a warm-up; any other failure is the version's
    and is raised, so a version that cannot answer never takes traffic."""
    from aiaas.tabular import frame_of_rows

    rows = load(folder)
    if not rows:
        log.info("%s version %s has no warm-up batch (saved before aiaas kept one): loaded, not warmed", pipeline.task.name, pipeline.version)
        return False
    records = frame_of_rows(rows)
    try:
        pipeline.answers(records, explain=True, refuse=False)
        if pipeline.explainer is not None:
            pipeline.explain(records)
    except InvalidInput as exc:  # its own records refused (an input check, a value the model cannot score): still warm
        log.info("%s version %s: warm-up batch answered with %s", pipeline.task.name, pipeline.version, exc)
    return True
