"""Checks on a table before a model learns from it: columns that identify rows or
carry nothing are left out with the reason, so are columns that rise with the data's
order or time (production traffic would lie outside every value training saw), and
a column that alone predicts the label almost perfectly stops training (it most
likely leaks the answer).

They run on the tabular preprocessor's records (``screens_columns``); the report and
the CLI show what was used and what was ignored, and why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from aiaas.errors import InvalidInput

ROW_ID_NAME = re.compile(r"^(id|index|idx|row|row_?id|row_?number|unnamed: ?\d+|level_\d+)$", re.IGNORECASE)
LEAK_BAR = 0.99
MIN_ROWS_FOR_UNIQUE = 20
RISING_RANK_CORRELATION = 0.9
"""A numeric column whose rank correlation with the rows' order is at least this rises with it..."""
RISING_OUTSIDE = 0.5
"""...and is left out when at least this share of the newest rows lies outside the oldest rows' range."""


@dataclass
class ColumnScreen:
    """Which columns a model may learn from; ``ignored`` maps the others to the reason."""

    ignored: dict[str, str] = field(default_factory=dict)

    def notes(self) -> list[str]:
        return [f"left out column {name!r}: {reason}" for name, reason in self.ignored.items()]


def _runs_like_an_index(values: pd.Series) -> bool:
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.isna().any() or len(numbers) < 3 or not np.allclose(numbers, np.round(numbers)):
        return False
    steps = np.diff(np.sort(numbers.to_numpy(dtype="float64")))
    return bool(steps.min() > 0 and np.allclose(steps, steps[0]))


def why_ignored(name: str, values: pd.Series) -> str | None:
    """The reason a column is not a feature, or None when it is one."""
    present = values.dropna()
    if not name.strip():
        return "it has no header"
    if present.empty:
        return "every value is missing"
    if present.astype(str).nunique() == 1:
        return "it holds one value only"
    if pd.api.types.is_datetime64_any_dtype(values) or pd.api.types.is_bool_dtype(values):
        return None
    unique = present.astype(str).nunique() == len(values) and len(values) >= MIN_ROWS_FOR_UNIQUE
    if unique and _runs_like_an_index(values):
        return "it is a run of whole numbers, one per row (a saved index)"
    if unique and not pd.api.types.is_numeric_dtype(values) and not _looks_like_time(present):
        return "every row has its own value (an identifier)"
    if ROW_ID_NAME.match(name.strip()):
        return "its name says it numbers the rows"
    return None


def _is_time(values: pd.Series) -> bool:
    return pd.api.types.is_datetime64_any_dtype(values) or (not pd.api.types.is_numeric_dtype(values) and _looks_like_time(values.dropna()))


def _looks_like_time(values: pd.Series) -> bool:
    from aiaas.tabular import _is_datetime_text

    return _is_datetime_text(values)


