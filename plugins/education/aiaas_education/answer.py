"""The knowledge-tracing answer: a learner's mastery of each skill, the next question's
chance and the skills to practise next.

Practice policy: a skill is worth practising when its mastery lies in the practice band
(0.4 to 0.8): below it the learner is likely to fail without help first, above it
practice adds little. Up to three skills inside the band are recommended, weakest
first; when none is inside, the three nearest to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from aiaas_education.schemas import KnowledgeState, NextEstimate, Recommendation

if TYPE_CHECKING:
    import pandas as pd

    from aiaas import Batch, Pipeline

PRACTICE_BAND = (0.4, 0.8)
RECOMMENDED = 3


def recommend(mastery: dict[str, float], band: tuple[float, float] = PRACTICE_BAND, count: int = RECOMMENDED) -> list[Recommendation]:
    low, high = band

    def distance(value: float) -> float:
        return max(low - value, value - high, 0.0)

    ranked = sorted(mastery.items(), key=lambda kv: (distance(kv[1]), kv[1]))
    return [Recommendation(skill=s, mastery=m) for s, m in ranked[:count]]


class KnowledgeStateAnswer:
    def fit(self, pipeline: Pipeline, records: pd.DataFrame, probabilities: np.ndarray, y: np.ndarray) -> dict[str, Any]:
        return {"practice_band": list(PRACTICE_BAND)}

    def answer(self, batch: Batch) -> list[KnowledgeState]:
        return states(batch.pipeline, batch.records)


def states(pipeline: Pipeline, records: pd.DataFrame) -> list[KnowledgeState]:
    """One model call asks, after each history, about the next skill and every known skill."""
    pre, state = pipeline.preprocessor, pipeline.pre_state
    vocabulary = pre.vocabulary(state)
    rows = records.to_dict("records")
    histories = [pre.history(r, state) for r in rows]
    inputs, starts = pre.probe(histories, state)
    p = pipeline.run(inputs)
    band = tuple(pipeline.post_state.get("practice_band", PRACTICE_BAND))
    out = []
    for i, (record, history) in enumerate(zip(rows, histories)):
        first = starts[i] + (history.next_id is not None)
        mastery = {skill: round(float(v), 4) for skill, v in zip(vocabulary.values, p[i, first : first + len(vocabulary.values)])}
        estimate = None
        if history.next_id is not None:
            estimate = NextEstimate(skill=history.next_skill, item=history.next_item, probability=round(float(p[i, starts[i]]), 4),
                                    known_skill=history.next_skill in vocabulary)
        out.append(KnowledgeState(
            learner=str(record.get("learner", "")), mastery=mastery, next=estimate, recommended=recommend(mastery, band),  # type: ignore[arg-type]
            unknown_skills=vocabulary.unknown(record["skill"]), answers_given=history.given, answers_used=history.used,
            truncated=history.truncated, prior=history.given == 0,
        ))
    return out
