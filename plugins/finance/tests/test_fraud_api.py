"""The served finance/fraud API: answers, explanations, errors, live promote/rollback."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from aiaas.registry import Registry
from aiaas.serving.app import create_app
from aiaas.settings import Settings
from aiaas.testing import wait_for_version
from aiaas_finance.adapters import derive_history

pytestmark = pytest.mark.slow

ORDINARY = {"timestamp": "2026-03-14T12:13:00", "amount": 31.5, "merchant_category": "5411", "channel": "pos",
            "country": "FR", "card_present": True}


def _rows(trained, fraud: int, n: int) -> list[dict]:
    frame = derive_history(pd.read_csv(trained.data, dtype={"merchant_category": str}))
    picked = frame[frame.is_fraud == fraud].tail(n).drop(columns=["is_fraud"])
    return [{k: v for k, v in row.items() if pd.notna(v)} for row in picked.to_dict(orient="records")]


def test_predict_answers_in_the_domains_shape(trained) -> None:
    client = trained.client()
    response = client.post("/v1/finance/fraud/predict", json={"instances": [ORDINARY, *_rows(trained, 1, 2)]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == {"task": "finance/fraud", "version": 1, "runtime": "tensorflow", "architecture": "mlp"}
    assert len(body["predictions"]) == 3
    for answer in body["predictions"]:
        assert 0 <= answer["fraud_probability"] <= 1 and 0 <= answer["risk_score"] <= 1000
        assert answer["band"] in ("normal", "elevated", "highest")
        blocked = answer["fraud_probability"] >= answer["threshold"]
        assert (answer["decision"] == "block") == blocked
        if not blocked:
            assert answer["decision"] == ("approve" if answer["band"] == "normal" else "review")
        assert len(answer["reasons"]) <= 3 and all(r["contribution"] > 0 and r["code"] for r in answer["reasons"])


def test_frauds_score_higher_than_legitimate_transactions(trained) -> None:
    client = trained.client()
    frauds = client.post("/v1/finance/fraud/predict", json={"instances": _rows(trained, 1, 30)}).json()["predictions"]
    legit = client.post("/v1/finance/fraud/predict", json={"instances": _rows(trained, 0, 200)}).json()["predictions"]
    assert np.median([a["risk_score"] for a in frauds]) > np.median([a["risk_score"] for a in legit]) + 200
    assert sum(a["decision"] == "block" for a in frauds) > sum(a["decision"] == "block" for a in legit) / 10


def test_explain_gives_signed_attributions_that_add_up(trained) -> None:
    client = trained.client()
    instance = _rows(trained, 1, 1)[0]
    response = client.post("/v1/finance/fraud/explain", json={"instances": [instance]})
    assert response.status_code == 200, response.text
    explanation = response.json()["explanations"][0]
    attributions = explanation["attributions"]
    assert {a["feature"] for a in attributions} >= {"amount", "channel", "timestamp", "amount_to_avg_30d"}
    magnitudes = [abs(a["contribution"]) for a in attributions]
    assert magnitudes == sorted(magnitudes, reverse=True)
    # The top feature's contribution is exactly what replacing it by its baseline takes away.
    top = attributions[0]
    baseline_instance = {**instance, top["feature"]: top["baseline"]}
    if top["feature"] == "timestamp":
        baseline_instance["timestamp"] = top["baseline"][:19]
    without = client.post("/v1/finance/fraud/predict", json={"instances": [baseline_instance]}).json()["predictions"][0]
    assert explanation["score"] - without["fraud_probability"] == pytest.approx(top["contribution"], abs=1e-4)


@pytest.mark.parametrize(
    ("body", "loc", "words"),
    [
        ({"instances": [{**ORDINARY, "amount": "lots"}]}, ["body", "instances", 0, "amount"], "valid number"),
        ({"instances": [{**ORDINARY, "amount": -5}]}, ["body", "instances", 0, "amount"], "greater than 0"),
        ({"instances": [ORDINARY, {k: v for k, v in ORDINARY.items() if k != "channel"}]}, ["body", "instances", 1, "channel"], "required"),
        ({"instances": [{**ORDINARY, "colour": "red"}]}, ["body", "instances", 0, "colour"], "Extra inputs"),
        ({"instances": [{**ORDINARY, "merchant_category": "groceries"}]}, ["body", "instances", 0, "merchant_category"], "pattern"),
        ({"instances": [{**ORDINARY, "timestamp": "last tuesday"}]}, ["body", "instances", 0, "timestamp"], "datetime"),
        ({"instances": []}, ["body", "instances"], "non-empty"),
        ({"rows": [ORDINARY]}, ["body", "instances"], "instances"),
        ([ORDINARY], ["body", "instances"], "instances"),
    ],
)
def test_bad_input_gets_a_422_naming_the_field(trained, body: object, loc: list, words: str) -> None:
    response = trained.client().post("/v1/finance/fraud/predict", json=body)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"][0]
    assert detail["loc"] == loc and words in detail["msg"], detail


def test_malformed_json_too_many_and_too_large(trained, tmp_path) -> None:
    client = trained.client()
    response = client.post("/v1/finance/fraud/predict", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422 and "not valid JSON" in response.json()["detail"][0]["msg"]
    small = Settings(home=trained.home, max_instances=2, max_request_bytes=2000, alias_ttl_seconds=0)
    limited = TestClient(create_app(trained.host, trained.registry, small))
    response = limited.post("/v1/finance/fraud/predict", json={"instances": [ORDINARY] * 3})
    assert response.status_code == 422 and "limit of 2" in response.json()["detail"][0]["msg"]
    response = limited.post("/v1/finance/fraud/predict", json={"instances": [ORDINARY] * 20})
    assert response.status_code == 413
    chunked = iter([json.dumps({"instances": [ORDINARY] * 20}).encode()])  # no Content-Length header
    response = limited.post("/v1/finance/fraud/predict", content=chunked, headers={"content-type": "application/json"})
    assert response.status_code == 413 and "over the limit of 2000" in response.json()["detail"]


def test_no_promoted_model_is_a_503_with_a_clear_message(trained, tmp_path) -> None:
    empty = Registry(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path / "artifacts")
    client = TestClient(create_app(trained.host, empty, Settings(home=tmp_path)))
    response = client.post("/v1/finance/fraud/predict", json={"instances": [ORDINARY]})
    assert response.status_code == 503
    assert "finance/fraud has no promoted model" in response.json()["detail"]
    assert client.get("/readyz").json()["tasks"]["finance/fraud"]["status"] == "no promoted model"


def test_promote_and_rollback_reach_a_running_server(trained) -> None:
    client = trained.client()
    version = lambda: client.post("/v1/finance/fraud/predict", json={"instances": [ORDINARY]}).json()["model"]  # noqa: E731
    assert version()["version"] == 1
    trained.registry.promote("finance/fraud", 2)
    try:
        assert version()["version"] == 1  # version 2 loads and warms in the background; version 1 answers meanwhile
        wait_for_version(client, "finance/fraud", 2)
        assert version() == {"task": "finance/fraud", "version": 2, "runtime": "torch", "architecture": "mlp"}
    finally:
        trained.registry.rollback("finance/fraud")
    assert version()["version"] == 1  # still warm: traffic moves back at once


def test_service_endpoints_and_docs(trained) -> None:
    client = trained.client()
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["tasks"]["finance/fraud"] == {"version": 1, "status": "serving"}
    tasks = {t["task"]: t for t in client.get("/v1/tasks").json()}
    fraud = tasks["finance/fraud"]
    assert fraud["model"]["version"] == 1 and [label["name"] for label in fraud["labels"]] == ["legit", "fraud"]
    assert {"amount", "merchant_category"} <= set(fraud["input_schema"]["properties"])
    assert {"risk_score", "reasons"} <= set(fraud["output_schema"]["properties"])
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/v1/finance/fraud/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    request_schema = spec["components"]["schemas"][body["$ref"].split("/")[-1]]
    assert request_schema["properties"]["instances"]["items"]["$ref"].endswith("/Transaction")


def test_a_promoted_version_with_damaged_files_is_a_503_not_a_500(trained, tmp_path, monkeypatch) -> None:
    import shutil

    import aiaas.versions

    registry = Registry(f"sqlite:///{tmp_path / 'r.db'}", tmp_path / "artifacts")
    good = trained.registry.folder(trained["torch"].version)

    def copy_without_weights(folder) -> None:  # noqa: ANN001
        shutil.copytree(good, folder, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.safetensors"))

    row = registry.register(_as_new(trained), copy_without_weights)
    registry.promote("finance/fraud", row.version)
    client = TestClient(create_app(trained.host, registry, Settings(home=tmp_path, alias_ttl_seconds=0)))
    response = client.post("/v1/finance/fraud/predict", json={"instances": [ORDINARY]})
    assert response.status_code == 503 and "version 1 is promoted but failed to load" in response.json()["detail"]
    assert client.get("/readyz").status_code == 503
    assert client.get("/v1/tasks").status_code == 200

    attempts = []
    real_load = aiaas.versions.load_version
    monkeypatch.setattr(aiaas.versions, "load_version", lambda *a, **k: attempts.append(1) or real_load(*a, **k))
    patient = TestClient(create_app(trained.host, registry, Settings(home=tmp_path, alias_ttl_seconds=60)))
    for _ in range(3):
        assert patient.post("/v1/finance/fraud/predict", json={"instances": [ORDINARY]}).status_code == 503
    assert len(attempts) == 1  # the failure is remembered, not retried per request


def _as_new(trained):  # noqa: ANN001, ANN202
    from aiaas.registry import NewVersion

    row = trained.registry.get("finance/fraud", 2)
    return NewVersion(row.task, row.runtime, row.architecture, row.metrics, row.data_fingerprint, row.provenance)


def test_nan_and_infinity_get_a_422_not_a_500(trained) -> None:
    """Regression: a 422 echoing NaN as the bad input could not be written as JSON and became a 500."""
    for value in ("NaN", "Infinity"):
        body = json.dumps({"instances": [{**ORDINARY, "amount": 0}]}).replace('"amount": 0', f'"amount": {value}')
        response = trained.client().post("/v1/finance/fraud/predict", content=body, headers={"content-type": "application/json"})
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"] == ["body", "instances", 0, "amount"]


@pytest.mark.parametrize("field,raw,words", [
    ("amount", "1e309", "not a finite number"),
    ("country", '"\\ud800"', "lone surrogate"),
    ("country", '"U\\u0000S"', "control characters"),
])
def test_values_json_cannot_carry_get_a_422(trained, field: str, raw: str, words: str) -> None:
    """Regression: each of these gave a 500."""
    body = json.dumps({"instances": [{**ORDINARY, field: "PLACEHOLDER"}]}).replace('"PLACEHOLDER"', raw)
    response = trained.client().post("/v1/finance/fraud/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "instances", 0, field] and words in response.json()["detail"][0]["msg"]


def test_deep_nesting_non_json_bodies_and_mixed_time_zones(trained) -> None:
    """Regression: deep nesting and instances mixing time zones gave 500s; a text/plain body was parsed as JSON."""
    client = trained.client()
    deep = '{"instances": ' + "[" * 2000 + "]" * 2000 + "}"
    response = client.post("/v1/finance/fraud/predict", content=deep, headers={"content-type": "application/json"})
    assert response.status_code == 422 and "nested" in response.json()["detail"][0]["msg"]
    response = client.post("/v1/finance/fraud/predict", content=json.dumps({"instances": [ORDINARY]}), headers={"content-type": "text/plain"})
    assert response.status_code == 415 and "application/json" in response.json()["detail"][0]["msg"]
    mixed = [{**ORDINARY, "timestamp": "2026-03-14T02:13:00Z"}, {**ORDINARY, "timestamp": "2026-03-14T04:13:00+02:00"},
             {**ORDINARY, "timestamp": "2026-03-14T02:13:00"}]
    response = client.post("/v1/finance/fraud/predict", json={"instances": mixed})
    assert response.status_code == 200, response.text
    scores = [p["fraud_probability"] for p in response.json()["predictions"]]
    assert scores[0] == scores[1] == scores[2]  # the same moment, however it is written


def test_aiaas_monitor_reports_metrics_from_feedback_and_drift(in_trained_home, tmp_path) -> None:  # noqa: ANN001
    from typer.testing import CliRunner

    from aiaas.cli import app

    client = in_trained_home.client()
    night = _rows(in_trained_home, 1, 30)  # real frauds of the sample
    day = _rows(in_trained_home, 0, 30)
    answers = client.post("/v1/finance/fraud/predict", json={"instances": night + day}).json()["predictions"]
    for i, answer in enumerate(answers):  # the risky half turned out to be fraud
        client.post("/v1/finance/fraud/feedback", json={"prediction_id": answer["prediction_id"], "label": "fraud" if i < 30 else "legit"})
    client.app.state.predictions.flush()
    result = CliRunner().invoke(app, ["monitor", "finance/fraud", "--since", "1d"])
    assert result.exit_code == 0, result.output
    assert "roc_auc" in result.output and "amount" in result.output and "report:" in result.output
    result = CliRunner().invoke(app, ["monitor", "finance/fraud", "--since", "1d", "--json"])
    summary = json.loads(result.output)
    (version,) = [v for v in summary["versions"] if v["version"] == summary["production"]]
    assert version["feedback"] == 60 and version["metrics"]["roc_auc"] > 0.7  # labels matched to answers: no better than chance otherwise
    assert summary["drift"]["amount"] > 0.1 and "PSI" in open(summary["report"]).read()


def test_a_transaction_unlike_any_in_training_is_flagged_not_answered_with_false_confidence(trained) -> None:
    """The report that opened the input checks: hours_since_previous 1e308 came back "block" at probability 1.0, unflagged."""
    odd = [{**ORDINARY, "hours_since_previous": 1e308}, {**ORDINARY, "country": "AQ", "merchant_category": "0001"}]
    response = trained.client().post("/v1/finance/fraud/predict", json={"instances": [ORDINARY, *odd]})
    assert response.status_code == 200, response.text
    ordinary, far, unseen = (a["input_check"] for a in response.json()["predictions"])
    assert ordinary["in_distribution"] and not ordinary["reasons"]
    assert not far["in_distribution"] and any(r.startswith("hours_since_previous 1e+308 is above the training range") for r in far["reasons"])
    assert not unseen["in_distribution"] and any("country 'AQ'" in r and "merchant_category '0001'" in r for r in unseen["reasons"])


def test_reason_codes_are_those_the_served_version_emits(trained, tmp_path) -> None:
    from aiaas import TrainRequest
    from aiaas.training import train

    simulator = TestClient(create_app(trained.host, trained.registry, Settings(home=trained.home))).get("/v1/finance/fraud/reason-codes")
    assert simulator.status_code == 200 and simulator.json()["R01"] == "transaction amount" and "X:V1" not in simulator.json()
    rng = np.random.default_rng(0)
    own = pd.DataFrame({"Time": np.arange(600) * 7.0, "V1": rng.normal(size=600), "V2": rng.normal(size=600),
                        "Amount": rng.exponential(40, 600)})
    own["Class"] = (own["V1"] + rng.normal(0, 0.5, 600) > 1.2).astype(int)
    own.to_csv(tmp_path / "own.csv", index=False)
    registry = Registry(f"sqlite:///{tmp_path / 'own.db'}", tmp_path / "artifacts")
    train(trained.host, registry, TrainRequest("finance/fraud", tmp_path / "own.csv", architecture="gbdt", label="Class", promote=True,
                                               force=True), quiet=True)
    codes = TestClient(create_app(trained.host, registry, Settings(home=tmp_path))).get("/v1/finance/fraud/reason-codes").json()
    assert set(codes) == {"X:V1", "X:V2", "X:Amount"} and codes["X:V1"] == "value of V1"  # Time orders the split: not a feature
