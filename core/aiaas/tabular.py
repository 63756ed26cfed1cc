"""A general preprocessor for tables: infers each column's kind from the training
split, encodes it, and builds the served input schema from what it saw.

Column kinds: ``numeric`` (median-imputed, standardised), ``log`` (a non-negative,
heavily right-skewed numeric column such as an amount: log1p first), ``boolean``,
``category`` (the most frequent values one-hot, the rest as "other"), ``datetime``
(hour of day and day of week on the circle) and ``identifier`` (not used, and not in
the served schema).
"""

from __future__ import annotations

import re
import weakref
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, StrictBool, StrictFloat, create_model

from aiaas.errors import InvalidInput
from aiaas.state import State

MAX_CATEGORIES = 30
ID_NAME = re.compile(r"(^id$|_id$|^id_|Id$|ID$)")


def _is_datetime_text(values: pd.Series) -> bool:
    sample = values.dropna().astype(str).head(50)
    if sample.empty or not sample.str.contains(r"\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2}", regex=True).all():
        return False
    return bool(to_datetime(sample).notna().all())


def to_datetime(values: pd.Series) -> pd.Series:
    parsed = pd.to_datetime(values, errors="coerce", utc=True, format="mixed")
    return parsed.dt.tz_convert(None)


def infer_column(name: str, values: pd.Series) -> dict[str, Any]:
    """The kind of one column and the statistics its encoding needs (training split only)."""
    column: dict[str, Any] = {"name": name, "required": bool(values.notna().all())}
    non_null = values.dropna()
    if pd.api.types.is_bool_dtype(values):
        mode = bool(non_null.mode().iloc[0]) if len(non_null) else False
        return {**column, "kind": "boolean", "baseline": mode}
    if pd.api.types.is_datetime64_any_dtype(values) or (not pd.api.types.is_numeric_dtype(values) and _is_datetime_text(values)):
        stamps = to_datetime(values).dropna()
        return {**column, "kind": "datetime", "baseline": stamps.median().isoformat() if len(stamps) else None}
    if pd.api.types.is_numeric_dtype(values):
        floats = non_null.astype("float64")
        median = float(floats.median()) if len(floats) else 0.0
        kind = "log" if len(floats) and floats.min() >= 0 and floats.skew() > 2 else "numeric"
        encoded = np.log1p(floats) if kind == "log" else floats
        std = float(encoded.std()) if len(encoded) > 1 else 1.0
        return {**column, "kind": kind, "baseline": median, "median": median,
                "mean": float(encoded.mean()) if len(encoded) else 0.0, "std": std if std > 1e-9 else 1.0}
    text = non_null.astype(str)
    if ID_NAME.search(name) or (len(text) > 50 and text.nunique() > 0.5 * len(text)):
        return {**column, "kind": "identifier", "required": False, "baseline": None}
    counts = text.value_counts()
    categories = [str(c) for c in counts.index[:MAX_CATEGORIES]]
    return {**column, "kind": "category", "categories": categories, "baseline": categories[0] if categories else ""}


MAX_COUNTED = 10_000
"""Distinct values a streamed summary counts per column; past it the rarest are let go (a category
list keeps the 30 most frequent, so only a column with many values near the cut is approximate)."""


def column_summary(values: pd.Series) -> dict[str, Any]:
    out: dict[str, Any] = {"rows": len(values), "nulls": int(values.isna().sum())}
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        x = values.dropna().to_numpy(dtype="float64")
        logged = np.log1p(np.clip(x, 0, None))
        out["moments"] = [len(x), float(x.sum()), float((x * x).sum()), float(logged.sum()), float((logged * logged).sum())]
    elif not pd.api.types.is_datetime64_any_dtype(values):
        counts = values.dropna().astype(str).value_counts()
        out["counts"] = {str(k): int(v) for k, v in counts.head(MAX_COUNTED).items()}
    return out


