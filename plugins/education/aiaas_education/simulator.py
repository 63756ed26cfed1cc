"""Seeded learners on a known skill structure, for sample data with a known truth.

Bayesian knowledge tracing with prerequisites: each skill is mastered or not; a
practice attempt on an unmastered skill may teach it (far less often while its
prerequisites are unmastered); a mastered skill is answered correctly unless the
learner slips, an unmastered one only by a guess. Learners differ in ability (how
fast they learn, what they know at the start) and work through the curriculum in
order, revisiting earlier skills now and then.

``write_sample`` writes ``answers.csv`` (one row per answer, the columns of an
ASSISTments log) and ``mastery.csv``: each learner's true state per skill after their
last answer, and the true probability of a correct answer it implies.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

PREREQUISITES: dict[str, tuple[str, ...]] = {
    "counting": (),
    "addition": ("counting",),
    "subtraction": ("addition",),
    "multiplication": ("addition",),
    "division": ("multiplication", "subtraction"),
    "negative-numbers": ("subtraction",),
    "fractions": ("division",),
    "decimals": ("fractions",),
    "percentages": ("decimals",),
    "ratios": ("fractions",),
    "exponents": ("multiplication",),
    "linear-equations": ("negative-numbers", "division"),
}
SKILLS = tuple(PREREQUISITES)
ITEMS_PER_SKILL = 8


@dataclass(frozen=True)
class SkillParameters:
    start: np.ndarray   # chance a typical learner has mastered the skill before practice
    learn: np.ndarray   # chance one practice attempt teaches an unmastered skill
    guess: np.ndarray
    slip: np.ndarray


def parameters(rng: np.random.Generator) -> SkillParameters:
    k = len(SKILLS)
    depth = np.linspace(0, 1, k)
    return SkillParameters(start=np.clip(0.7 - 0.65 * depth + rng.normal(0, 0.05, k), 0.02, 0.9),
                           learn=rng.uniform(0.12, 0.3, k), guess=rng.uniform(0.1, 0.3, k), slip=rng.uniform(0.04, 0.12, k))


def _sigmoid(x: float) -> float:
    return float(1 / (1 + np.exp(-x)))


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def generate(rows: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(answers, true final mastery) for about ``rows`` answers."""
    rng = np.random.default_rng(seed)
    skill_params = parameters(rng)
    index = {s: i for i, s in enumerate(SKILLS)}
    prereq = [[index[p] for p in PREREQUISITES[s]] for s in SKILLS]
    answers: list[dict[str, object]] = []
    truth: list[dict[str, object]] = []
    order, learner = 0, 0
    while len(answers) < rows:
        learner += 1
        name = f"learner-{learner:05d}"
        ability = rng.normal(0, 0.8)
        mastered = np.array([rng.random() < _sigmoid(_logit(p) + ability) for p in skill_params.start])
        budget = int(rng.integers(15, 110))
        current, done = 0, 0
        while done < budget and current < len(SKILLS):
            block = int(rng.integers(3, 9))
            for _ in range(block):
                if done >= budget:
                    break
                k = current if current == 0 or rng.random() > 0.2 else int(rng.integers(0, current))
                ready = all(mastered[j] for j in prereq[k])
                p_correct = 1 - skill_params.slip[k] if mastered[k] else skill_params.guess[k]
                correct = int(rng.random() < p_correct)
                order += 1
                answers.append({
                    "user_id": name, "order_id": order, "skill": SKILLS[k], "item_id": f"{SKILLS[k]}-q{int(rng.integers(1, ITEMS_PER_SKILL + 1))}",
                    "correct": correct, "attempt_count": 1 if correct else int(rng.integers(1, 4)),
                    "hint_count": 0 if mastered[k] else int(rng.poisson(0.8)),
                    "ms_first_response": int(rng.lognormal(9.5 - 0.3 * mastered[k], 0.5)),
                })
                if not mastered[k]:
                    chance = skill_params.learn[k] * (1.0 if ready else 0.25)
                    mastered[k] = rng.random() < _sigmoid(_logit(chance) + 0.5 * ability)
                done += 1
            current += 1
        for k, skill in enumerate(SKILLS):
            truth.append({"user_id": name, "skill": skill, "mastered": int(mastered[k]),
                          "p_correct": float(1 - skill_params.slip[k] if mastered[k] else skill_params.guess[k])})
    return pd.DataFrame(answers), pd.DataFrame(truth)


def write_sample(out: Path, rows: int, seed: int = 0) -> Path:
    """The answer log as CSV: ``out`` is the file (``answers.csv``, with the learners' true mastery
    beside it as ``answers.mastery.csv``), or a folder to write answers.csv and mastery.csv in."""
    answers, truth = generate(rows, seed)
    out = Path(out)
    if out.suffix.lower() == ".csv":
        path, mastery = out, out.with_name(f"{out.stem}.mastery.csv")
    else:
        path, mastery = out / "answers.csv", out / "mastery.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    truth.to_csv(mastery, index=False)
    answers.to_csv(path, index=False)
    return path
