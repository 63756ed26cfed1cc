"""The ``education.answer-sequences`` preprocessor: a learner's answers -> model inputs.

Every model reads three aligned ``(n, steps)`` arrays: ``skill`` (the id of the
skill answered at each step; 0 pads), ``correct`` (0/1) and ``query`` (the skill
whose answer is predicted at that step). A model predicts step ``t`` from the
answers before ``t`` only. A step with a query but no answer (``skill`` 0) asks
about a skill after the whole history: the question about to be asked, or each
skill in turn for the mastery a learner has now.

Options (``--option``): ``window`` (answers a model reads, the most recent; default
200), ``stride`` (how far training windows of longer histories move; default half a
window), ``min_skill_count`` (answers a skill needs in the training split to get its
own id, else it shares the unknown id; default 3).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from aiaas import Dataset, InvalidInput, State, int_option
from aiaas.sequences import PAD, UNKNOWN, IdVocabulary, expand, pad


@dataclass(frozen=True)
class History:
    """One record's answers as the model reads them."""

    skills: np.ndarray
    correct: np.ndarray
    given: int
    next_skill: str | None
    next_id: int | None
    next_item: str | None = None

    @property
    def used(self) -> int:
        return len(self.skills)

    @property
    def truncated(self) -> bool:
        return self.used < self.given


def _text(value: Any) -> str | None:
    """A field of a batch record: pandas turns a missing value into NaN when other rows have one."""
    return None if value is None or (isinstance(value, float) and value != value) else str(value)


class AnswerSequences:
    def __init__(self) -> None:
        self._vocabularies: dict[int, tuple[list[str], IdVocabulary]] = {}

    def fit(self, records: pd.DataFrame, labels: pd.Series | None, options: dict[str, Any] | None = None) -> State:
        return self.finish(self.summarize(records, labels, options), records, labels, options)

    def summarize(self, records: pd.DataFrame, labels: pd.Series | None, options: dict[str, Any] | None = None) -> dict[str, Counter]:
        """Counts of each skill and of each (item, skill) pair: they add up across parts of the data."""
        pairs: Counter = Counter()
        if "item" in records:
            pairs.update((i, s) for items, skills in zip(records["item"], records["skill"]) for i, s in zip(items, skills) if i is not None)
        return {"skills": Counter(str(s) for steps in records["skill"] for s in steps), "pairs": pairs}

    def merge(self, one: dict[str, Counter], other: dict[str, Counter]) -> dict[str, Counter]:
        return {key: one[key] + other[key] for key in one}

    def finish(self, summary: dict[str, Counter], records: pd.DataFrame, labels: pd.Series | None,
               options: dict[str, Any] | None = None) -> State:
        options = options or {}
        window = int_option(options, "window", 200, 4)
        stride = int_option(options, "stride", max(window // 2, 1), 1)
        if stride > window:
            raise InvalidInput(f"--option stride={stride} is longer than the window ({window})")
        min_count = int_option(options, "min_skill_count", 3, 1)
        vocabulary = IdVocabulary.from_counts(summary["skills"], min_count=min_count)
        item_skill: dict[str, str] = {}
        for (item, skill), _ in summary["pairs"].most_common():
            item_skill.setdefault(item, skill)
        return State({"skills": vocabulary.values, "window": window, "stride": stride, "min_skill_count": min_count,
                      "item_skill": item_skill})

    def vocabulary(self, state: State) -> IdVocabulary:
        """Built once per fitted state (one preprocessor object serves every loaded version)."""
        values = state.meta["skills"]
        cached = self._vocabularies.get(id(values))
        if cached is None or cached[0] is not values:
            cached = (values, IdVocabulary(values))
            self._vocabularies[id(values)] = cached
        return cached[1]

    def training_instances(self, dataset: Dataset, state: State) -> Dataset:
        return expand(dataset, int(state.meta["window"]), int(state.meta["stride"]))

    def history(self, record: dict[str, Any], state: State) -> History:
        """The record's most recent answers (up to the window) as ids, and the skill it asks about next."""
        vocabulary, window = self.vocabulary(state), int(state.meta["window"])
        skills, correct = list(record["skill"]), list(record["correct"])
        given = len(skills)
        next_skill, next_item = _text(record.get("next_skill")), _text(record.get("next_item"))
        if next_skill is None and next_item is not None:
            # an item training never saw has no known skill: it is asked about as the shared unknown skill, and the
            # answer says so (known_skill false), as for any skill the model does not know
            next_skill = state.meta["item_skill"].get(next_item, next_item)
        return History(vocabulary.ids(skills[-window:]), np.asarray(correct[-window:], dtype=np.int32), given,
                       next_skill, None if next_skill is None else vocabulary.id(next_skill), next_item)

    def _arrays(self, rows: list[tuple[History, list[int]]]) -> dict[str, np.ndarray]:
        """Each history followed by query-only steps asking about the given skill ids."""
        width = max(h.used + len(q) for h, q in rows) if rows else 1
        skill = pad([h.skills for h, _ in rows], width=width)
        correct = pad([h.correct for h, _ in rows], width=width)
        query = pad([np.concatenate([h.skills, np.asarray(q, dtype=np.int32)]) for h, q in rows], width=width)
        return {"skill": skill, "correct": correct, "query": query}

    def transform(self, records: pd.DataFrame, state: State) -> dict[str, np.ndarray]:
        """Each answer is a query; a record naming its next skill gets one more step asking about it."""
        histories = [self.history(r, state) for r in records.to_dict("records")]
        return self._arrays([(h, [] if h.next_id is None else [h.next_id]) for h in histories])

    def probe(self, histories: list[History], state: State) -> tuple[dict[str, np.ndarray], list[int]]:
        """Inputs asking, after each history, about its next skill (if any) and then every known
        skill; with the step of each history's first query."""
        known = list(range(UNKNOWN + 1, len(self.vocabulary(state))))
        rows = [(h, ([] if h.next_id is None else [h.next_id]) + known) for h in histories]
        return self._arrays(rows), [h.used for h in histories]

    def model_hints(self, state: State) -> dict[str, Any]:
        return {"skills": len(self.vocabulary(state)), "window": int(state.meta["window"])}

    def input_model(self, state: State, default: Any) -> Any:
        return default


__all__ = ["PAD", "UNKNOWN", "AnswerSequences", "History"]
