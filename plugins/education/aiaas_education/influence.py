"""Each past answer's signed influence on the estimate for the next skill: the
estimate with the whole history minus the estimate with that one answer left out
(positive: the answer made a correct next answer more likely). Exact for any model,
one batched model call per request."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from aiaas import InvalidInput

if TYPE_CHECKING:
    from aiaas import Pipeline


class AnswerInfluence:
    def explain(self, pipeline: Pipeline, records: pd.DataFrame, probabilities: np.ndarray | None = None) -> list[dict[str, Any]]:
        pre, state = pipeline.preprocessor, pipeline.pre_state
        rows = records.to_dict("records")
        variants: list[dict[str, Any]] = []
        spans = []
        for i, record in enumerate(rows):
            history = pre.history(record, state)
            if history.next_id is None:
                raise InvalidInput("explain needs next.skill (or next.item): the skill whose estimate to explain", (i, "next"))
            start = history.given - history.used
            skills, correct = list(record["skill"])[start:], list(record["correct"])[start:]
            cut = {"learner": record.get("learner"), "next_skill": history.next_skill, "next_item": None}
            spans.append((len(variants), history, start))
            variants.append({**cut, "skill": skills, "correct": correct})
            variants.append({**cut, "skill": [], "correct": []})
            variants += [{**cut, "skill": skills[:j] + skills[j + 1:], "correct": correct[:j] + correct[j + 1:]} for j in range(len(skills))]
        frame = pd.DataFrame(variants)
        p = pipeline.probabilities(frame)
        last = p[np.arange(len(frame)), frame["skill"].map(len).to_numpy()]  # the step asking about the next skill
        out = []
        for (at, history, start), record in zip(spans, rows):
            full, prior = float(last[at]), float(last[at + 1])
            answers = [{"index": start + j, "skill": str(record["skill"][start + j]), "correct": int(record["correct"][start + j]),
                        "influence": round(full - float(last[at + 2 + j]), 5)} for j in range(history.used)]
            out.append({"learner": record.get("learner"), "skill": history.next_skill, "probability": round(full, 5),
                        "prior": round(prior, 5), "answers": answers, "answers_used": history.used, "truncated": history.truncated})
        return out
