"""Ids for the values of one field (skills, items), fitted on the training split.

Id 0 pads, id 1 stands for every value seen fewer than ``min_count`` times in training
or not at all, so rare values share one learned representation. The vocabulary is
saved as a JSON list in the preprocessor's state."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

PAD, UNKNOWN = 0, 1


@dataclass
class IdVocabulary:
    values: list[str]
    """Known values in id order, from id 2 (0 pads, 1 is unknown)."""
    _index: dict[str, int] = field(default_factory=dict, repr=False)

    @classmethod
    def fit(cls, values: Iterable[object], min_count: int = 1, max_size: int | None = None) -> IdVocabulary:
        return cls.from_counts(Counter(str(v) for v in values), min_count, max_size)

    @classmethod
    def from_counts(cls, counts: Counter, min_count: int = 1, max_size: int | None = None) -> IdVocabulary:
        """From each value's count (counts of parts of the data add up: ``Counter`` + ``Counter``)."""
        kept = [str(v) for v, c in counts.most_common(max_size) if c >= min_count]
        return cls(sorted(kept, key=_natural))

    def __post_init__(self) -> None:
        self._index = {v: i + 2 for i, v in enumerate(self.values)}

    def __len__(self) -> int:
        """Size of an embedding table over these ids (padding and unknown included)."""
        return len(self.values) + 2

    def __contains__(self, value: object) -> bool:
        return str(value) in self._index

    def id(self, value: object) -> int:
        return self._index.get(str(value), UNKNOWN)

    def ids(self, values: Iterable[object]) -> np.ndarray:
        return np.fromiter((self._index.get(str(v), UNKNOWN) for v in values), dtype=np.int32)

    def unknown(self, values: Iterable[object]) -> list[str]:
        """The distinct values this vocabulary does not know, in first-seen order."""
        return list(dict.fromkeys(str(v) for v in values if str(v) not in self._index))


def _natural(value: str) -> tuple[int, float, str]:
    """Numeric ids in numeric order ("2" before "10"), then text."""
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)
