"""What an adapter returns, and the options every adapter understands."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class LoadOptions:
    """``label``: the column holding the label (the task's default when None);
    ``labelled``: False when scoring data that has no labels; ``extra``: options a
    vertical adds (``--option key=value`` on the CLI)."""

    label: str | None = None
    labelled: bool = True
    extra: dict[str, Any] = field(default_factory=dict)
    part: tuple[int, int] | None = None
    """``(i, n)``: read only the i-th of n parts of the source (a cluster's reader of one part); only
    stream forms of adapters that declare ``DataAdapter.parts`` are given it."""


def int_option(options: dict[str, Any], key: str, default: int, low: int) -> int:
    """A whole-number ``--option`` at least ``low``; a bad value is a one-line error naming it."""
    from aiaas.errors import InvalidInput

    try:
        value = int(options.get(key, default))
    except (TypeError, ValueError):
        raise InvalidInput(f"--option {key} must be a whole number, got {options.get(key)!r}") from None
    if value < low:
        raise InvalidInput(f"--option {key} must be at least {low}, got {value}")
    return value


@dataclass
class Dataset:
    """A task's canonical records, one row per instance, and their raw labels."""

    records: pd.DataFrame
    labels: pd.Series | None
    source: Path | None = None
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.records)

    def take(self, index: Any) -> Dataset:
        labels = None if self.labels is None else self.labels.iloc[index].reset_index(drop=True)
        return Dataset(self.records.iloc[index].reset_index(drop=True), labels, self.source, self.notes)
