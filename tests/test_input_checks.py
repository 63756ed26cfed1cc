"""Answers that know their limits: input checks on a table (range, unseen categories,
an unusual combination), non-finite numbers refused, calibration on validation, the
flag in offline scoring, metrics and the prediction log, and the distance they use."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

import aiaas
from aiaas.novelty import distance
from aiaas.novelty.guard import STEM
from aiaas.registry import Registry
from aiaas.scoring import score_file
from aiaas.serving.app import create_app
from aiaas.settings import get_settings
from aiaas.testing import host_with
from aiaas.training import TrainRequest, train

from .test_model_quality import lending_plugin
from .test_model_quality import loans as lending_loans

PREDICT = "/v1/lending/default/predict"


def loans(rows: int = 800, seed: int = 0) -> pd.DataFrame:
    """The lending table plus the monthly income, which moves with the income: each can be
    ordinary while the pair is not."""
    frame = lending_loans(rows, seed)
    noise = np.random.default_rng(seed + 100).normal(1, 0.01, rows)
    frame.insert(1, "monthly_income", (frame["income"] / 12 * noise).round(2))
    return frame


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """(host, registry, folder, data) of a promoted lending model with its input checks."""
    from aiaas.testing import isolated_home

    folder = tmp_path_factory.mktemp("checks")
    with isolated_home(folder / "home"):
        host, registry = host_with("lending", lending_plugin()), Registry.from_settings()
        data = folder / "loans.csv"
        loans().to_csv(data, index=False)
        result = train(host, registry, TrainRequest("lending/default", data, architecture="gbdt", promote=True, force=True), quiet=True)
        yield host, registry, registry.folder(result.version), data


def _ordinary() -> dict:
    return {"income": 22000.0, "monthly_income": 1833.0, "debt_ratio": 0.4, "grade": "B"}


def _answers(served, instances: list[dict]) -> tuple[TestClient, list[dict]]:  # noqa: ANN001
    host, registry, _, _ = served
    client = TestClient(create_app(host, registry, get_settings()))
    response = client.post(PREDICT, json={"instances": instances})
    assert response.status_code == 200, response.text
    return client, response.json()["predictions"]


def test_each_answer_says_whether_its_input_is_like_the_training_data(served) -> None:  # noqa: ANN001
    far = {**_ordinary(), "income": 1e12, "monthly_income": 1e12 / 12}
    unseen = {**_ordinary(), "grade": "Z"}
    mismatched = {**_ordinary(), "income": 60000.0, "monthly_income": 900.0}  # each in range; together never seen
    client, answers = _answers(served, [_ordinary(), far, unseen, mismatched])
    checks = [a["input_check"] for a in answers]
    assert checks[0]["in_distribution"] and checks[0]["reasons"] == [] and checks[0]["novelty"] <= checks[0]["threshold"]
    assert not checks[1]["in_distribution"] and any("income 1,000,000,000,000 is above the training range" in r for r in checks[1]["reasons"]), checks[1]
    assert not checks[2]["in_distribution"] and "never seen in training: grade 'Z'" in checks[2]["reasons"]
    assert not checks[3]["in_distribution"] and any("unusual combination of values" in r for r in checks[3]["reasons"])
    assert all(c["novelty"] > c["threshold"] for c in checks[1:])
    assert all("probabilities" in a for a in answers)  # flagged inputs are answered, with the flag (the default)
    metrics = client.get("/metrics").text
    assert 'aiaas_flagged_inputs_total{action="answered",task="lending/default",version="1"} 3.0' in metrics
    (listed,) = [t for t in client.get("/v1/tasks").json() if t["task"] == "lending/default"]
    assert listed["input_checks"]["served"]["threshold"] == checks[0]["threshold"]
    assert listed["input_checks"]["refused_when_flagged_by"] == [] and "value-range" in listed["input_checks"]["available"]


def test_non_finite_numbers_are_refused_before_any_check(served) -> None:  # noqa: ANN001
    host, registry, _, _ = served
    client = TestClient(create_app(host, registry, get_settings()))
    for value, says in (("Infinity", "valid number"), ("NaN", "valid number"), ("-Infinity", "valid number")):  # text is not a number
        response = client.post(PREDICT, json={"instances": [_ordinary(), {**_ordinary(), "debt_ratio": value}]})
        assert response.status_code == 422, response.text
        (error,) = response.json()["detail"]
        assert error["loc"] == ["body", "instances", 1, "debt_ratio"] and says in error["msg"]
    raw = '{"instances": [{"income": 22000.0, "debt_ratio": NaN, "grade": "B"}]}'  # nor is JSON's missing NaN
    response = client.post(PREDICT, content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422 and "not a finite number" in response.text


def test_the_threshold_flags_about_one_percent_of_ordinary_inputs_and_is_saved(served) -> None:  # noqa: ANN001
    host, registry, folder, _ = served
    manifest = json.loads((folder / "manifest.json").read_text())
    summary = manifest["input_checks"]
    assert set(summary["detectors"]) == {"value-range", "unseen-categories", "feature-distance"}
    assert summary["validation_flagged"] <= 0.02 and summary["threshold"] >= 1
    assert (folder / f"{STEM}.json").is_file() and (folder / f"{STEM}.safetensors").is_file()
    assert f"{STEM}.safetensors" in manifest["files"]  # checked like every other file before the version serves
    fresh = pd.DataFrame(loans(2000, seed=7).drop(columns="defaulted"))  # new ordinary inputs from the same source
    from aiaas.versions import load_version

    finding = load_version(host, registry, "lending/default", None).check(fresh)
    assert finding is not None and finding.flagged.mean() <= 0.03


def test_offline_scoring_writes_the_flag_and_the_reasons(served, tmp_path: Path) -> None:  # noqa: ANN001
    host, registry, _, _ = served
    rows = pd.DataFrame([_ordinary(), {**_ordinary(), "grade": "Z"}])
    rows.to_csv(tmp_path / "in.csv", index=False)
    scored = score_file(host, registry, "lending/default", tmp_path / "in.csv", tmp_path / "out.csv", None, None, {})
    assert (scored.rows, scored.flagged, scored.refused) == (2, 1, 0)
    out = pd.read_csv(tmp_path / "out.csv")
    assert list(out["in_distribution"]) == [True, False]
    assert pd.isna(out["unfamiliar_reasons"][0]) and "grade 'Z'" in out["unfamiliar_reasons"][1]
    assert {"novelty", "refused"} <= set(out.columns) and not out["refused"].any()


def test_the_prediction_log_keeps_the_check_and_monitor_counts_the_flagged(served) -> None:  # noqa: ANN001
    host, registry, _, _ = served
    from aiaas.monitoring.monitor import monitor, since

    app = create_app(host, registry, get_settings())
    client = TestClient(app)
    response = client.post(PREDICT, json={"instances": [_ordinary(), {**_ordinary(), "grade": "Z"}]})
    assert response.status_code == 200
    result = monitor(host, registry, app.state.predictions, "lending/default", since("1h"), figures=False)
    (version,) = result.versions
    assert version.flagged >= 1 and version.flagged < version.predictions


def test_a_version_trained_before_input_checks_still_serves(served, tmp_path: Path) -> None:  # noqa: ANN001
    host, registry, folder, _ = served
    from aiaas.pipeline import Pipeline

    copy = tmp_path / "old"
    import shutil

    shutil.copytree(folder, copy)
    for name in (f"{STEM}.json", f"{STEM}.safetensors"):
        (copy / name).unlink()
    pipeline = Pipeline.load(host, copy)
    (answer,) = pipeline.answers(pd.DataFrame([_ordinary()]))
    assert pipeline.guard is None and "input_check" not in answer and "probabilities" in answer


def test_a_task_refusing_with_an_unknown_check_is_set_aside() -> None:
    module = lending_plugin()
    (task,) = module.register_tasks()
    from dataclasses import replace

    module.register_tasks = aiaas.hookimpl(lambda: [replace(task, refuse_unfamiliar=("no-such-check",))])
    with pytest.raises(AssertionError, match="plugin lending failed: task 'lending/default' refers to unknown input check 'no-such-check'"):
        host_with("lending", module)


def test_a_task_that_refuses_every_flagged_input_answers_422(served) -> None:  # noqa: ANN001
    host, registry, _, _ = served
    from dataclasses import replace

    from aiaas.versions import load_version

    pipeline = load_version(host, registry, "lending/default", None)
    pipeline.guard.refuse = ("*",)
    try:
        with pytest.raises(aiaas.InvalidInput, match="does not answer this input: never seen in training: grade 'Z'") as refused:
            pipeline.answers(pd.DataFrame([_ordinary(), {**_ordinary(), "grade": "Z"}]))
        assert refused.value.loc == (1,)
        offline = pipeline.answers(pd.DataFrame([_ordinary(), {**_ordinary(), "grade": "Z"}]), refuse=False)
        assert "probabilities" in offline[0] and offline[1] == {"input_check": {**offline[1]["input_check"], "refused": True}}
    finally:
        pipeline.guard.refuse = ()
    assert replace  # the record stays frozen: the policy is the task's, read when a version loads


def test_mahalanobis_distance_is_small_near_a_class_and_large_off_it() -> None:
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(0, 1, (300, 3)), rng.normal(5, 1, (300, 3))]
    x[:, 2] = x[:, 0] * 2 + rng.normal(0, 0.05, 600)  # a feature tied to another
    classes = np.r_[np.zeros(300), np.ones(300)]
    arrays = distance.fit(x, classes)
    near = distance.distance(np.array([[0.1, 0, 0.2], [5, 5, 10]]), arrays)
    between = distance.distance(np.array([[2.5, 2.5, 5.0]]), arrays)  # between the classes: far from both
    broken = distance.distance(np.array([[0.0, 0.0, 3.0]]), arrays)  # each value ordinary, the tie broken
    assert near.max() < 1 and between[0] > 3 and broken[0] > 5 * between[0] / 2
    assert distance.largest_deviation(np.array([[0.0, 0.0, 30.0]]), arrays)[0] == 2
