"""Rollouts: a canary answers a sticky share of clients, a shadow sees a copy of the traffic
without answering; both land in the prediction log so `aiaas monitor` compares them;
promote completes a rollout and rollback ends it."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from aiaas.cli import app as cli
from aiaas.errors import UserError
from aiaas.keys import KeyStore
from aiaas.monitoring.monitor import monitor
from aiaas.plugins import Host
from aiaas.registry import Registry
from aiaas.serving.app import create_app
from aiaas.settings import get_settings
from aiaas.testing import host_with, isolated_home, ready_client, wait_for_version
from aiaas.training import TrainRequest, train

from .test_model_quality import lending_plugin, loans

PREDICT = "/v1/lending/default/predict"
LOAN = {"income": 22000.0, "debt_ratio": 0.4, "grade": "B"}


@pytest.fixture
def two_versions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """(host, registry): lending version 1 in production, version 2 registered beside it; the CLI sees the same host."""
    with isolated_home(tmp_path / "home", alias_ttl_seconds="0"):
        host, registry = host_with("lending", lending_plugin()), Registry.from_settings()
        monkeypatch.setattr("aiaas.cli.get_host", lambda: host)
        for seed, promote in ((0, True), (1, False)):
            loans(500, seed).to_csv(tmp_path / f"loans{seed}.csv", index=False)
            train(host, registry, TrainRequest("lending/default", tmp_path / f"loans{seed}.csv", architecture="gbdt", promote=promote,
                                               seed=seed), quiet=True)
        yield host, registry


def _versions_by_client(client: TestClient, keys: dict[str, str], repeats: int = 3) -> dict[str, set[int]]:
    seen: dict[str, set[int]] = {}
    for name, key in keys.items():
        for _ in range(repeats):
            response = client.post(PREDICT, json={"instances": [LOAN]}, headers={"Authorization": f"Bearer {key}"})
            assert response.status_code == 200, response.text
            seen.setdefault(name, set()).add(response.json()["model"]["version"])
    return seen


def test_a_canary_answers_its_share_of_clients_each_always_on_the_same_side(two_versions: tuple[Host, Registry]) -> None:
    host, registry = two_versions
    keys = {f"client-{i}": KeyStore(registry.engine).create(f"client-{i}", "lending")[1] for i in range(24)}
    result = CliRunner().invoke(cli, ["promote", "lending/default", "2", "--canary", "50"])
    assert result.exit_code == 0 and "canary of version 2 (50% of clients)" in result.output, result.output
    with ready_client(host, registry) as client:
        seen = _versions_by_client(client, keys)
        assert all(len(versions) == 1 for versions in seen.values()), seen  # sticky per client key
        on_canary = sum(versions == {2} for versions in seen.values())
        assert 4 <= on_canary <= 20, seen
        client.app.state.predictions.flush()
        report = monitor(host, registry, client.app.state.predictions, "lending/default", datetime.now(UTC) - timedelta(hours=1), figures=False)
        roles = {v.version: v.role for v in report.versions}
        assert roles == {1: "production", 2: "canary"}
        assert {v.version: v.predictions for v in report.versions} == {1: 3 * (24 - on_canary), 2: 3 * on_canary}

        assert CliRunner().invoke(cli, ["rollback", "lending/default"]).exit_code == 0  # ends the canary; production stays
        assert registry.alias("lending/default") == 1 and registry.rollout("lending/default") is None
        assert all(versions == {1} for versions in _versions_by_client(client, keys, 1).values())


def test_a_shadow_sees_every_request_and_answers_none(two_versions: tuple[Host, Registry]) -> None:
    host, registry = two_versions
    result = CliRunner().invoke(cli, ["promote", "lending/default", "--shadow", "2"])
    assert result.exit_code == 0 and "shadow of version 2" in result.output, result.output
    with ready_client(host, registry) as client:
        ids = []
        for i in range(10):
            response = client.post(PREDICT, json={"instances": [{**LOAN, "income": 15000.0 + 4000 * i}]})
            assert response.status_code == 200 and response.json()["model"]["version"] == 1
            ids.append(response.json()["predictions"][0]["prediction_id"])
        log = client.app.state.predictions
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the shadow answers after the client has its answer
            log.flush()
            rows, _ = log.since("lending/default", datetime.now(UTC) - timedelta(hours=1))
            if sum(r.version == 2 for r in rows) == 10:
                break
            time.sleep(0.1)
        shadows = [r for r in rows if r.version == 2]
        assert sorted(r.answer["rollout"]["of"] for r in shadows) == sorted(ids)
        assert all(r.answer["rollout"]["role"] == "shadow" and "label" in r.answer for r in shadows)
        for prediction_id in ids[:4]:
            assert client.post("/v1/lending/default/feedback", json={"prediction_id": prediction_id, "label": "repaid"}).status_code == 201
        report = monitor(host, registry, log, "lending/default", datetime.now(UTC) - timedelta(hours=1), figures=False)
    by_version = {v.version: v for v in report.versions}
    assert by_version[2].role == "shadow" and by_version[2].predictions == 10 and by_version[2].feedback == 4  # feedback reaches the shadow
    assert by_version[2].agreement is not None and 0 <= by_version[2].agreement <= 1
    assert "accuracy" in by_version[2].metrics

    assert CliRunner().invoke(cli, ["promote", "lending/default", "2"]).exit_code == 0  # completes the rollout
    assert registry.alias("lending/default") == 2 and registry.rollout("lending/default") is None
    assert [e.action for e in registry.audit.events()][-3:] == ["shadow", "promote", "end shadow"]


def test_rollouts_refuse_what_makes_no_sense(two_versions: tuple[Host, Registry]) -> None:
    _, registry = two_versions
    with pytest.raises(UserError, match="production already"):
        registry.start_rollout("lending/default", 1, "canary", 10)
    with pytest.raises(UserError, match="1 to 99 percent"):
        registry.start_rollout("lending/default", 2, "canary", 100)
    with pytest.raises(UserError, match="no version 7"):
        registry.start_rollout("lending/default", 7, "shadow")
    admin = TestClient(create_app(*two_versions, get_settings()))
    both = admin.post("/admin/models/lending/default/promote", json={"version": 2, "canary": 10, "shadow": True})
    assert both.status_code == 422
    started = admin.post("/admin/models/lending/default/promote", json={"version": 2, "canary": 10})
    assert started.status_code == 200 and started.json()["rollout"] == "canary of version 2 (10% of clients)"
    assert admin.post("/admin/models/lending/default/rollback").json()["production"] == 1 and registry.rollout("lending/default") is None


def test_a_version_loads_and_warms_in_the_background_while_the_current_one_answers(two_versions: tuple[Host, Registry],
                                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: the first request after a promote loaded the new version itself, under the task's lock (503s after 18-31 s)."""
    import threading

    from aiaas import warmup

    host, registry = two_versions
    release, warmed = threading.Event(), []
    real_warm = warmup.warm

    def slow_warm(pipeline, folder):  # noqa: ANN001, ANN202 - a load that takes as long as the test wants
        if pipeline.version == 2:
            release.wait(30)
        ran = real_warm(pipeline, folder)
        warmed.append((pipeline.version, ran))
        return ran

    monkeypatch.setattr(warmup, "warm", slow_warm)
    with ready_client(host, registry) as client:
        assert client.post(PREDICT, json={"instances": [LOAN]}).json()["model"]["version"] == 1
        registry.promote("lending/default", 2)
        for _ in range(5):  # version 2 is loading: version 1 answers at once, every time
            started = time.monotonic()
            response = client.post(PREDICT, json={"instances": [LOAN]})
            assert response.status_code == 200 and response.json()["model"]["version"] == 1 and time.monotonic() - started < 2
        state = client.get("/readyz/lending/default").json()
        assert state["version"] == 1 and state["pending"] == {"version": 2, "status": "loading"}
        release.set()
        wait_for_version(client, "lending/default", 2)
        assert client.post(PREDICT, json={"instances": [LOAN]}).json()["model"]["version"] == 2
        assert warmed.count((2, True)) == 1 and len(warmed) == 2  # its own warm-up batch ran, once, before it took traffic


