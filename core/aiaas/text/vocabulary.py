"""The ``text-vocab`` preprocessor: words -> ids from a vocabulary fitted on the
training split (saved as JSON with the model), truncated to ``max_length`` and padded
to the longest document of the batch.

Options (``--option``): ``max_length`` (tokens kept per document, default 200; the
rest are cut and the answer says so), ``min_count`` (default 2), ``max_vocab``
(default 20,000). Id 0 pads, id 1 stands for a word the vocabulary does not know.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from aiaas.dataset import int_option
from aiaas.state import State
from aiaas.text import documents, words

PAD, UNKNOWN = "<pad>", "<unk>"


class VocabularyPreprocessor:
    """Fitted from word counts that add up across parts of the data (``summarize``, ``merge``,
    ``finish``), so out-of-core and cluster training count every training document."""

    def fit(self, records: pd.DataFrame, labels: pd.Series | None, options: dict[str, Any] | None = None) -> State:
        return self.finish(self.summarize(records, labels, options), records, labels, options)

    def summarize(self, records: pd.DataFrame, labels: pd.Series | None, options: dict[str, Any] | None = None) -> Counter:
        return Counter(word for document in documents(records) for word in words(document))

    def merge(self, one: Counter, other: Counter) -> Counter:
        return one + other

    def finish(self, counts: Counter, records: pd.DataFrame, labels: pd.Series | None, options: dict[str, Any] | None = None) -> State:
        options = options or {}
        max_length = int_option(options, "max_length", 200, 4)
        min_count = int_option(options, "min_count", 2, 1)
        max_vocab = int_option(options, "max_vocab", 20_000, 10)
        vocabulary = [w for w, c in counts.most_common(max_vocab) if c >= min_count]
        return State({"max_length": max_length, "vocabulary": [PAD, UNKNOWN, *vocabulary]})

    def __init__(self) -> None:
        self._indexes: dict[int, tuple[list[str], dict[str, int]]] = {}

    def _index(self, state: State) -> dict[str, int]:
        """word -> id, built once per vocabulary (one preprocessor object serves every loaded version)."""
        vocabulary = state.meta["vocabulary"]
        cached = self._indexes.get(id(vocabulary))
        if cached is None or cached[0] is not vocabulary:
            cached = (vocabulary, {w: i for i, w in enumerate(vocabulary)})
            self._indexes[id(vocabulary)] = cached
        return cached[1]

    def transform(self, records: pd.DataFrame, state: State) -> dict[str, np.ndarray]:
        index, length = self._index(state), int(state.meta["max_length"])
        rows = [[index.get(w, 1) for w in words(document)[:length]] for document in documents(records)]
        ids = np.zeros((len(records), max([len(r) for r in rows] + [1])), dtype=np.int64)  # padded to the batch's longest
        for i, tokens in enumerate(rows):
            ids[i, : len(tokens)] = tokens
        return {"tokens": ids}

    def token_counts(self, records: pd.DataFrame, state: State) -> np.ndarray:
        """Tokens per document before truncation (more than ``max_length`` means cut)."""
        return np.array([len(words(d)) for d in documents(records)], dtype=np.int64)

    def model_hints(self, state: State) -> dict[str, Any]:
        return {"vocabulary_size": len(state.meta["vocabulary"])}

    def max_length(self, state: State) -> int:
        return int(state.meta["max_length"])

    def tokens(self, records: pd.DataFrame, state: State) -> list[list[str | None]]:
        """The words at each kept position, to show attributions on (None: nothing to show)."""
        length = int(state.meta["max_length"])
        return [words(document)[:length] for document in documents(records)]

    def input_model(self, state: State, default: Any) -> Any:
        return default
