"""Every answer is logged with its prediction id; feedback records the true outcome."""

from __future__ import annotations

from fastapi.testclient import TestClient

from aiaas.keys import KeyStore
from aiaas.monitoring.predictions import Feedback, Prediction, PredictionLog, fingerprint
from aiaas.serving.app import create_app
from aiaas.settings import get_settings

CLAIM = {"amount": 30.0, "policy_age_years": 15, "region": "north"}
URL = "/v1/insurance/claims"


def _client(claims_model, **settings: object) -> TestClient:  # noqa: ANN001
    host, registry, _ = claims_model
    return TestClient(create_app(host, registry, get_settings().model_copy(update=settings)))


def test_each_answer_is_logged_with_its_id(claims_model) -> None:  # noqa: ANN001
    _, registry, _ = claims_model
    _, key = KeyStore(registry.engine).create("claims-app", "insurance")
    client = _client(claims_model)
    response = client.post(f"{URL}/predict", json={"instances": [CLAIM, {**CLAIM, "amount": 20000.0}]},
                           headers={"Authorization": f"Bearer {key}", "X-Request-ID": "req-7"})
    answers = response.json()["predictions"]
    ids = [a["prediction_id"] for a in answers]
    assert len(set(ids)) == 2 and all(len(i) == 32 for i in ids)
    log: PredictionLog = client.app.state.predictions
    stored = log.find(ids[0])
    assert stored is not None and stored.task == "insurance/claims" and stored.version == 1 and stored.key == "claims-app"
    assert stored.request_id == "req-7" and stored.inputs["amount"] == 30.0 and stored.answer["label"] == answers[0]["label"]
    again = log.find(client.post(f"{URL}/predict", json={"instances": [CLAIM]}, headers={"Authorization": f"Bearer {key}"})
                     .json()["predictions"][0]["prediction_id"])
    assert again.fingerprint == stored.fingerprint != log.find(ids[1]).fingerprint  # the same instance, the same fingerprint
    assert len(stored.fingerprint) == 64 and fingerprint({"image": b"\x00\x01"}) != fingerprint({"image": b"\x00\x02"})
    explained = client.post(f"{URL}/explain", json={"instances": [CLAIM]}, headers={"Authorization": f"Bearer {key}"})
    assert "prediction_id" not in explained.json()["explanations"][0]  # explanations are not predictions


def test_feedback_records_the_true_label(claims_model) -> None:  # noqa: ANN001
    client = _client(claims_model)
    pid = client.post(f"{URL}/predict", json={"instances": [CLAIM]}).json()["predictions"][0]["prediction_id"]
    response = client.post(f"{URL}/feedback", json={"prediction_id": pid, "label": "investigate"})
    assert response.status_code == 201 and response.json() == {"prediction_id": pid, "label": "investigate", "version": 1}
    assert client.post(f"{URL}/feedback", json={"prediction_id": pid, "label": 2}).json()["label"] == "deny"  # an index works too
    wrong = client.post(f"{URL}/feedback", json={"prediction_id": pid, "label": "maybe"})
    assert wrong.status_code == 422 and "approve, investigate, deny" in wrong.json()["detail"][0]["msg"]
    assert client.post(f"{URL}/feedback", json={"prediction_id": "0" * 32, "label": "deny"}).status_code == 404
    assert client.post(f"{URL}/feedback", json={"prediction_id": "not-an-id", "label": "deny"}).status_code == 422
    assert client.post(f"{URL}/feedback", json={"prediction_id": pid, "label": "deny", "extra": 1}).status_code == 422
    rows, labels = client.app.state.predictions.since("insurance/claims", Prediction.at.type.python_type.min.replace(year=2000))
    assert labels[pid] == "deny" and any(r.id == pid for r in rows)


def test_a_task_may_keep_inputs_out_of_the_log(claims_model) -> None:  # noqa: ANN001
    from dataclasses import replace

    host, registry, _ = claims_model
    task = host.components.tasks["insurance/claims"]
    host.components.tasks["insurance/claims"] = replace(task, log_inputs=False, log_omit=("probabilities",))
    client = TestClient(create_app(host, registry, get_settings()))
    pid = client.post(f"{URL}/predict", json={"instances": [CLAIM]}).json()["predictions"][0]["prediction_id"]
    stored = client.app.state.predictions.find(pid)
    assert stored.inputs is None and len(stored.fingerprint) == 64 and "probabilities" not in stored.answer
    assert "label" in stored.answer


def test_the_log_can_be_switched_off(claims_model) -> None:  # noqa: ANN001
    client = _client(claims_model, prediction_log=False)
    answer = client.post(f"{URL}/predict", json={"instances": [CLAIM]}).json()["predictions"][0]
    assert "prediction_id" not in answer
    assert client.post(f"{URL}/feedback", json={"prediction_id": "a" * 32, "label": "deny"}).status_code == 404
    assert Feedback.__tablename__ == "feedback"


