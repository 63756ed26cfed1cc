"""Per-answer features from the answers before it, for the classical baseline that
knowledge-tracing models are measured against (performance-factors analysis with
recency): on the answer's skill, earlier attempts, successes and failures, the
smoothed success rate, the last outcome and how many answers ago it was; overall,
earlier attempts and the success rate; and the skill itself (its difficulty)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def answers_frame(records: pd.DataFrame) -> pd.DataFrame:
    """One row per answer: learner, position, skill, correct (records are learners' aligned lists)."""
    lengths = records["skill"].map(len).to_numpy()
    return pd.DataFrame({
        "learner": np.repeat(records["learner"].astype(str).to_numpy(), lengths),
        "position": np.concatenate([np.arange(n) for n in lengths]) if len(lengths) else np.zeros(0, int),
        "skill": np.concatenate([np.asarray(s, dtype=object) for s in records["skill"]]) if len(lengths) else [],
        "correct": np.concatenate([np.asarray(c, dtype=int) for c in records["correct"]]) if len(lengths) else [],
    })


def history_features(answers: pd.DataFrame) -> pd.DataFrame:
    """Numeric features of each answer, from earlier answers of the same learner only."""
    a = answers
    by_learner = a.groupby("learner", sort=False)
    by_skill = a.groupby(["learner", "skill"], sort=False)
    attempts = by_skill.cumcount()
    successes = by_skill["correct"].cumsum() - a["correct"]
    overall = by_learner.cumcount()
    overall_successes = by_learner["correct"].cumsum() - a["correct"]
    last_outcome = by_skill["correct"].shift(1)
    last_position = by_skill["position"].shift(1)
    return pd.DataFrame({
        "skill_attempts": np.log1p(attempts),
        "skill_successes": np.log1p(successes),
        "skill_failures": np.log1p(attempts - successes),
        "skill_rate": (successes + 1) / (attempts + 2),
        "skill_last_correct": last_outcome.fillna(0.5),
        "skill_new": (attempts == 0).astype(float),
        "skill_gap": np.log1p((a["position"] - last_position).fillna(0)),
        "overall_attempts": np.log1p(overall),
        "overall_rate": (overall_successes + 1) / (overall + 2),
        "recent_rate": by_learner["correct"].transform(lambda c: c.shift(1).rolling(5, min_periods=1).mean()).fillna(0.5),
    }, index=a.index)