def test_a_version_that_fails_to_load_never_takes_traffic_and_says_why_everywhere(two_versions: tuple[Host, Registry]) -> None:
    host, registry = two_versions
    with ready_client(host, registry) as client:
        assert client.post(PREDICT, json={"instances": [LOAN]}).json()["model"]["version"] == 1
        broken = registry.folder(registry.get("lending/default", 2)) / "model.txt"
        broken.write_text(broken.read_text() + "\n# changed")
        registry.promote("lending/default", 2)
        deadline = time.monotonic() + 20
        while "failed" not in str((state := client.get("/readyz/lending/default")).json().get("pending")):
            assert client.post(PREDICT, json={"instances": [LOAN]}).json()["model"]["version"] == 1  # never a 503 meanwhile
            assert time.monotonic() < deadline, state.json()
            time.sleep(0.05)
        assert state.status_code == 200 and "model.txt does not match" in state.json()["pending"]["status"]
        assert client.post(PREDICT, json={"instances": [LOAN]}).json()["model"]["version"] == 1
        assert 'aiaas_model_load_failures_total{task="lending/default"} 1.0' in client.get("/metrics").text
        listed = {v["version"]: v for v in client.get("/admin/models").json()["versions"]}
        assert "model.txt" in listed[2]["problems"]["load"] and listed[1]["problems"] == {}
    shown = CliRunner().invoke(cli, ["models", "lending/default"], env={"COLUMNS": "200"})
    assert "version 2 failed to load" in shown.output and "model.txt" in shown.output, shown.output


def test_a_registry_that_goes_away_does_not_stop_the_answers(two_versions: tuple[Host, Registry], monkeypatch: pytest.MonkeyPatch) -> None:
    host, registry = two_versions
    with ready_client(host, registry) as client:
        assert client.post(PREDICT, json={"instances": [LOAN]}).json()["model"]["version"] == 1

        def unreachable(*_args: object, **_kwargs: object) -> None:
            raise ConnectionError("the database is down")

        monkeypatch.setattr(registry, "alias", unreachable)
        for _ in range(3):  # every request re-reads the alias here (ttl 0): the version loaded goes on answering
            response = client.post(PREDICT, json={"instances": [LOAN]})
            assert response.status_code == 200 and response.json()["model"]["version"] == 1


def test_serve_imports_the_framework_of_every_registered_version_before_ready(two_versions: tuple[Host, Registry],
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """So a promote under traffic loads only its model, never spends seconds importing TensorFlow beside the requests."""
    from aiaas.versions import ServedModels

    host, registry = two_versions
    imported: list[str] = []
    real_runtime = host.runtime
    monkeypatch.setattr(host, "runtime", lambda name: imported.append(name) or real_runtime(name))
    ServedModels(host, registry, 0, preload_frameworks=False).warm_all()
    assert imported == ["classical"]  # the promoted version's own load only
    imported.clear()
    ServedModels(host, registry, 0, preload_frameworks=True).warm_all()
    assert imported.count("classical") == 2  # its load, then the preload of every registered version's runtime
