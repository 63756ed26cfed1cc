"""Train / validation / test splits by the task's policy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from aiaas.errors import InvalidInput
from aiaas.records import SplitPolicy

MIN_ROWS = 30


@dataclass(frozen=True)
class Split:
    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    description: str


def time_column(records: pd.DataFrame, policy: SplitPolicy) -> str | None:
    """The column a time split orders by, when the policy is a time split and the data has one."""
    return _find(records, policy.columns) if policy.kind == "time" else None


def _group_keys(values: pd.Series) -> np.ndarray:
    """Each row's group; a row without a group value is a group of its own."""
    rows = pd.Series(np.arange(len(values)), index=values.index).astype(str)
    return np.where(values.notna(), "g:" + values.astype(str), "row:" + rows).astype(str)


def group_column(records: pd.DataFrame, policy: SplitPolicy) -> str | None:
    """The column a group split keeps together, when the policy is a group split and the data has one."""
    return _find(records, policy.columns) if policy.kind == "group" else None


def groups_of(records: pd.DataFrame, policy: SplitPolicy) -> np.ndarray | None:
    """The group of each row, when the policy keeps groups together and the data names them: what a
    bootstrap resamples whole (``aiaas.intervals``)."""
    column = group_column(records, policy)
    return None if column is None else _group_keys(records[column])


def _find(records: pd.DataFrame, names: tuple[str, ...]) -> str | None:
    """The first named column present with at least one value."""
    lowered = {str(c).lower(): str(c) for c in records.columns}
    for name in names:
        if name.lower() in lowered and records[lowered[name.lower()]].notna().any():
            return lowered[name.lower()]
    return None


def order_key(values: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values):
        return values
    from aiaas.tabular import to_datetime

    return to_datetime(values)


def split(records: pd.DataFrame, y: np.ndarray, policy: SplitPolicy, seed: int = 0) -> Split:
    n = len(records)
    if n < MIN_ROWS:
        raise InvalidInput(f"the data has {n} rows; at least {MIN_ROWS} are needed to train, validate and test")
    n_test = max(1, int(round(n * policy.test)))
    n_val = max(1, int(round(n * policy.validation)))
    column = _find(records, policy.columns)
    if policy.kind == "time" and column:
        order = np.argsort(order_key(records[column]).to_numpy(), kind="stable")
        train, val, test = order[: n - n_val - n_test], order[n - n_val - n_test : n - n_test], order[n - n_test :]
        return Split(train, val, test, f"by time ({column!r}): oldest rows train, newest test")
    rng = np.random.default_rng(seed)
    if policy.kind == "group" and column:
        # A row without a group value is a group of its own.
        groups = _group_keys(records[column])
        unique = rng.permutation(np.unique(groups))
        sizes = pd.Series(groups).value_counts()
        cumulative = np.cumsum(sizes.loc[unique].to_numpy())
        test_groups = set(unique[cumulative <= n_test]) or {unique[0]}
        val_groups = set(unique[(cumulative > n_test) & (cumulative <= n_test + n_val)]) or {unique[1]}
        in_test = np.isin(groups, list(test_groups))
        in_val = np.isin(groups, list(val_groups)) & ~in_test
        index = np.arange(n)
        return Split(index[~in_test & ~in_val], index[in_val], index[in_test], f"by group ({column!r}): each in one split")
    from sklearn.model_selection import train_test_split

    stratify = y if y.ndim == 1 and y.dtype.kind in "iu" and np.bincount(y).min() >= 3 else None
    rest, test = train_test_split(np.arange(n), test_size=n_test, random_state=seed, stratify=stratify)
    stratify_rest = y[rest] if stratify is not None else None
    train, val = train_test_split(rest, test_size=n_val, random_state=seed, stratify=stratify_rest)
    note = "random, stratified on the label" if stratify is not None else "random"
    if policy.kind != "random":
        note += f" (no column {' / '.join(policy.columns)} for a {policy.kind} split)"
    return Split(np.sort(train), np.sort(val), np.sort(test), note)