def merge_columns(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"rows": a["rows"] + b["rows"], "nulls": a["nulls"] + b["nulls"]}
    if "moments" in a or "moments" in b:
        out["moments"] = [x + y for x, y in zip(a.get("moments", [0.0] * 5), b.get("moments", [0.0] * 5))]
    if "counts" in a or "counts" in b:
        counts = dict(a.get("counts", {}))
        for k, v in b.get("counts", {}).items():
            counts[k] = counts.get(k, 0) + v
        if len(counts) > MAX_COUNTED:
            counts = dict(sorted(counts.items(), key=lambda kv: -kv[1])[:MAX_COUNTED])
        out["counts"] = counts
    return out


def refine(column: dict[str, Any], exact: dict[str, Any]) -> None:
    """A column fitted on a sample, made exact where the stream's summary knows better."""
    if column["kind"] != "identifier":
        column["required"] = exact["nulls"] == 0
    moments = exact.get("moments")
    if column["kind"] in ("numeric", "log") and moments and moments[0] > 0:
        n, total, squares = moments[0], *(moments[3:5] if column["kind"] == "log" else moments[1:3])
        mean = total / n
        variance = max(squares - n * mean * mean, 0.0) / max(n - 1, 1)
        std = float(np.sqrt(variance)) if n > 1 else 1.0
        column.update(mean=float(mean), std=std if std > 1e-9 else 1.0)
    if column["kind"] == "category" and exact.get("counts"):
        ranked = sorted(exact["counts"].items(), key=lambda kv: -kv[1])
        column["categories"] = [k for k, _ in ranked[:MAX_CATEGORIES]]
        column["baseline"] = column["categories"][0]


def feature_names(column: dict[str, Any]) -> list[str]:
    name, kind = column["name"], column["kind"]
    if kind == "category":
        return [f"{name}={c}" for c in column["categories"]] + [f"{name}=<other>"]
    if kind == "datetime":
        return [f"{name}.hour_sin", f"{name}.hour_cos", f"{name}.weekday_sin", f"{name}.weekday_cos"]
    if kind == "identifier":
        return []
    return [name]


TRUTHY = frozenset(["1", "1.0", "true", "yes", "y", "t"])
_INDEXES: dict[int, tuple[list[str], dict[str, int]]] = {}


def texts_of(values: pd.Series | np.ndarray) -> list[str | None]:
    """Each value as the text a category is matched by (None when missing): a plain loop,
    since pandas' string methods cost more than the work on a request's few rows."""
    raw = values.to_numpy(dtype=object) if isinstance(values, pd.Series) else values.astype(object, copy=False)
    return [None if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v) else str(v) for v in raw]


def category_index(categories: list[str]) -> dict[str, int]:
    """category -> position, built once per fitted list (unseen or missing: "other", the last)."""
    cached = _INDEXES.get(id(categories))
    if cached is None or cached[0] is not categories:
        if len(_INDEXES) > 1000:  # versions come and go in a long-running server
            _INDEXES.clear()
        cached = (categories, {c: i for i, c in enumerate(categories)})
        _INDEXES[id(categories)] = cached
    return cached[1]


Z_LIMIT = 1e4
"""Standardised numbers are read within this many spreads of the training mean."""


