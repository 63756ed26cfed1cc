"""A trained knowledge-tracing model: its quality, its mastery against the simulator's
truth, its report, and the predict and explain API."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from aiaas.testing import TrainedModels
from aiaas.versions import load_version
from aiaas_education.answer import recommend
from aiaas_education.schemas import MAX_HISTORY

from .conftest import TASK, WINDOW

URL = f"/v1/{TASK}"


def _answers(skills: list[str], correct: list[int]) -> list[dict[str, object]]:
    return [{"skill": s, "correct": c} for s, c in zip(skills, correct)]


def test_held_out_learners_are_predicted_well(trained: TrainedModels) -> None:
    metrics = trained["dkt"].metrics
    assert metrics["roc_auc"] > 0.72 and metrics["accuracy"] > 0.68 and metrics["rmse"] < 0.46
    manifest_rows = trained.registry.versions(TASK)[0].provenance["split"]
    assert "learner" in manifest_rows


def test_mastery_estimates_track_the_true_mastery(trained: TrainedModels) -> None:
    answers = pd.read_csv(trained.data)
    truth = pd.read_csv(trained.data.parent / "mastery.csv")
    pipeline = load_version(trained.host, trained.registry, TASK)
    held_out = sorted(set(truth.user_id))[-60:]  # any learners: the estimate is compared with their latent state
    records = pd.DataFrame([{"learner": who, "skill": list(g.skill), "correct": list(g.correct), "item": list(g.item_id),
                             "next_skill": None, "next_item": None} for who, g in answers[answers.user_id.isin(held_out)].groupby("user_id")])
    states = pipeline.predict(records)
    estimated = pd.DataFrame([{"user_id": s.learner, "skill": k, "estimate": v} for s in states for k, v in s.mastery.items()])
    joined = estimated.merge(truth, on=["user_id", "skill"])
    rho = spearmanr(joined.estimate, joined.p_correct).statistic
    assert rho > 0.5, f"mastery estimates correlate {rho:.2f} with the truth"
    assert joined[joined.mastered == 1].estimate.mean() > joined[joined.mastered == 0].estimate.mean() + 0.15


def test_the_report_has_skill_auc_and_mastery_heatmaps(trained: TrainedModels) -> None:
    report = trained["dkt"].report.parent
    for name in ("skill_auc.png", "mastery_heatmap.png", "roc_curve.png", "calibration.png", "training.png"):
        assert (report / name).stat().st_size > 5_000, name
    page = (report / "report.html").read_text()
    assert "learners" in page and "skill_auc.png" in page


def test_predict_answers_mastery_next_and_recommendations(trained: TrainedModels) -> None:
    history = _answers(["addition", "subtraction", "subtraction", "subtraction"], [1, 0, 1, 1]) + [{"skill": "astrology", "correct": 1}]
    body = {"instances": [{"learner": "amy", "history": history, "next": {"skill": "subtraction"}},
                          {"learner": "bob", "history": [], "next": {"item": "fractions-q3"}},
                          {"learner": "cid", "history": []}]}
    response = trained.client().post(f"{URL}/predict", json=body)
    assert response.status_code == 200, response.text
    amy, bob, cid = response.json()["predictions"]
    assert amy["next"]["probability"] == pytest.approx(amy["mastery"]["subtraction"], abs=1e-3)
    assert amy["unknown_skills"] == ["astrology"] and amy["answers_used"] == 5 and not amy["truncated"] and not amy["prior"]
    assert set(amy["mastery"]) >= {"addition", "fractions", "linear-equations"} and "astrology" not in amy["mastery"]
    assert bob["prior"] and bob["next"]["skill"] == "fractions" and bob["next"]["item"] == "fractions-q3"
    assert bob["mastery"] == cid["mastery"]  # the population prior, the same for every new learner
    assert 1 <= len(amy["recommended"]) <= 3
    assert response.json()["model"]["architecture"] == "dkt"


def test_correct_answers_raise_the_skill_and_wrong_ones_lower_it(trained: TrainedModels) -> None:
    client = trained.client()
    states = {}
    for name, outcome in (("good", 1), ("poor", 0)):
        body = {"instances": [{"learner": name, "history": _answers(["multiplication"] * 6, [outcome] * 6)}]}
        states[name] = client.post(f"{URL}/predict", json=body).json()["predictions"][0]["mastery"]["multiplication"]
    assert states["good"] > states["poor"] + 0.3


def test_a_history_longer_than_the_window_uses_the_most_recent_answers(trained: TrainedModels) -> None:
    old = _answers(["division"] * 30, [0] * 30)
    recent = _answers(["division"] * WINDOW, [1] * WINDOW)
    client = trained.client()
    long = client.post(f"{URL}/predict", json={"instances": [{"learner": "x", "history": old + recent}]}).json()["predictions"][0]
    only_recent = client.post(f"{URL}/predict", json={"instances": [{"learner": "x", "history": recent}]}).json()["predictions"][0]
    assert long["truncated"] and long["answers_used"] == WINDOW and long["answers_given"] == WINDOW + 30
    assert long["mastery"] == only_recent["mastery"]


def test_explain_gives_each_past_answer_a_signed_influence(trained: TrainedModels) -> None:
    history = _answers(["counting", "ratios", "ratios", "ratios", "ratios"], [1, 0, 0, 1, 1])
    response = trained.client().post(f"{URL}/explain", json={"instances": [{"learner": "amy", "history": history, "next": {"skill": "ratios"}}]})
    assert response.status_code == 200, response.text
    explanation = response.json()["explanations"][0]
    influence = [a["influence"] for a in explanation["answers"]]
    assert [a["index"] for a in explanation["answers"]] == [0, 1, 2, 3, 4]
    assert influence[4] > 0 and influence[2] < 0  # the last correct answer helps, the last wrong one hurts
    assert explanation["skill"] == "ratios" and 0 < explanation["prior"] < 1


@pytest.mark.parametrize("instance,field", [
    ({"learner": "a", "history": [{"skill": "x", "correct": 2}]}, "correct"),
    ({"learner": "a", "history": [{"skill": "x", "correct": "yes"}]}, "correct"),
    ({"learner": "a", "history": {"skill": "x", "correct": 1}}, "history"),
    ({"learner": "a", "history": [], "mood": "happy"}, "mood"),
    ({"learner": "a", "history": [{"skill": "x", "correct": 1, "score": 3}]}, "score"),
    ({"learner": "a", "history": [{"correct": 1}]}, "skill"),
    ({"learner": "", "history": []}, "learner"),
    ({"learner": "a", "history": [], "next": {}}, "next"),
    ({"learner": "a", "history": [{"skill": "x", "correct": 1, "response_time": float("nan")}]}, "response_time"),
])
def test_bad_instances_get_a_422_naming_the_field(trained: TrainedModels, instance: dict, field: str) -> None:
    response = trained.client().post(f"{URL}/predict", content=json.dumps({"instances": [instance]}),  # NaN as some clients write it
                                     headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert field in str(response.json()["detail"][0]["loc"])


def test_too_many_answers_are_refused_and_unknown_next_items_answered_as_unknown(trained: TrainedModels) -> None:
    client = trained.client()
    huge = {"instances": [{"learner": "a", "history": _answers(["x"] * (MAX_HISTORY + 1), [1] * (MAX_HISTORY + 1))}]}
    response = client.post(f"{URL}/predict", json=huge)
    assert response.status_code == 422 and "history" in str(response.json()["detail"][0]["loc"])
    body = {"instances": [{"learner": "a", "history": []}, {"learner": "b", "history": [], "next": {"item": "no-such-item"}}]}
    response = client.post(f"{URL}/predict", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["predictions"][1]["next"]["known_skill"] is False  # answered as the shared unknown skill, and says so
    response = client.post(f"{URL}/explain", json={"instances": [{"learner": "a", "history": []}]})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "instances", 0, "next"]


def test_timestamps_put_a_history_in_time_order(trained: TrainedModels) -> None:
    answers = [{"skill": "decimals", "correct": 0, "timestamp": "2026-01-02T10:00:00"},
               {"skill": "decimals", "correct": 1, "timestamp": "2026-01-01T10:00:00"}]
    client = trained.client()
    shuffled = client.post(f"{URL}/predict", json={"instances": [{"learner": "a", "history": answers}]}).json()["predictions"][0]
    ordered = client.post(f"{URL}/predict", json={"instances": [{"learner": "a", "history": answers[::-1]}]}).json()["predictions"][0]
    assert shuffled["mastery"] == ordered["mastery"]


def test_the_practice_policy_picks_the_band_weakest_first() -> None:
    mastery = {"a": 0.95, "b": 0.7, "c": 0.45, "d": 0.2, "e": 0.6}
    assert [r.skill for r in recommend(mastery)] == ["c", "e", "b"]
    assert [r.skill for r in recommend({"a": 0.95, "d": 0.2, "f": 0.3})] == ["f", "a", "d"]  # none inside: the nearest


def test_scoring_a_log_answers_each_learner(in_trained_home: TrainedModels, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from aiaas.cli import app

    out = tmp_path / "scored.csv"
    result = CliRunner().invoke(app, ["predict", TASK, "--input", str(in_trained_home.data), "--output", str(out)])
    assert result.exit_code == 0, result.output
    scored = pd.read_csv(out)
    assert len(scored) == pd.read_csv(in_trained_home.data).user_id.nunique()
    assert {"learner", "mastery.addition", "answers_used"} <= set(scored.columns)
    assert np.all((scored["mastery.addition"] > 0) & (scored["mastery.addition"] < 1))


def test_evaluate_scores_every_answer_of_a_labelled_log(in_trained_home: TrainedModels) -> None:
    from typer.testing import CliRunner

    from aiaas.cli import app

    result = CliRunner().invoke(app, ["evaluate", TASK, "--data", str(in_trained_home.data), "--json"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.output[result.output.index("{"):])
    assert scores["metrics"]["roc_auc"] > 0.72 and scores["metrics"]["rmse"] < 0.46


def test_the_api_documents_the_learner_routes(trained: TrainedModels) -> None:
    client = trained.client()
    paths = client.get("/openapi.json").json()["paths"]
    assert {f"/v1/{TASK}/learners/{{learner}}", f"/v1/{TASK}/learners/{{learner}}/answers", f"/v1/{TASK}/predict"} <= set(paths)
    listed = {t["task"]: t for t in client.get("/v1/tasks").json()}[TASK]
    assert listed["label_kind"] == "sequence" and listed["model"]["architecture"] == "dkt"


def test_dkt_is_measured_against_the_per_skill_history_model(trained: TrainedModels) -> None:
    floor = trained["dkt"].floor
    assert floor["floor_architecture"] == "skill-history (classical)" and floor["floor"] > 0.6
    assert trained["dkt"].metrics["roc_auc"] >= floor["floor"] - 0.02, floor  # DKT at least level with the classical model


def test_the_history_model_serves_mastery_through_the_same_inputs(trained: TrainedModels, tmp_path) -> None:  # noqa: ANN001
    from aiaas.pipeline import Pipeline
    from aiaas.registry import Registry
    from aiaas.training import TrainRequest, train

    with trained.inside():
        registry = Registry.from_settings()
        result = train(trained.host, registry, TrainRequest("education/knowledge-tracing", trained.data, architecture="skill-history",
                                                            options={"window": 50}), quiet=True)
        folder = registry.folder(result.version)
        assert (folder / "estimator.safetensors").is_file() and (folder / "estimator.json").is_file()
        pipeline = Pipeline.load(trained.host, folder)
        history = {"learner": "x", "history": [{"skill": "addition", "correct": 1}] * 4, "next": {"skill": "addition"}}
        (answer,) = pipeline.predict(pd.DataFrame(pipeline.rows_from([pipeline.input_model(**history)])))
        fresh = {"learner": "y", "history": [{"skill": "addition", "correct": 0}] * 4, "next": {"skill": "addition"}}
        (other,) = pipeline.predict(pd.DataFrame(pipeline.rows_from([pipeline.input_model(**fresh)])))
        assert answer.mastery["addition"] > other.mastery["addition"]  # successes raise the estimate, failures lower it


def test_the_v2_protocol_takes_histories_as_json_tensors(trained: TrainedModels) -> None:
    client = trained.client()
    meta = client.get(f"/v2/models/{TASK}").json()
    assert {i["name"]: i["datatype"] for i in meta["inputs"]}["history"] == "BYTES"
    histories = [_answers(["addition", "subtraction"], [1, 0]), _answers(["addition"] * 3, [1, 1, 1])]
    body = {"inputs": [{"name": "learner", "shape": [2], "datatype": "BYTES", "data": ["amy", "ben"]},
                       {"name": "history", "shape": [2], "datatype": "BYTES", "data": [json.dumps(h) for h in histories]},
                       {"name": "next", "shape": [2], "datatype": "BYTES", "data": [json.dumps({"skill": "addition"})] * 2}]}
    response = client.post(f"/v2/models/{TASK}/infer", json=body)
    assert response.status_code == 200, response.text
    probabilities = next(t for t in response.json()["outputs"] if t["name"] == "probabilities")
    assert probabilities["shape"][0] == 2 and all(0 <= p <= 1 for p in probabilities["data"] if p == p)
    broken = {**body, "inputs": [body["inputs"][0], {**body["inputs"][1], "data": ["[{not json", "[]"]}]}
    assert client.post(f"/v2/models/{TASK}/infer", json=broken).status_code == 422
