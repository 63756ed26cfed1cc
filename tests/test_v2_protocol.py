"""The Open Inference Protocol (KServe V2) routes beside the domain routes, and the
interactive docs served with no internet."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from aiaas.keys import KeyStore
from aiaas.registry import Registry
from aiaas.serving.app import create_app
from aiaas.settings import get_settings
from aiaas.testing import host_with, isolated_home, ready_client, running_server
from aiaas.training import TrainRequest, train

from .test_model_quality import lending_plugin, loans

INFER = "/v2/models/lending/default/infer"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    folder = tmp_path_factory.mktemp("v2")
    with isolated_home(folder / "home"):
        host, registry = host_with("lending", lending_plugin()), Registry.from_settings()
        loans(600).to_csv(folder / "loans.csv", index=False)
        train(host, registry, TrainRequest("lending/default", folder / "loans.csv", architecture="gbdt", promote=True, force=True), quiet=True)
        yield host, registry


def _client(served: Any) -> TestClient:  # noqa: ANN401
    host, registry = served
    return ready_client(host, registry)


def _tensors(income: list[Any], grade: list[Any], debt: list[Any] | None = None) -> dict[str, Any]:
    debt = debt or [0.4] * len(income)
    return {"id": "req-1", "inputs": [
        {"name": "income", "shape": [len(income)], "datatype": "FP64", "data": income},
        {"name": "debt_ratio", "shape": [len(debt)], "datatype": "FP64", "data": debt},
        {"name": "grade", "shape": [len(grade)], "datatype": "BYTES", "data": grade}]}


def test_v2_health_and_metadata_describe_the_served_model(served: Any) -> None:  # noqa: ANN401
    client = _client(served)
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    assert client.get("/v2/models/lending/default/ready").json() == {"name": "lending/default", "ready": True}
    meta = client.get("/v2/models/lending/default").json()
    assert meta["name"] == "lending/default" and meta["versions"] == ["1"] and meta["platform"] == "aiaas-classical"
    assert {i["name"]: i["datatype"] for i in meta["inputs"]} == {"income": "FP64", "debt_ratio": "FP64", "grade": "BYTES"}
    outputs = {o["name"]: o for o in meta["outputs"]}
    assert outputs["probabilities"]["shape"] == [-1, 2] and set(outputs) == {"probabilities", "label", "novelty", "in_distribution"}
    assert meta["parameters"]["labels"] == ["repaid", "default"]
    assert client.get("/v2/models/lending/nothing").status_code == 404


def test_v2_infer_answers_tensors_like_the_domain_route(served: Any) -> None:  # noqa: ANN401
    client = _client(served)
    response = client.post(INFER, json=_tensors([22000.0, 1e12], ["B", "C"]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_name"] == "lending/default" and body["model_version"] == "1" and body["id"] == "req-1"
    out = {t["name"]: t for t in body["outputs"]}
    assert out["probabilities"]["shape"] == [2, 2] and len(out["probabilities"]["data"]) == 4
    assert out["in_distribution"]["data"] == [True, False]  # an income far past training is flagged here too
    domain = client.post("/v1/lending/default/predict", json={"instances": [{"income": 22000.0, "debt_ratio": 0.4, "grade": "B"}]}).json()
    first = domain["predictions"][0]
    assert out["label"]["data"][0] == first["label"]
    assert out["probabilities"]["data"][:2] == pytest.approx([first["probabilities"]["repaid"], first["probabilities"]["default"]])
    only = client.post(INFER, json={**_tensors([22000.0], ["B"]), "outputs": [{"name": "label"}]}).json()
    assert [t["name"] for t in only["outputs"]] == ["label"]
    assert 'route="v2/infer",task="lending/default"' in client.get("/metrics").text


@pytest.mark.parametrize(("body", "where", "says"), [
    (_tensors([22000.0, 3.0], ["B", 7]), ["body", "inputs", "grade", 1], "valid string"),
    ({"inputs": [{"name": "salary", "shape": [1], "datatype": "FP64", "data": [1.0]}]}, ["body", "inputs", 0, "name"], "not an input"),
    ({"inputs": [{"name": "income", "shape": [3], "datatype": "FP64", "data": [1.0]}]}, ["body", "inputs", 0, "data"], "holds 3 values"),
    ({"inputs": [{"name": "income", "shape": [1], "datatype": "FP64", "data": [1.0]},
                 {"name": "grade", "shape": [2], "datatype": "BYTES", "data": ["A", "B"]}]}, ["body", "inputs", 1, "shape"], "first dimension"),
    ({"inputs": []}, ["body", "inputs"], "at least 1"),
    ({"inputs": [{"name": "income", "shape": [10**30], "datatype": "FP64", "data": [1.0]}]}, ["body", "inputs", 0, "shape", 0], "maximum size"),
    ({"inputs": [{"name": "income", "shape": [2**31] * 8, "datatype": "FP64", "data": [1.0]}]}, ["body", "inputs", 0, "shape"], "limit of"),
    ({"inputs": [{"name": "income", "shape": [3_000_000, 0], "datatype": "FP64", "data": []}]}, ["body", "inputs", 0, "shape"], "limit of"),
    ({"inputs": [{"name": "income", "shape": [1, 0], "datatype": "FP64", "data": []}]}, ["body", "inputs", 0, "shape"], "one value per"),
    ({"inputs": [{"name": "income", "shape": [1], "datatype": "BYTES", "data": ["1"]}]}, ["body", "inputs", 0, "datatype"], "not BYTES"),
    (b'{"inputs": [{"name": "income", "shape": [1], "datatype": "FP64", "data": [' + b"9" * 5000 + b"]}]}", ["body", "inputs", 0, "data", 0],
     "5,000 digits"),
    (_tensors(["NaN"], ["B"]), ["body", "inputs", "income", 0], "valid number"),  # a string is not a number, "NaN" included
    ({"inputs": [{"name": "income", "shape": [1], "datatype": "FP64", "data": [1.0]}]}, ["body", "inputs", "debt_ratio", 0], "required"),
])
def test_v2_bad_tensors_get_a_422_naming_them(served: Any, body: dict[str, Any], where: list[Any] | None, says: str) -> None:  # noqa: ANN401
    raw = {"content": body, "headers": {"content-type": "application/json"}} if isinstance(body, bytes) else {"json": body}
    response = _client(served).post(INFER, **raw)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert says in str(detail)
    if where is not None:
        assert detail[0]["loc"] == where


def test_docs_are_served_without_a_cdn(served: Any) -> None:  # noqa: ANN401
    client = _client(served)
    for path in ("/docs", "/redoc"):
        page = client.get(path).text
        assert "cdn" not in page and "http://" not in page and "https://" not in page, path
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        response = client.get(f"/docs/assets/{asset}")
        assert response.status_code == 200 and len(response.content) > 10_000, asset


# last: once a key exists, the module's service needs one
def test_v2_routes_follow_key_scopes(served: Any) -> None:  # noqa: ANN401
    host, registry = served
    _, other = KeyStore(registry.engine).create("other-team", "insurance")
    _, lending = KeyStore(registry.engine).create("lending-team", "lending")
    client = _client(served)
    assert client.get("/v2/health/live").status_code == 200  # open, like /healthz
    assert client.get("/docs/assets/swagger-ui.css").status_code == 200  # a browser sends no key for the docs' assets
    assert client.post(INFER, json=_tensors([1.0], ["B"])).status_code == 401
    assert client.post(INFER, json=_tensors([1.0], ["B"]), headers={"Authorization": f"Bearer {other}"}).status_code == 403
    assert client.post(INFER, json=_tensors([1.0], ["B"]), headers={"Authorization": f"Bearer {lending}"}).status_code == 200


def test_a_body_that_declares_millions_of_rows_is_refused_without_holding_the_event_loop(served: Any) -> None:  # noqa: ANN401
    """Regression: 90 bytes declaring shape [3000000, 0] held the event loop for 24 s (/healthz waited with it)."""
    import threading
    import time

    import httpx

    host, registry = served
    app = create_app(host, registry, get_settings())
    app.state.served.warm_all()
    body = b'{"inputs": [{"name": "income", "shape": [3000000, 0], "datatype": "FP64", "data": []}]}'
    key = KeyStore(registry.engine).create("loop-watcher", "admin")[1]  # keys may be in force from another test
    with running_server(app) as url, httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {key}"}) as client:
        waits: list[float] = []
        done = threading.Event()

        def probe() -> None:
            with httpx.Client(base_url=url, timeout=30) as prober:
                while not done.is_set() or len(waits) < 20:
                    started = time.perf_counter()
                    assert prober.get("/healthz").status_code == 200
                    waits.append(time.perf_counter() - started)

        watcher = threading.Thread(target=probe)
        watcher.start()
        try:
            for _ in range(10):
                started = time.perf_counter()
                response = client.post(INFER, content=body, headers={"content-type": "application/json"})
                assert response.status_code == 422 and "limit of" in response.text
                assert time.perf_counter() - started < 1.0
        finally:
            done.set()
            watcher.join()
    assert max(waits) < 0.25, waits