def encode_column(column: dict[str, Any], values: pd.Series | np.ndarray) -> np.ndarray:
    """One column's features, ``(rows, width)``, by its fitted kind. Works on the column's
    numpy array where it can: pandas calls cost more than the work on a request's few rows."""
    kind, name = column["kind"], column["name"]
    raw = values.to_numpy() if isinstance(values, pd.Series) else values
    if kind in ("numeric", "log"):
        x = _floats(raw, name)
        x = np.where(np.isnan(x), column["median"], x)
        if kind == "log":
            x = np.log1p(np.clip(x, 0, None))
        with np.errstate(over="ignore"):
            z = (x - column["mean"]) / column["std"]
        # A value thousands of spreads past training (1e300) reads as the edge: the model still gives a number,
        # and the input checks, which read the raw value, flag it as far outside the training range.
        return np.clip(z, -Z_LIMIT, Z_LIMIT)[:, None]
    if kind == "boolean":
        if raw.dtype == bool:
            return raw.astype("float64")[:, None]
        baseline = float(column["baseline"])
        return np.array([baseline if t is None else float(t.strip().lower() in TRUTHY) for t in texts_of(raw)])[:, None]
    if kind == "category":
        categories = column["categories"]
        index = category_index(categories)
        codes = np.array([index.get(t, len(categories)) if t is not None else len(categories) for t in texts_of(raw)], dtype="int64")
        onehot = np.zeros((len(raw), len(categories) + 1))
        onehot[np.arange(len(raw)), codes] = 1.0
        return onehot
    if kind == "datetime":
        if raw.dtype == object and _plain_times(raw):
            raw = np.array([None if v is None else v for v in raw], dtype="datetime64[us]")
        if raw.dtype.kind == "M":  # plain datetimes (what the API's validated instances become): arithmetic on the integers
            stamps = raw.astype("datetime64[m]")
            missing = np.isnat(stamps)
            if missing.any():
                stamps = np.where(missing, np.datetime64(column["baseline"] or "1970-01-01T00:00", "m"), stamps)
            minutes = stamps.astype("int64")
            hour = (minutes % 1440) / 60 * 2 * np.pi / 24
            day = ((minutes // 1440 + 3) % 7) * 2 * np.pi / 7  # 1970-01-01 was a Thursday: Monday is 0
            return np.stack([np.sin(hour), np.cos(hour), np.sin(day), np.cos(day)], axis=1)
        values = pd.Series(raw)
        stamps = to_datetime(values)
        if (stamps.isna() & values.notna()).any():
            row = int(np.flatnonzero((stamps.isna() & values.notna()).to_numpy())[0])
            raise InvalidInput(f"column {name!r}: {values.iloc[row]!r} in row {row} is not a date and time", (row, name))
        fallback = pd.Timestamp(column["baseline"]) if column["baseline"] else pd.Timestamp(0)
        stamps = stamps.fillna(fallback)
        hour = (stamps.dt.hour + stamps.dt.minute / 60).to_numpy() * 2 * np.pi / 24
        day = stamps.dt.dayofweek.to_numpy() * 2 * np.pi / 7
        return np.stack([np.sin(hour), np.cos(hour), np.sin(day), np.cos(day)], axis=1)
    return np.zeros((len(raw), 0))


def _plain_times(raw: np.ndarray) -> bool:
    """Whether an object column holds only datetimes without a zone (and gaps)."""
    return all(v is None or (isinstance(v, datetime) and v.tzinfo is None) for v in raw)


def _floats(raw: np.ndarray, name: str) -> np.ndarray:
    if raw.dtype.kind in "biuf":  # already numbers
        return raw.astype("float64")
    if raw.dtype == object:
        try:  # numbers and None (a field the request left out) convert at once; anything else is named below
            return np.array(raw, dtype="float64")
        except (TypeError, ValueError):
            pass
    values = pd.Series(raw)
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() & values.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InvalidInput(f"column {name!r}: {values.iloc[row]!r} in row {row} is not a number", (row, name))
    return numbers.to_numpy(dtype="float64", na_value=np.nan)


_LAST_COLUMNS: tuple[Any, dict[str, np.ndarray]] | None = None


class _Plan:
    """Where each fitted column's features go, and the number columns' statistics as arrays: made once per
    fitted state, so a request encodes all its numbers in a few numpy calls."""

    def __init__(self, columns: list[dict[str, Any]]) -> None:
        self.spans: list[tuple[dict[str, Any], tuple[int, int]]] = []
        start = 0
        for c in columns:
            width = encode_column(c, _absent(c, 1)).shape[1]  # a column's width, from the encoding itself
            self.spans.append((c, (start, start + width)))
            start += width
        self.width = start
        self.numeric = [c for c in columns if c["kind"] in ("numeric", "log")]
        self.numeric_names = [c["name"] for c in self.numeric]
        self.numeric_at = np.array([span[0] for c, span in self.spans if c["kind"] in ("numeric", "log")], dtype="int64")
        self.others = [(c, span) for c, span in self.spans if c["kind"] not in ("numeric", "log")]
        self.medians = np.array([float(c["median"]) for c in self.numeric])
        self.means = np.array([float(c["mean"]) for c in self.numeric])
        self.stds = np.array([float(c["std"]) for c in self.numeric])
        self.logged = np.array([c["kind"] == "log" for c in self.numeric], dtype=bool)


_PLANS: dict[int, tuple[list[dict[str, Any]], _Plan]] = {}
STACKED_ROWS = 1024
"""Batches up to this many rows stack their columns into one array (a request: a few calls instead of one per column);
larger ones (training, scoring a file) go column by column, so a mixed-type column never boxes the whole table."""


def stacked(arrays: dict[str, np.ndarray], names: list[str], rows: int) -> np.ndarray:
    """The named columns side by side, ``(rows, len(names))``, one absent from ``arrays`` as missing values: work
    that is per column in a loop becomes a few calls on one array (a wide table's request has hundreds of columns)."""
    if not names:
        return np.empty((rows, 0), dtype=object)
    missing = np.full(rows, None, dtype=object)
    return np.stack([arrays.get(name, missing) for name in names], axis=1)


def number_block(arrays: dict[str, np.ndarray], names: list[str], rows: int,
                 convert: Any) -> np.ndarray:  # noqa: ANN401 - convert: (values, name) -> float64 array
    """The named columns as float64, ``(rows, len(names))``, missing values NaN: in one conversion when every value
    is a number or missing, else column by column through ``convert`` (which names a value that is not a number)."""
    if rows <= STACKED_ROWS:
        try:
            return np.array(stacked(arrays, names, rows), dtype="float64")
        except (TypeError, ValueError):
            pass
    if not names:
        return np.empty((rows, 0))
    return np.column_stack([convert(arrays[name], name) if name in arrays else np.full(rows, np.nan) for name in names])


def column_spans(columns: list[dict[str, Any]]) -> list[tuple[dict[str, Any], tuple[int, int]]]:
    """Each fitted column with the (start, end) of its features in the encoded row."""
    return _plan(columns).spans


def _plan(columns: list[dict[str, Any]]) -> _Plan:
    """The plan of a fitted state's column list (by identity: a loaded version keeps its list for its life)."""
    found = _PLANS.get(id(columns))
    if found is not None and found[0] is columns:
        return found[1]
    if len(_PLANS) > 256:  # versions come and go in a long-lived server
        _PLANS.clear()
    made = _Plan(columns)
    _PLANS[id(columns)] = (columns, made)
    return made


def frame_of_rows(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The records of a request's rows as one frame of Python values (object columns), made in
    one block: pandas infers a type per column at some 30 microseconds each, which is most of a
    lone request's cost. The columns' arrays are remembered for ``columns_of``; the table encoder
    and the input checks read numbers, times and text from object arrays directly."""
    global _LAST_COLUMNS
    names = list(dict.fromkeys(name for row in rows for name in row))
    matrix = np.empty((len(rows), len(names)), dtype=object)
    for i, row in enumerate(rows):
        for j, name in enumerate(names):
            matrix[i, j] = row.get(name)  # one cell at a time: a cell may hold an array (an image)
    frame = pd.DataFrame(matrix, columns=names, dtype=object, copy=False)
    _LAST_COLUMNS = (weakref.ref(frame), {name: matrix[:, j] for j, name in enumerate(names)})
    return frame


def columns_of(records: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each column's numpy array, taken once per batch (each pandas column access costs microseconds):
    the input checks, the encoding and the explanation of one batch share them (a one-slot cache by identity)."""
    global _LAST_COLUMNS
    cached = _LAST_COLUMNS
    if cached is not None and cached[0]() is records:
        return cached[1]
    arrays = {name: records[name].to_numpy() for name in records.columns}
    _LAST_COLUMNS = (weakref.ref(records), arrays)
    return arrays


def _absent(column: dict[str, Any], rows: int) -> np.ndarray:
    """An optional column a request left out: missing values of a type its encoding reads fast."""
    if column["kind"] in ("numeric", "log"):
        return np.full(rows, np.nan)
    if column["kind"] == "datetime":
        return np.full(rows, np.datetime64("NaT"), dtype="datetime64[ns]")
    return np.full(rows, None, dtype=object)


# strict: a number is a number, not true or "249"
_PYDANTIC_TYPES: dict[str, Any] = {"numeric": StrictFloat, "log": StrictFloat, "boolean": StrictBool, "category": str, "datetime": datetime, "identifier": str}


class TabularPreprocessor:
    """Fit on the training split; state is the column list as JSON (see module doc).
    Training screens the table's columns first (``aiaas.datachecks``)."""

    screens_columns = True

    def fit(self, records: pd.DataFrame, labels: pd.Series | None = None, options: dict[str, Any] | None = None) -> State:
        if records.shape[1] == 0:
            raise InvalidInput("the data has no feature columns besides the label")
        columns = [infer_column(str(name), records[name]) for name in records.columns]
        if not any(c["kind"] != "identifier" for c in columns):
            raise InvalidInput("every column looks like an identifier; no features to learn from")
        features = [f for c in columns for f in feature_names(c)]
        return State(meta={"columns": columns, "feature_names": features})

    def transform(self, records: pd.DataFrame, state: State) -> dict[str, np.ndarray]:
        columns = state.meta["columns"]
        arrays = columns_of(records)
        missing = [c["name"] for c in columns if c["required"] and c["kind"] != "identifier" and c["name"] not in arrays]
        if missing:
            raise InvalidInput(f"missing column(s) {', '.join(map(repr, missing))}; the model was trained with them", (missing[0],))
        plan = _plan(columns)
        rows = len(records)
        features = np.empty((rows, plan.width), dtype="float64")
        if plan.numeric:  # every number column at once: a request's cost is per numpy call, not per value
            x = number_block(arrays, plan.numeric_names, rows, _floats)
            x = np.where(np.isnan(x), plan.medians, x)
            if plan.logged.any():
                x[:, plan.logged] = np.log1p(np.clip(x[:, plan.logged], 0, None))
            with np.errstate(over="ignore", invalid="ignore"):
                # A value thousands of spreads past training (1e300) reads as the edge: the model still gives a number,
                # and the input checks, which read the raw value, flag it as far outside the training range.
                features[:, plan.numeric_at] = np.clip((x - plan.means) / plan.stds, -Z_LIMIT, Z_LIMIT)
        for c, (start, end) in plan.others:
            features[:, start:end] = encode_column(c, arrays[c["name"]] if c["name"] in arrays else _absent(c, rows))
        with np.errstate(over="ignore", invalid="ignore"):
            features = features.astype("float32")
        if not np.isfinite(features).all():  # a number past float32's range (or made infinite by encoding) would answer NaN
            for c, (start, end) in plan.spans:
                bad = ~np.isfinite(features[:, start:end]).all(axis=1)
                if bad.any():
                    row = int(np.flatnonzero(bad)[0])
                    value = arrays[c["name"]][row] if c["name"] in arrays else None
                    raise InvalidInput(f"{value!r} is out of the range this model reads for {c['name']!r}", (row, c["name"]))
        return {"features": features}

    # -- fitting from a stream: partial states that merge ----------------------

    def summarize(self, records: pd.DataFrame, labels: pd.Series | None = None, options: dict[str, Any] | None = None) -> dict[str, Any]:
        """One chunk's partial state: per column its rows, gaps, moments (numbers) and value counts (text)."""
        return {"rows": len(records), "columns": {str(name): column_summary(records[name]) for name in records.columns}}

    def merge(self, a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
        names = list(dict.fromkeys([*a["columns"], *b["columns"]]))
        absent = lambda part: {"rows": part["rows"], "nulls": part["rows"]}  # noqa: E731  a column a chunk lacked: every row a gap
        return {"rows": a["rows"] + b["rows"],
                "columns": {n: merge_columns(a["columns"].get(n, absent(a)), b["columns"].get(n, absent(b))) for n in names}}

    def finish(self, summary: dict[str, Any], sample: pd.DataFrame, labels: pd.Series | None = None,
               options: dict[str, Any] | None = None) -> State:
        """The state ``fit`` would give on all the rows summarised: each column's kind is read from the
        bounded ``sample`` (as ``fit`` reads it), its gaps, spread and categories from the exact summary;
        a median is the sample's."""
        state = self.fit(sample, labels, options)
        for column in state.meta["columns"]:
            exact = summary["columns"].get(column["name"])
            if exact is not None:
                refine(column, exact)
        return state

    # -- what the served API and explanations need -----------------------------

    def used_columns(self, state: State) -> list[dict[str, Any]]:
        return [c for c in state.meta["columns"] if c["kind"] != "identifier"]

    def feature_columns(self, state: State) -> list[str]:
        return [c["name"] for c in state.meta["columns"] if c["kind"] != "identifier"]

    def column_features(self, state: State) -> dict[str, slice]:
        """Where each used column's features sit in the model input ``features``: an explanation can set
        a column to its baseline in the encoded inputs, without encoding the table again."""
        out, start = {}, 0
        for c in state.meta["columns"]:
            width = len(feature_names(c))
            if c["kind"] != "identifier":
                out[c["name"]] = slice(start, start + width)
            start += width
        return out

    def baselines(self, state: State) -> dict[str, Any]:
        return {c["name"]: c["baseline"] for c in state.meta["columns"] if c["kind"] != "identifier"}

    def input_model(self, state: State, default: type[BaseModel] | None) -> type[BaseModel]:
        """The task's own instance model when the data had its columns (a field of it the model was not
        trained on becomes optional: it is not asked of every request only to be ignored), else one built
        from the columns seen in training (unknown fields are refused)."""
        columns = state.meta["columns"]
        if default is not None:
            ignored, missing = field_mismatch(default, self.feature_columns(state))
            if not missing:
                if not ignored:
                    return default
                optional = {name: (default.model_fields[name].annotation | None, None) for name in ignored}  # type: ignore[operator]
                return create_model(default.__name__, __base__=default, **optional)  # type: ignore[call-overload,no-any-return]
        definitions: dict[str, Any] = {}
        for c in columns:
            if c["kind"] == "identifier":  # not used by the model, so not part of what is served
                continue
            python_type = _PYDANTIC_TYPES[c["kind"]]
            definitions[c["name"]] = (python_type, ...) if c["required"] else (python_type | None, None)
        return create_model("Instance", __config__=ConfigDict(extra="forbid"), **definitions)


def field_mismatch(model: type[BaseModel], trained: list[str]) -> tuple[list[str], list[str]]:
    """The input model's required fields the model was not trained on (asked of every request, then ignored;
    an optional one, an id kept for logging, is not), and trained columns it lacks (missing)."""
    fields = model.model_fields
    return sorted(n for n, f in fields.items() if f.is_required() and n not in set(trained)), [c for c in trained if c not in fields]


def mismatch_notes(model: type[BaseModel], trained: list[str]) -> list[str]:
    """What ``field_mismatch`` finds, as notes a plugin author can act on."""
    ignored, missing = field_mismatch(model, trained)
    notes = [f"the input model {model.__name__}'s required field {name!r} is not a column the model was trained on: it is served as "
             f"optional, and ignored" for name in ignored] if not missing else []
    if missing:
        notes.append(f"trained column(s) {', '.join(map(repr, missing))} are not fields of the input model {model.__name__}: the served "
                     f"schema is built from the trained columns instead ({', '.join(trained)})")
    return notes

