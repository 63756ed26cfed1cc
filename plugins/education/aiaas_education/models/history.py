"""The classical candidate and floor for knowledge tracing: logistic regression on each
answer's history (performance-factors analysis with recency).

For the skill asked at each step, from the learner's earlier answers in the window:
attempts, successes and failures on that skill, the smoothed success rate, the last
outcome on it and how many answers ago; overall attempts, success rate and the rate
over the last five answers; and the skill itself (its difficulty). It reads the same
``skill``/``correct``/``query`` arrays as the neural models, so it answers every
question they answer (mastery probes included).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from aiaas import ModelSpec
from aiaas.classical import Estimator, Selection, fit_linear, linear_logits

CHUNK = 256
RECENT = 5
STRENGTHS = (0.1, 1.0, 10.0)


def _exclusive_cumsum(x: np.ndarray, axis: int = 1) -> np.ndarray:
    return np.cumsum(x, axis=axis) - x


def history_features(skill: np.ndarray, correct: np.ndarray, query: np.ndarray, skills: int) -> np.ndarray:
    """(n, steps, features) for the skill queried at each step, from the answers before it."""
    n, steps = skill.shape
    answered = (skill > 0).astype(np.float32)
    right = answered * correct.astype(np.float32)
    rows, times = np.arange(n)[:, None], np.arange(steps)[None, :]
    onehot = np.zeros((n, steps, skills), dtype=np.float32)
    onehot[rows, times, skill] = answered
    q = query[..., None].astype(np.int64)
    attempts = np.take_along_axis(_exclusive_cumsum(onehot), q, axis=2)[..., 0]
    successes = np.take_along_axis(_exclusive_cumsum(onehot * right[..., None]), q, axis=2)[..., 0]
    seen_at = np.maximum.accumulate(onehot * (times + 1)[..., None], axis=1)  # 1 + the last step of each skill, up to t
    seen_at = np.concatenate([np.zeros_like(seen_at[:, :1]), seen_at[:, :-1]], axis=1)  # ... before t
    last = np.take_along_axis(seen_at, q, axis=2)[..., 0].astype(np.int64)
    last_outcome = np.where(last > 0, right[rows, np.maximum(last - 1, 0)], 0.5)
    gap = np.where(last > 0, times - (last - 1), 0)
    overall, overall_right = _exclusive_cumsum(answered), _exclusive_cumsum(right)
    shifted = lambda x: np.concatenate([np.zeros((n, RECENT)), x], axis=1)[:, :steps]  # noqa: E731
    recent_count = overall - shifted(overall)
    recent_rate = np.where(recent_count > 0, (overall_right - shifted(overall_right)) / np.maximum(recent_count, 1), 0.5)
    numeric = np.stack([np.log1p(attempts), np.log1p(successes), np.log1p(attempts - successes), (successes + 1) / (attempts + 2),
                        last_outcome, (attempts == 0).astype(np.float32), np.log1p(gap), np.log1p(overall),
                        (overall_right + 1) / (overall + 2), recent_rate], axis=-1).astype(np.float32)
    which = np.zeros((n, steps, skills), dtype=np.float32)
    which[rows, times, query] = 1.0
    return np.concatenate([numeric, which], axis=-1)


class SkillHistory(Estimator):
    def _features(self, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Features of every queried step, flat, and where those steps sit."""
        skills = int(self.spec.hints["skills"])
        parts = []
        for start in range(0, len(inputs["query"]), CHUNK):
            chunk = {k: v[start:start + CHUNK] for k, v in inputs.items()}
            parts.append(history_features(chunk["skill"], chunk["correct"], chunk["query"], skills)[chunk["query"] > 0])
        mask = inputs["query"] > 0
        return (np.concatenate(parts) if parts else np.zeros((0, 10 + skills), dtype=np.float32)), mask

    def _spread(self, flat: np.ndarray, mask: np.ndarray) -> np.ndarray:
        out = np.zeros(mask.shape, dtype=np.float32)
        out[mask] = flat.reshape(-1)
        return out

    def fit(self, train: tuple[dict[str, np.ndarray], np.ndarray, np.ndarray], validation: tuple[dict[str, np.ndarray], np.ndarray],
            config: Any, selection: Selection) -> list[dict[str, float]]:
        x, mask = self._features(train[0])
        y = train[1][mask]
        scored = y >= 0
        x_val, val_mask = self._features(validation[0])
        on_steps = Selection(lambda flat: selection.score(self._spread(flat, val_mask)), selection.report)
        self.arrays, history = fit_linear(x[scored], y[scored], np.ones(int(scored.sum()), dtype=np.float32), x_val, "binary", 1,
                                          on_steps, STRENGTHS)
        return history

    def logits(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        x, mask = self._features(inputs)
        return self._spread(linear_logits(x, self.arrays), mask)


def build(spec: ModelSpec, params: dict[str, Any]) -> SkillHistory:
    return SkillHistory(spec, params)
