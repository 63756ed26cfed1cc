"""API keys, scopes, rate limits, the admin API and the audit record."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from aiaas.cli import app as cli
from aiaas.errors import UserError
from aiaas.keys import KeyStore
from aiaas.plugins import get_host
from aiaas.registry import NewVersion, Registry
from aiaas.serving.app import create_app
from aiaas.settings import get_settings

FRAUD, REVIEWS = "/v1/finance/fraud/predict", "/v1/retail/review-sentiment/predict"
BODY = {"instances": [{"amount": 1}]}


@pytest.fixture
def registry(aiaas_home: Path) -> Registry:
    return Registry.from_settings()


def _client(registry: Registry, **settings: object) -> TestClient:
    return TestClient(create_app(get_host(), registry, get_settings().model_copy(update=settings)))


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_without_keys_the_service_is_open(registry: Registry) -> None:
    client = _client(registry)
    assert client.get("/v1/tasks").status_code == 200
    assert client.post(FRAUD, json=BODY).status_code == 503  # no model yet: past the door


def test_with_a_key_every_route_but_health_needs_one(registry: Registry) -> None:
    keys = KeyStore(registry.engine)
    _, finance = keys.create("fraud-team", "finance")
    client = _client(registry)
    for path in ("/healthz", "/readyz"):
        assert client.get(path).status_code in (200, 503) and "API key" not in client.get(path).text
    for method, path in (("get", "/v1/tasks"), ("get", "/openapi.json"), ("get", "/docs"), ("post", FRAUD), ("get", "/admin/models")):
        response = getattr(client, method)(path)
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer", path
    assert client.get("/v1/tasks", headers=_bearer("aiaas_made-up")).status_code == 401
    assert client.get("/v1/tasks", headers={"Authorization": finance}).status_code == 401  # the scheme is Bearer
    assert client.get("/v1/tasks", headers=_bearer(finance)).status_code == 200
    assert client.post(FRAUD, json=BODY, headers=_bearer(finance)).status_code == 503  # in scope: reaches the task
    refused = client.post(REVIEWS, json={"instances": [{"text": "x"}]}, headers=_bearer(finance))
    assert refused.status_code == 403 and "fraud-team" in refused.json()["detail"]
    assert client.get("/admin/models", headers=_bearer(finance)).status_code == 403
    assert _client(registry, public_docs=True).get("/openapi.json").status_code == 200


def test_a_task_scope_covers_that_task_only(registry: Registry) -> None:
    _, key = KeyStore(registry.engine).create("one-task", "retail/review-rating")
    client = _client(registry)
    assert client.post("/v1/retail/review-rating/predict", json={"instances": [{"text": "x"}]}, headers=_bearer(key)).status_code == 503
    assert client.post(REVIEWS, json={"instances": [{"text": "x"}]}, headers=_bearer(key)).status_code == 403


def test_revoked_and_expired_keys_stop_working(registry: Registry) -> None:
    keys = KeyStore(registry.engine)
    _, doomed = keys.create("doomed", "admin")
    _, brief = keys.create("brief", "admin", expires_in_days=1 / 86400 / 10)  # a hundred milliseconds
    client = _client(registry, alias_ttl_seconds=0)
    assert client.get("/v1/tasks", headers=_bearer(doomed)).status_code == 200
    keys.revoke("doomed")
    assert client.get("/v1/tasks", headers=_bearer(doomed)).status_code == 401
    time.sleep(0.15)
    assert client.get("/v1/tasks", headers=_bearer(brief)).status_code == 401
    assert client.get("/v1/tasks").status_code == 401  # no key works now, and the service stays locked


def test_keys_are_stored_only_as_hashes(registry: Registry, aiaas_home: Path) -> None:
    _, secret = KeyStore(registry.engine).create("kept-secret", "admin")
    stored = b"".join(p.read_bytes() for p in aiaas_home.glob("registry.db*"))
    assert b"kept-secret" in stored and secret.encode() not in stored and secret[6:30].encode() not in stored


def test_a_rate_limited_key_gets_429_with_retry_after(registry: Registry) -> None:
    keys = KeyStore(registry.engine)
    _, slow = keys.create("slow", "admin", rate=0.5)  # one request every two seconds
    _, quick = keys.create("quick", "admin", rate=1000)
    client = _client(registry)
    assert client.get("/v1/tasks", headers=_bearer(slow)).status_code == 200  # a bucket holds at least one request
    limited = client.get("/v1/tasks", headers=_bearer(slow))
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert all(client.get("/v1/tasks", headers=_bearer(quick)).status_code == 200 for _ in range(5))  # each key has its own


def test_admins_promote_and_roll_back_over_http_and_the_audit_says_who(registry: Registry) -> None:
    for _ in range(2):
        registry.register(NewVersion("finance/fraud", "torch", "torch-mlp", {}, "sha256:x", {}), lambda folder: None)
    _, admin = KeyStore(registry.engine).create("ops-lead", "admin")
    client = _client(registry)
    headers = _bearer(admin)
    assert client.post("/admin/models/finance/fraud/promote", json={"version": 1}, headers=headers).json()["production"] == 1
    assert client.post("/admin/models/finance/fraud/promote", json={"version": 2}, headers=headers).json()["production"] == 2
    assert client.post("/admin/models/finance/fraud/rollback", headers=headers).json()["production"] == 1
    listed = client.get("/admin/models", headers=headers).json()["versions"]
    assert [(v["version"], v["production"]) for v in listed] == [(1, True), (2, False)]
    assert client.post("/admin/models/finance/fraud/promote", json={"version": "two"}, headers=headers).status_code == 422
    assert client.post("/admin/models/finance/nope/promote", json={"version": 1}, headers=headers).status_code == 404  # no such task
    events = client.get("/admin/audit", headers=headers).json()["events"]
    assert [(e["actor"], e["action"], e["detail"]["version"]) for e in events] == [
        ("key:ops-lead", "promote", 1), ("key:ops-lead", "promote", 2), ("key:ops-lead", "rollback", 1)]


def test_cli_keys_and_audit(aiaas_home: Path) -> None:
    runner = CliRunner()
    made = runner.invoke(cli, ["keys", "create", "--name", "shop", "--scope", "retail"])
    assert made.exit_code == 0, made.output
    secret = made.output.strip().splitlines()[-1]
    assert secret.startswith("aiaas_") and len(secret) > 40
    listed = runner.invoke(cli, ["keys", "list"])
    assert "shop" in listed.output and "retail" in listed.output and secret not in listed.output
    assert "exists already" in str(runner.invoke(cli, ["keys", "create", "--name", "shop", "--scope", "retail"]).exception)
    assert "give an industry" in str(runner.invoke(cli, ["keys", "create", "--name", "x", "--scope", "Finance!"]).exception)
    assert runner.invoke(cli, ["keys", "revoke", "shop"]).exit_code == 0
    audit = runner.invoke(cli, ["audit"]).output
    assert "key-create" in audit and "key-revoke" in audit and "cli:" in audit


def test_serving_beyond_loopback_needs_a_key_or_an_explicit_open(aiaas_home: Path) -> None:
    from aiaas.cli_access import refuse_open_exposure

    result = subprocess.run([sys.executable, "-m", "aiaas", "serve", "--host", "0.0.0.0"], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "AIAAS_HOME": str(aiaas_home)})
    assert result.returncode == 2 and "would serve anyone with no API key" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) <= 2
    refuse_open_exposure("127.0.0.1", False)
    refuse_open_exposure("localhost", False)
    refuse_open_exposure("0.0.0.0", True)
    with pytest.raises(UserError):
        refuse_open_exposure("::", False)
    KeyStore(Registry.from_settings().engine).create("ops", "admin")
    refuse_open_exposure("0.0.0.0", False)


def test_keys_and_the_audit_record_on_each_database(database_url: str, tmp_path: Path) -> None:
    registry = Registry(database_url, tmp_path / "artifacts")
    keys = KeyStore(registry.engine)
    assert not keys.configured()
    _, secret = keys.create("db-check", "finance/fraud", expires_in_days=30, rate=5)
    caller = keys.caller(secret)
    assert caller is not None and caller.scope == "finance/fraud" and caller.rate == 5 and caller.allows("finance", "fraud")
    keys.revoke("db-check")
    assert keys.caller(secret) is None and keys.configured()
    registry.audit.record("key:ops", "promote", "finance/fraud", version=3)
    assert [(e.actor, e.detail["version"]) for e in registry.audit.events()] == [("key:ops", 3)]
