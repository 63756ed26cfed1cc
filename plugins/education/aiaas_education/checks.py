"""Skills the model never saw: a history mostly about other skills (another course, a
renamed curriculum) is answered from the shared unknown skill, so it is flagged."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from aiaas import State
from aiaas import Scores

if TYPE_CHECKING:
    from aiaas import Sample

SHOWN = 5


def _skills(value: object) -> list[str]:
    return [str(s) for s in value if s is not None] if isinstance(value, (list, tuple, np.ndarray)) else []


class UnseenSkills:
    """The share of a history's answers (and its next question) on skills training never had."""

    floor = 0.1

    def fit(self, sample: Sample) -> State | None:
        if "skill" not in sample.records:
            return None
        return State({"skills": sorted({s for seq in sample.records["skill"] for s in _skills(seq)})})

    def score(self, sample: Sample, state: State) -> Scores:
        known = set(state.meta["skills"])
        records = sample.records
        nexts = records["next_skill"] if "next_skill" in records else [None] * len(records)
        unseen: list[list[str]] = []
        shares = np.zeros(len(records))
        for i, (seq, nxt) in enumerate(zip(records["skill"], nexts)):
            skills = _skills(seq) + ([str(nxt)] if nxt is not None and nxt == nxt else [])
            new = [s for s in skills if s not in known]
            unseen.append(list(dict.fromkeys(new)))
            shares[i] = len(new) / len(skills) if skills else 0.0

        def reason(i: int) -> str:
            names = unseen[i]
            more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
            return f"{shares[i]:.0%} of the answers are on skills never seen in training ({', '.join(names[:SHOWN])}{more})"

        return Scores(shares, reason)
