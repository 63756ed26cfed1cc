"""Histories unlike the training learners' are flagged with the reason."""

from __future__ import annotations

from aiaas.testing import TrainedModels as Trained
from aiaas_education.simulator import SKILLS

from .conftest import TASK


def _check(trained: Trained, history: list[dict], next_skill: str | None = None) -> dict:
    instance = {"learner": "l-1", "history": history, **({"next": {"skill": next_skill}} if next_skill else {})}
    response = trained.client().post(f"/v1/{TASK}/predict", json={"instances": [instance]})
    assert response.status_code == 200, response.text
    (answer,) = response.json()["predictions"]
    assert "mastery" in answer  # answered, with the flag
    return answer["input_check"]


def test_an_ordinary_history_is_in_distribution(trained: Trained) -> None:
    skills = list(SKILLS[:3])
    check = _check(trained, [{"skill": s, "correct": int(i % 3 != 0)} for i, s in enumerate(skills * 4)])
    assert check["in_distribution"] and check["reasons"] == [], check


def test_skills_never_seen_are_flagged_naming_them(trained: Trained) -> None:
    check = _check(trained, [{"skill": f"geology-{i}", "correct": 1} for i in range(6)], next_skill="geology-9")
    assert not check["in_distribution"]
    assert any(r.startswith("100% of the answers are on skills never seen in training (geology-0") for r in check["reasons"]), check


def test_a_history_far_outside_training_in_length_and_accuracy_is_flagged(trained: Trained) -> None:
    skill = SKILLS[0]
    check = _check(trained, [{"skill": skill, "correct": 0} for _ in range(3000)])
    assert not check["in_distribution"]
    assert any("over 3,000, far from the training rate" in r or "a history of 3,000 answers" in r for r in check["reasons"]), check
