"""Metrics, request ids, the access log and load shedding."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest
from fastapi.testclient import TestClient

from aiaas.keys import KeyStore
from aiaas.serving.app import create_app
from aiaas.serving.batcher import Batcher, Overloaded
from aiaas.settings import get_settings

CLAIM = {"amount": 30.0, "policy_age_years": 15, "region": "north"}
PREDICT = "/v1/insurance/claims/predict"


def _client(claims_model, **settings: object) -> TestClient:  # noqa: ANN001
    host, registry, _ = claims_model
    return TestClient(create_app(host, registry, get_settings().model_copy(update=settings)))


def _metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_requests_by_task_route_status_and_version(claims_model) -> None:  # noqa: ANN001
    client = _client(claims_model)
    for _ in range(3):
        assert client.post(PREDICT, json={"instances": [CLAIM, CLAIM]}).status_code == 200
    assert client.post(PREDICT, json={"instances": [{"amount": "x"}]}).status_code == 422
    text = client.get("/metrics").text
    assert _metric(text, "aiaas_requests_total", task="insurance/claims", route="predict", status="200", version="1") == 3
    assert _metric(text, "aiaas_requests_total", task="insurance/claims", route="predict", status="422") == 1
    assert _metric(text, "aiaas_request_seconds_count", task="insurance/claims", route="predict") == 4
    assert _metric(text, "aiaas_batch_rows_sum", task="insurance/claims") == 6
    assert "aiaas_queue_rows" in text
    client.get("/no/such/path")
    assert _metric(client.get("/metrics").text, "aiaas_requests_total", route="unmatched", status="404") == 1


def test_metrics_need_an_admin_key_when_keys_are_in_force(claims_model) -> None:  # noqa: ANN001
    keys = KeyStore(claims_model[1].engine)
    _, shop = keys.create("shop", "insurance")
    _, admin = keys.create("ops", "admin")
    client = _client(claims_model)
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Bearer {shop}"}).status_code == 403
    text = client.get("/metrics", headers={"Authorization": f"Bearer {admin}"}).text
    assert _metric(text, "aiaas_refused_total", status="401") == 1 and _metric(text, "aiaas_refused_total", status="403") == 1


def test_load_failures_are_counted(claims_model) -> None:  # noqa: ANN001
    _, _, folder = claims_model
    (folder / "model.safetensors").write_bytes(b"damaged")
    client = _client(claims_model)
    assert client.post(PREDICT, json={"instances": [CLAIM]}).status_code == 503
    assert _metric(client.get("/metrics").text, "aiaas_model_load_failures_total", task="insurance/claims") == 1


def test_request_ids_are_echoed_or_made_and_the_access_log_is_json(claims_model, caplog: pytest.LogCaptureFixture) -> None:  # noqa: ANN001
    _, registry, _ = claims_model
    _, key = KeyStore(registry.engine).create("claims-app", "insurance")
    client = _client(claims_model)
    with caplog.at_level(logging.INFO, logger="aiaas.access"):
        given = client.post(PREDICT, json={"instances": [{**CLAIM, "region": "secret-region-xyz"}]},
                            headers={"X-Request-ID": "trace-42", "Authorization": f"Bearer {key}"})
        made = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert given.headers["x-request-id"] == "trace-42"
    assert len(made.headers["x-request-id"]) == 32 and made.headers["x-request-id"] != "bad id with spaces"
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "aiaas.access"]
    first = next(line for line in lines if line["request_id"] == "trace-42")
    assert first["path"] == PREDICT and first["task"] == "insurance/claims" and first["key"] == "claims-app" and first["version"] == 1
    assert first["status"] in (200, 422) and first["ms"] >= 0
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "secret-region-xyz" not in logged and key not in logged  # never bodies, never keys


def test_a_full_queue_sheds_at_once_with_retry_after(claims_model) -> None:  # noqa: ANN001
    client = _client(claims_model, max_queue_rows=4)
    client.app.state.batcher.waiting["insurance/claims"] = 4  # as if four rows were waiting
    response = client.post(PREDICT, json={"instances": [CLAIM]})
    assert response.status_code == 503 and response.headers["retry-after"] == "1" and "at capacity" in response.json()["detail"]
    assert _metric(client.get("/metrics").text, "aiaas_shed_total", task="insurance/claims", reason="queue_full") == 1
    client.app.state.batcher.waiting["insurance/claims"] = 0
    assert client.post(PREDICT, json={"instances": [CLAIM]}).status_code == 200
    bad = client.post(PREDICT, json={"instances": [CLAIM]}, headers={"X-Request-Timeout": "soon"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["header", "x-request-timeout"]


def test_the_batcher_sheds_and_drops_late_requests_before_the_model_runs() -> None:
    ran: list[int] = []

    def slow(_pipeline: object, rows: list[int]) -> list[int]:
        time.sleep(0.2)
        ran.extend(rows)
        return rows

    async def scenario() -> list[object]:
        batcher = Batcher(max_size=8, max_queue=3)
        first = asyncio.create_task(batcher.run("t", None, slow, [1]))
        await asyncio.sleep(0.05)  # the first batch is running
        late = asyncio.create_task(batcher.run("t", None, slow, [2], deadline=time.monotonic() + 0.05))
        fits = asyncio.create_task(batcher.run("t", None, slow, [3]))
        await asyncio.sleep(0.01)
        with pytest.raises(Overloaded, match="at capacity"):
            await batcher.run("t", None, slow, [4, 5])  # 3 rows wait already
        return await asyncio.gather(first, late, fits, return_exceptions=True)

    first, late, fits = asyncio.run(scenario())
    assert first == [1] and fits == [3]
    assert isinstance(late, Overloaded) and late.reason == "deadline"
    assert 2 not in ran  # dropped before the model ran


def test_one_broken_task_does_not_take_the_others_out_of_rotation(claims_model) -> None:  # noqa: ANN001
    from aiaas.registry import NewVersion
    from aiaas.testing import host_with, ready_client

    from .test_third_party_plugin import insurance_plugin

    _, registry, _ = claims_model
    host = host_with("insurance", insurance_plugin(), entry_points=True)  # the installed verticals too
    broken = registry.register(NewVersion("finance/fraud", "torch", "torch-mlp", {}, "sha256:x", {}), lambda folder: None)
    registry.promote("finance/fraud", broken.version)
    client = ready_client(host, registry)
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["tasks"]["insurance/claims"]["status"] == "serving"
    assert "failed to load" in ready.json()["tasks"]["finance/fraud"]["status"]
    assert client.get("/readyz/insurance/claims").status_code == 200
    assert client.get("/readyz/finance/fraud").status_code == 503
    assert client.get("/readyz/retail/review-rating").json()["status"] == "no promoted model"


def test_made_up_paths_share_one_label_so_the_metrics_stay_the_same_size(claims_model) -> None:  # noqa: ANN001
    """Regression: every unmatched path made new label values, with no key needed (20,000 requests: /metrics 50 MB)."""
    import random
    import string

    client = _client(claims_model)
    rng = random.Random(0)
    word = lambda: "".join(rng.choices(string.ascii_lowercase + string.digits, k=rng.randint(1, 12)))  # noqa: E731
    shapes = ["/v1/{}/{}/{}", "/v2/models/{}/{}/ready", "/v2/models/{}/{}", "/v1/{}/{}/predict", "/{}", "/admin/{}/{}",
              "/readyz/{}/{}", "/v1/insurance/claims/{}", "/v1/insurance/{}/predict"]

    def flood(requests: int) -> int:
        for _ in range(requests):
            shape = rng.choice(shapes)
            path = shape.format(*(word() for _ in range(shape.count("{}"))))
            assert rng.choice([client.get, client.post])(path).status_code < 500
        return {line.rsplit(" ", 1)[0] for line in client.get("/metrics").text.splitlines() if not line.startswith("#")}

    client.get("/metrics")  # a scrape is a request too
    before = flood(500)  # every (route, status) the shapes can reach
    assert flood(1000) - before == set()  # a thousand new paths: not one new series
    text = client.get("/metrics").text
    assert _metric(text, "aiaas_requests_total", task="", route="unmatched", status="404") >= 300
    assert "x1" not in text and not any(w in text for w in ("junk", "zz9"))


def test_a_client_that_leaves_before_its_answer_is_a_499_not_a_server_error(claims_model, caplog) -> None:  # noqa: ANN001
    """Regression: a client that disconnected while its body was read was logged (and counted) as a 500, with a traceback."""
    client = _client(claims_model)
    body = json.dumps({"instances": [CLAIM]}).encode()
    sent = [{"type": "http.request", "body": body[:10], "more_body": True}, {"type": "http.disconnect"}]
    answers: list[dict] = []

    async def receive() -> dict:
        return sent.pop(0) if sent else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        answers.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/insurance/claims/explain", "raw_path": b"/v1/insurance/claims/explain",
             "query_string": b"", "root_path": "", "scheme": "http", "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1234),
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
             "http_version": "1.1", "asgi": {"version": "3.0"}}
    with caplog.at_level(logging.INFO):
        asyncio.run(client.app(scope, receive, send))
    access = [json.loads(r.getMessage()) for r in caplog.records if r.name == "aiaas.access"]
    assert access[-1]["status"] == 499 and access[-1]["path"] == "/v1/insurance/claims/explain"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    text = client.get("/metrics").text
    assert _metric(text, "aiaas_requests_total", route="explain", status="499") == 1
    assert not [line for line in text.splitlines() if line.startswith("aiaas_requests_total{") and 'status="5' in line]


INTEGER_PAST_THE_DIGIT_LIMIT = [
    (PREDICT, '{"instances": [{"amount": 1%s, "policy_age_years": 15, "region": "north"}]}', "amount"),
    ("/v1/insurance/claims/explain", '{"instances": [{"amount": 30.0, "policy_age_years": 1%s, "region": "north"}]}', "policy_age_years"),
    ("/v1/insurance/claims/feedback", '{"prediction_id": "' + "0" * 32 + '", "label": 1%s}', "label"),
    ("/admin/models/insurance/claims/promote", '{"version": 1%s}', "version"),
]


def test_an_integer_past_the_digit_limit_is_a_422_naming_the_field_on_every_route(claims_model) -> None:  # noqa: ANN001
    """Regression: an integer literal over 4,300 digits in any numeric field was a 500."""
    client = _client(claims_model)
    for path, body, field in INTEGER_PAST_THE_DIGIT_LIMIT:
        response = client.post(path, content=(body % ("0" * 5000)).encode(), headers={"content-type": "application/json"})
        assert response.status_code == 422, (path, response.text)
        assert "digits is too large" in response.text and response.json()["detail"][0]["loc"][-1] == field, response.text


def test_promoting_a_version_past_what_the_database_holds_is_a_422(claims_model) -> None:  # noqa: ANN001
    """Regression: a version of 2^63 or more overflowed the database driver: a 500."""
    client = _client(claims_model)
    for version in (2**63, 2**63 - 1, 2**31, 0):
        response = client.post("/admin/models/insurance/claims/promote", json={"version": version})
        assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "version"], (version, response.text)