def test_the_log_on_each_database(database_url: str, tmp_path) -> None:  # noqa: ANN001
    from datetime import UTC, datetime, timedelta

    from aiaas.registry import Registry

    log = PredictionLog(Registry(database_url, tmp_path / "artifacts").engine, retention_days=30, flush_seconds=0.01)
    for i in range(3):
        log.record(prediction_id=f"{i:032x}", request_id=f"r{i}", task="t/x", version=2, key=None, answer={"label": "a", "score": float("nan")},
                   instance={"n": i, "when": datetime(2026, 1, 1)}, log_inputs=True, omit=())
    found = log.find(f"{1:032x}")
    assert found is not None and found.inputs == {"n": 1, "when": "2026-01-01T00:00:00"} and found.answer["score"] is None
    log.add_feedback(found, "b", "ops")
    rows, labels = log.since("t/x", datetime.now(UTC) - timedelta(hours=1))
    assert [r.request_id for r in rows] == ["r0", "r1", "r2"] and labels == {f"{1:032x}": "b"}
    newest, _ = log.since("t/x", datetime.now(UTC) - timedelta(hours=1), newest=2)  # a busy log is read newest first, bounded
    assert [r.request_id for r in newest] == ["r1", "r2"]
    now = datetime.now(UTC)
    assert log.counts("t/x", [now - timedelta(hours=2), now - timedelta(hours=1), now + timedelta(seconds=1)]) == [0, 3]
    assert log.counts("t/other", [now - timedelta(hours=1), now + timedelta(seconds=1)]) == [0]


def test_a_day_of_traffic_is_counted_from_minute_counts_that_match_the_rows(database_url: str, tmp_path) -> None:  # noqa: ANN001
    """The console's traffic chart reads per-minute counts (kept by the writer, backfilled for an older log) and
    only the part-minutes at its edges from the rows: the totals equal counting every row."""
    import random
    import uuid
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import func, insert, select
    from sqlalchemy.orm import Session

    from aiaas.monitoring.predictions import PredictionMinute
    from aiaas.registry import Registry

    engine = Registry(database_url, tmp_path / "artifacts").engine
    Prediction.__table__.create(engine, checkfirst=True)  # a log written before minute counts existed
    rng, now = random.Random(3), datetime.now(UTC)
    with Session(engine) as session, session.begin():
        session.execute(insert(Prediction), [{"id": uuid.uuid4().hex, "request_id": "old", "task": rng.choice(["t/a", "t/b"]), "version": 1,
                                              "at": now - timedelta(seconds=rng.uniform(0, 86_400)), "key": None, "answer": {},
                                              "inputs": None, "fingerprint": "f"} for _ in range(3000)])
    log = PredictionLog(engine, retention_days=30, flush_seconds=0.01)
    for i in range(40):  # and some written by the log's own writer, now
        log.record(prediction_id=uuid.uuid4().hex, request_id=f"new{i}", task="t/a", version=1, key=None, answer={}, instance={"i": i},
                   log_inputs=False, omit=())
    log.flush()
    with Session(engine) as session:
        assert session.scalar(select(func.sum(PredictionMinute.count))) == 3040

        def counted(task: str, low: datetime, high: datetime) -> int:
            return int(session.scalar(select(func.count()).select_from(Prediction).where(
                Prediction.task == task, Prediction.at >= low, Prediction.at < high)))

        for start, buckets in ((now - timedelta(hours=24), 48), (now - timedelta(minutes=15), 30), (now - timedelta(hours=7, seconds=13), 5)):
            end = datetime.now(UTC) + timedelta(seconds=1)
            cuts = [start + i * (end - start) / buckets for i in range(buckets)] + [end]
            for task in ("t/a", "t/b"):
                assert log.counts(task, cuts) == [counted(task, a, b) for a, b in zip(cuts, cuts[1:])]


def test_model_requests_latency_and_errors_are_counted_per_minute(database_url: str, tmp_path) -> None:  # noqa: ANN001
    from datetime import UTC, datetime, timedelta

    from aiaas.registry import Registry

    log = PredictionLog(Registry(database_url, tmp_path / "artifacts").engine, retention_days=30, flush_seconds=0.01)
    for seconds in [0.004] * 90 + [0.04] * 8 + [0.3]:  # 99 quick-ish answers...
        log.timed("t/a", 200, seconds)
    log.timed("t/a", 503, 2.0)  # ...and one slow server error
    log.timed("t/b", 200, 0.001)
    now = datetime.now(UTC)
    (window,) = log.timings("t/a", [now - timedelta(minutes=5), now + timedelta(minutes=1)])
    assert (window.requests, window.errors, window.p50, window.p99) == (100, 1, 0.025, 1.0)
    (other,) = log.timings("t/b", [now - timedelta(minutes=5), now + timedelta(minutes=1)])
    assert (other.requests, other.errors, other.p99) == (1, 0, 0.025)
    assert log.timings("t/a", [now - timedelta(hours=2), now - timedelta(hours=1)])[0].requests == 0
    assert log.counts("t/a", [now - timedelta(minutes=5), now + timedelta(minutes=1)]) == [0]  # requests are not logged answers