def rises_with_order(values: pd.Series, order: np.ndarray, by: str) -> str | None:
    """Why a numeric column that rises (or falls) with the rows' order is not a feature: a
    counter, an auto-increment number or a time as a number. Fitted on the oldest rows, the
    model would see every newer value outside its range, so all future traffic would be
    unfamiliar and scored on values it never learned from. None when it does not."""
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return None
    ordered = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64")[order]
    ordered = ordered[np.isfinite(ordered)]
    n = len(ordered)
    if n < MIN_ROWS_FOR_UNIQUE or len(np.unique(ordered)) < max(10, n // 20):
        return None
    from scipy.stats import spearmanr

    rho = float(spearmanr(np.arange(n), ordered).statistic)
    if not np.isfinite(rho) or abs(rho) < RISING_RANK_CORRELATION:
        return None
    head, tail = ordered[: int(n * 0.7)], ordered[n - max(1, int(n * 0.15)):]
    outside = float(((tail < head.min()) | (tail > head.max())).mean())
    if outside < RISING_OUTSIDE:
        return None
    return (f"it {'rises' if rho > 0 else 'falls'} with {by} (rank correlation {rho:+.2f}): {outside:.0%} of the newest 15% of rows lie "
            f"outside the values of the oldest 70%, so production traffic would be outside every value training saw")


def screen_columns(records: pd.DataFrame, keep: tuple[str, ...] = (), drop: tuple[str, ...] = (), time_column: str | None = None,
                   in_order: bool = True) -> ColumnScreen:
    """Decide on the whole table which columns are not features (``keep`` overrides, ``drop`` adds).

    ``time_column`` is the column a time split orders by: it is never a raw feature (a datetime is
    still used through its recurring parts, hour of day and day of week, which ``aiaas.tabular`` makes),
    and the other columns are checked for rising with it; without it, with the rows' order in the file
    (``in_order``: whether ``records`` are in that order; a sample drawn from a stream is not)."""
    unknown = [c for c in (*keep, *drop) if c not in records.columns]
    if unknown:
        raise InvalidInput(f"--keep-columns/--drop-columns: no column {unknown[0]!r}; the columns are {', '.join(map(str, records.columns))}")
    screen = ColumnScreen()
    if time_column is not None:
        from aiaas.splits import order_key

        order, by = np.argsort(order_key(records[time_column]).to_numpy(), kind="stable"), f"the time column {time_column!r}"
    else:
        order, by = (np.arange(len(records)) if in_order else None), "the rows' order in the data"
    for name in records.columns:
        if name in drop:
            screen.ignored[name] = "dropped with --drop-columns"
        elif name in keep:
            continue
        elif name == time_column and not _is_time(records[name]):
            screen.ignored[name] = "it orders the time split (a time as a number is not a feature that recurs)"
        elif reason := why_ignored(str(name), records[name]) or (None if name == time_column or order is None else rises_with_order(records[name], order, by)):
            screen.ignored[name] = reason
    if len(screen.ignored) == records.shape[1]:
        raise InvalidInput(f"no column is left to learn from: {'; '.join(screen.notes())}")
    return screen


def single_column_scores(columns: list[dict[str, Any]], train: tuple[pd.DataFrame, np.ndarray], validation: tuple[pd.DataFrame, np.ndarray],
                         kind: str) -> dict[str, tuple[str, float]]:
    """How well each column alone predicts the label on validation: a shallow tree fitted on
    the training split, scored by ROC-AUC (binary), balanced accuracy (multiclass) or R²."""
    from sklearn import metrics
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    from aiaas.tabular import encode_column

    (x_train, y_train), (x_val, y_val) = train, validation
    if len(np.unique(y_val)) < 2 or kind not in ("binary", "multiclass", "regression"):
        return {}
    out = {}
    for column in columns:
        a = encode_column(column, x_train[column["name"]])
        b = encode_column(column, x_val[column["name"]])
        if a.shape[1] == 0:
            continue
        if kind == "regression":
            tree = DecisionTreeRegressor(max_depth=4, random_state=0).fit(a, y_train)
            out[column["name"]] = ("R²", float(metrics.r2_score(y_val, tree.predict(b))))
            continue
        tree = DecisionTreeClassifier(max_depth=4, class_weight="balanced", random_state=0).fit(a, y_train)
        if kind == "binary":
            auc = float(metrics.roc_auc_score(y_val, tree.predict_proba(b)[:, -1])) if len(tree.classes_) == 2 else 0.5
            out[column["name"]] = ("ROC-AUC", max(auc, 1 - auc))
        else:
            out[column["name"]] = ("balanced accuracy", float(metrics.balanced_accuracy_score(y_val, tree.predict(b))))
    return out


def check_leakage(columns: list[dict[str, Any]], train: tuple[pd.DataFrame, np.ndarray], validation: tuple[pd.DataFrame, np.ndarray],
                  kind: str, keep: tuple[str, ...] = ()) -> None:
    """Stop training when one column alone predicts the label almost perfectly on validation."""
    scores = single_column_scores([c for c in columns if c["name"] not in keep], train, validation, kind)
    leaking = [(name, metric, value) for name, (metric, value) in scores.items() if value >= LEAK_BAR]
    if leaking:
        name, metric, value = max(leaking, key=lambda item: item[2])
        raise InvalidInput(
            f"column {name!r} alone predicts the label almost perfectly on the validation split ({metric} {value:.3f}): "
            f"it most likely leaks the answer (a value known only after the outcome, or a saved index of sorted data). "
            f"Leave it out with --drop-columns {name}, or train with it anyway with --keep-columns {name}")
