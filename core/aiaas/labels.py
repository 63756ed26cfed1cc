"""Raw label values from a user's file -> the indices a model trains on."""

from __future__ import annotations

import numpy as np
import pandas as pd

from aiaas.errors import InvalidInput
from aiaas.records import LabelSchema

_TRUE = {"1", "1.0", "true", "yes", "y", "t"}
_FALSE = {"0", "0.0", "false", "no", "n", "f"}
LABEL_MAP = "label_map"
"""The adapter option (``--label-map`` on the CLI) mapping a file's label values to the schema's labels."""


def parse_label_map(text: str | None) -> dict[str, str]:
    """``yes=accepted,no=rejected`` -> ``{"yes": "accepted", "no": "rejected"}``."""
    from aiaas.errors import UserError

    out: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        raw, sep, label = part.partition("=")
        if not sep or not raw.strip() or not label.strip():
            raise UserError(f"--label-map takes VALUE=LABEL pairs separated by commas (yes=accepted,no=rejected), got {part.strip()!r}")
        out[raw.strip()] = label.strip()
    return out


def mapped(raw: pd.Series, label_map: dict[str, str] | None) -> pd.Series:
    """A file's label values with ``label_map`` applied (values it does not name are left as they are)."""
    if not label_map:
        return raw
    lookup = {str(k).strip().lower(): v for k, v in label_map.items()}
    return raw.map(lambda v: lookup.get(str(v).strip().lower(), v) if not isinstance(v, (list, tuple, np.ndarray)) else v)


def mapping_note(schema: LabelSchema, values: list[object], label_map: dict[str, str] | None) -> str | None:
    """How a file's label values became the schema's labels, when they are not its labels' names; a
    label map naming a label the schema lacks is an error naming both."""
    from aiaas.errors import UserError

    names = {n.lower(): n for n in schema.names}
    if label_map:
        unknown = [v for v in label_map.values() if v.strip().lower() not in names]
        if unknown:
            raise UserError(f"--label-map maps to {unknown[0]!r}, which is not a label of {schema.name} ({', '.join(schema.names)})")
        return "by --label-map: " + ", ".join(f"{k!r} -> {names[v.strip().lower()]}" for k, v in label_map.items())
    if schema.kind not in ("binary", "multiclass"):
        return None
    text = sorted({str(v).strip() for v in values})
    if all(t.lower() in names for t in text):
        return None
    if schema.kind == "binary":
        positive = schema.positive or schema.names[1]
        negative = next(n for n in schema.names if n != positive)
        rule = ", ".join(f"{t!r} -> {positive if t.lower() in _TRUE else negative}" for t in text)
        return f"{rule} (the positive-value rule: 1, true and yes are the positive label {positive!r}; --label-map says otherwise)"
    return ", ".join(f"{t!r} -> {schema.names[int(float(t))]}" for t in text if t.replace('.', '', 1).isdigit()) + " (label indices in the schema's order)"


def encode(schema: LabelSchema, raw: pd.Series, column: str) -> np.ndarray:
    """Binary: 1 for the positive label, else 0; multiclass: the label's index;
    regression: the value; sequence: a ``(n, steps)`` array of 0/1 per step, -1 where
    a step is not scored or is padding. Accepts label names (any case) or, for binary,
    0/1 and true/false; anything else is refused naming the values."""
    if schema.kind == "sequence":
        return _steps(raw, column)
    if raw.isna().any():
        row = int(np.flatnonzero(raw.isna().to_numpy())[0])
        raise InvalidInput(f"label column {column!r} is empty in {int(raw.isna().sum())} row(s), first at row {row}")
    if schema.kind == "regression":
        values = pd.to_numeric(raw, errors="coerce")
        if values.isna().any():
            raise InvalidInput(f"label column {column!r} has non-numeric values such as {raw[values.isna()].iloc[0]!r}")
        return values.to_numpy(dtype="float32")
    text = raw.astype(str).str.strip().str.lower()
    names = [n.lower() for n in schema.names]
    if schema.kind == "binary":
        positive = schema.positive.lower() if schema.positive else names[1]
        if set(text) <= set(names):
            return (text == positive).to_numpy(dtype="int64")
        if set(text) <= _TRUE | _FALSE:
            return text.isin(_TRUE).to_numpy(dtype="int64")
    else:
        index = {n: i for i, n in enumerate(names)}
        if set(text) <= set(index):
            return text.map(index).to_numpy(dtype="int64")
        if set(text) <= {str(i) for i in range(len(names))}:
            return text.astype(int).to_numpy(dtype="int64")
    unexpected = sorted(set(text) - set(names))[:5]
    raise InvalidInput(
        f"label column {column!r} has values {unexpected} that are not labels of {schema.name} ({', '.join(schema.names)}); "
        f"map them with --label-map VALUE=LABEL,... (binary tasks also take 1/0, true/false and yes/no, the first being the positive label)"
    )


def _steps(raw: pd.Series, column: str) -> np.ndarray:
    """Per-step binary targets of sequence records, padded with -1 to the longest."""
    from aiaas.sequences import pad

    rows = []
    for i, steps in enumerate(raw):
        if not isinstance(steps, (list, tuple, np.ndarray)):
            raise InvalidInput(f"label column {column!r} holds {type(steps).__name__} at row {i}; a sequence task's label is a list per record")
        row = [-1 if v is None or (isinstance(v, float) and np.isnan(v)) else int(v) for v in steps]
        if any(v not in (-1, 0, 1) for v in row):
            raise InvalidInput(f"label column {column!r} has step values other than 0 and 1 at row {i}")
        rows.append(row)
    return pad(rows, value=-1, dtype="int64")
