"""Learner state kept by the service: appends, reads after a restart, order under
concurrency, and erasure that leaves nothing behind."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from fastapi.testclient import TestClient
from sqlalchemy import event

from aiaas.registry import Registry
from aiaas.serving.app import create_app
from aiaas.settings import get_settings
from aiaas.testing import TrainedModels
from aiaas_education.learners import LearnerStore, StoredAnswer, pseudonym
from aiaas_education.schemas import Answer

from .conftest import TASK

URL = f"/v1/{TASK}/learners"


def _stored_bytes(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in home.glob("registry.db*"))


def test_appends_update_mastery_and_survive_a_restart(trained: TrainedModels) -> None:
    with trained.inside():
        client = trained.client()
        first = client.post(f"{URL}/maya/answers", json={"answers": [{"skill": "fractions", "correct": 0}]})
        assert first.status_code == 200, first.text
        second = client.post(f"{URL}/maya/answers", json={"answers": [{"skill": "fractions", "correct": 1}] * 5})
        assert second.json()["stored_answers"] == 6 and second.json()["state"]["answers_given"] == 6
        assert second.json()["state"]["mastery"]["fractions"] > first.json()["state"]["mastery"]["fractions"]
        sent_whole = client.post(f"/v1/{TASK}/predict", json={"instances": [
            {"learner": "maya", "history": [{"skill": "fractions", "correct": c} for c in [0, 1, 1, 1, 1, 1]]}]})
        assert second.json()["state"]["mastery"] == sent_whole.json()["predictions"][0]["mastery"]

        restarted = TestClient(create_app(trained.host, Registry.from_settings(), get_settings()))
        again = restarted.get(f"{URL}/maya")
        assert again.status_code == 200 and again.json()["state"]["mastery"] == second.json()["state"]["mastery"]
        assert restarted.get(f"{URL}/nobody").status_code == 404


def test_bad_appends_get_a_422_and_store_nothing(trained: TrainedModels) -> None:
    with trained.inside():
        client = trained.client()
        for body in ({"answers": []}, {"answers": [{"skill": "x", "correct": 3}]}, {"answers": {"skill": "x"}},
                     {"answers": [{"skill": "x", "correct": 1}], "extra": 1}, {"answer": []}):
            response = client.post(f"{URL}/zed/answers", json=body)
            assert response.status_code == 422, body
        assert client.get(f"{URL}/zed").status_code == 404


POSTGRES = os.environ.get("AIAAS_TEST_POSTGRES_URL")  # e.g. postgresql+psycopg://user:pw@127.0.0.1/aiaas_test


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.skipif(not POSTGRES, reason="set AIAAS_TEST_POSTGRES_URL"))])
def store(request: pytest.FixtureRequest, tmp_path: Path, aiaas_home: Path) -> Iterator[LearnerStore]:
    url = f"sqlite:///{tmp_path / 'service.db'}" if request.param == "sqlite" else POSTGRES
    store = LearnerStore(Registry(url, tmp_path / "artifacts").engine)  # type: ignore[arg-type]
    store.erase("kid")
    yield store
    store.erase("kid")


def test_concurrent_appends_keep_their_order(store: LearnerStore) -> None:
    barrier = threading.Barrier(8)

    def append(block: int) -> None:
        barrier.wait()
        for _ in range(3):
            store.append("kid", [Answer(skill=f"s{block}", correct=i % 2, item=f"{block}-{i}") for i in range(5)])

    threads = [threading.Thread(target=append, args=(b,)) for b in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows, total = store.history("kid", 1000)
    assert total == 8 * 3 * 5 and [r.step for r in rows] == list(range(1, total + 1))
    for start in range(0, total, 5):  # each append's answers stay together and in their order
        block = rows[start : start + 5]
        assert len({r.skill for r in block}) == 1 and [r.item.split("-")[1] for r in block] == ["0", "1", "2", "3", "4"]


def _insecure_default(connection, _record) -> None:  # noqa: ANN001
    connection.execute("PRAGMA secure_delete=OFF")  # as SQLite builds without SQLITE_SECURE_DELETE start


def test_erasure_leaves_nothing_behind(trained: TrainedModels, caplog: pytest.LogCaptureFixture) -> None:
    engine = trained.registry.engine
    event.listen(engine, "connect", _insecure_default, insert=True)  # before the registry's own settings
    engine.dispose()
    try:
        with caplog.at_level(logging.DEBUG):
            _erase_and_look(trained)
    finally:
        event.remove(engine, "connect", _insecure_default)
        engine.dispose()
    logged = "\n".join(record.getMessage() for record in caplog.records if not record.name.startswith("httpx"))  # the server's, not the client's
    assert "aiaas.access" in {record.name for record in caplog.records}
    assert RAW_ID not in logged and SKILL not in logged  # the access log names the route's template, not the learner


RAW_ID, SKILL = "pupil-4411-7th-grade", "quaternion-folding-88"
"""A learner, and a skill only this learner practised: neither may be left anywhere after erasure."""


def _everything_under(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())


def _erase_and_look(trained: TrainedModels) -> None:
    with trained.inside():
        client = trained.client()
        raw_id, key = RAW_ID, pseudonym(RAW_ID)
        for _ in range(3):
            client.post(f"{URL}/{raw_id}/answers", json={"answers": [{"skill": "ratios", "correct": 1, "item": "ratios-q7"}] * 40})
        whole = {"learner": raw_id, "history": [{"skill": SKILL, "correct": 1}, {"skill": "ratios", "correct": 0}], "next": {"skill": SKILL}}
        ids = [client.post(f"/v1/{TASK}/predict", json={"instances": [whole]}).json()["predictions"][0]["prediction_id"] for _ in range(4)]
        assert client.post(f"/v1/{TASK}/feedback", json={"prediction_id": ids[0], "label": 1}).status_code == 201
        assert client.post(f"/v1/{TASK}/predict", json={"instances": [{"learner": "someone-else", "history": [{"skill": "ratios", "correct": 1}]}]}).status_code == 200
        client.app.state.predictions.flush()
        stored = _stored_bytes(trained.home)
        assert key.encode() in stored  # the learner is stored, under the pseudonym only
        assert raw_id.encode() not in stored

        response = client.delete(f"{URL}/{raw_id}")
        assert response.status_code == 200 and response.json()["erased_answers"] == 120
        assert response.json()["erased_predictions"] == 4  # the other learner's prediction stays
        everything = _everything_under(trained.home)  # the database, its journal and free pages, artifacts, secrets
        assert raw_id.encode() not in everything and SKILL.encode() not in everything
        assert client.get(f"{URL}/{raw_id}").status_code == 404
        store = LearnerStore(trained.registry.engine)
        assert store.history(raw_id, 10) == ([], 0)
        from sqlalchemy import func, select
        from sqlalchemy.orm import Session

        with Session(store.engine) as session:
            assert session.scalar(select(func.count()).select_from(StoredAnswer).where(StoredAnswer.learner == key)) == 0
        assert key.encode() not in _stored_bytes(trained.home)  # not in the database file, its journal or free pages
        assert client.delete(f"{URL}/{raw_id}").json()["erased_answers"] == 0


def test_options_and_405_name_every_method_of_a_learner_route(trained: TrainedModels) -> None:
    """Regression: OPTIONS (and a 405) on a learner's route named one of its methods, the first route's."""
    with trained.inside():
        client = trained.client()
        for path, methods in ((f"{URL}/maya", {"GET", "DELETE", "OPTIONS"}), (f"{URL}/maya/answers", {"POST", "OPTIONS"})):
            options = client.options(path)
            assert options.status_code == 204 and set(options.headers["allow"].split(", ")) == methods, options.headers
            refused = client.patch(path, json={})
            assert refused.status_code == 405 and set(refused.headers["allow"].split(", ")) == methods
        assert client.options(f"{URL}/maya/nothing-here").status_code == 404
