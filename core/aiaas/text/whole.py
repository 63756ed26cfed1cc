"""The ``text-documents`` preprocessor: each record's document as a string, for models
that read text whole (TF-IDF). Option ``max_words`` (default 5,000) bounds what is read."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from aiaas.dataset import int_option
from aiaas.state import State
from aiaas.text import clean, documents, words


class DocumentPreprocessor:
    def fit(self, records: pd.DataFrame, labels: pd.Series | None, options: dict[str, Any] | None = None) -> State:
        return State({"max_length": int_option(options or {}, "max_words", 5000, 10)})

    # Its state is its options alone: nothing to gather from the rows, so a stream needs no sample for it.
    def summarize(self, records: pd.DataFrame, labels: pd.Series | None, options: dict[str, Any] | None = None) -> dict[str, Any]:
        return {}

    def merge(self, one: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
        return {}

    def finish(self, summary: dict[str, Any], records: pd.DataFrame, labels: pd.Series | None,
               options: dict[str, Any] | None = None) -> State:
        return self.fit(records, labels, options)

    def transform(self, records: pd.DataFrame, state: State) -> dict[str, np.ndarray]:
        limit = self.max_length(state)
        docs = [clean(d) for d in documents(records)]
        cut = [d if len(words(d)) <= limit else " ".join(d.split()[:limit]) for d in docs]
        return {"text": np.array(cut, dtype=object)}

    def token_counts(self, records: pd.DataFrame, state: State) -> np.ndarray:
        return np.array([len(words(d)) for d in documents(records)], dtype=np.int64)

    def max_length(self, state: State) -> int:
        return int(state.meta["max_length"])

    def tokens(self, records: pd.DataFrame, state: State) -> list[list[str | None]]:
        return [words(d)[: self.max_length(state)] for d in documents(records)]

    def input_model(self, state: State, default: Any) -> Any:
        return default
