"""The Open Inference Protocol (KServe V2) routes beside the domain routes, and the
interactive docs served with no internet."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from aiaas.keys import KeyStore
from aiaas.registry import Registry
from aiaas.serving.app import create_app
from aiaas.serving.v2 import error_text
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
    error = response.json()["error"]  # the protocol's error body, one line a client shows
    assert says in error and set(response.json()) == {"error"}
    if where is not None:
        assert error.startswith(error_text([{"loc": where, "msg": ""}])), error


def test_docs_are_served_without_a_cdn(served: Any) -> None:  # noqa: ANN401
    client = _client(served)
    for path in ("/docs", "/redoc"):
        page = client.get(path).text
        assert "cdn" not in page and "http://" not in page and "https://" not in page, path
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        response = client.get(f"/docs/assets/{asset}")
        assert response.status_code == 200 and len(response.content) > 10_000, asset


@pytest.fixture(scope="module")
def ports(served: Any) -> Any:  # noqa: ANN401
    """The module's models served on real sockets, HTTP and gRPC, for the stock clients."""
    import socket

    host, registry = served
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        grpc_port = probe.getsockname()[1]
    app = create_app(host, registry, get_settings().model_copy(update={"grpc_port": grpc_port}))
    app.state.served.warm_all()
    with running_server(app) as url:
        yield url.removeprefix("http://"), f"127.0.0.1:{grpc_port}"


def _inputs(module: Any, income: list[float], grade: list[str], binary: bool) -> list[Any]:  # noqa: ANN401
    import numpy as np

    made = []
    for name, datatype, values in (("income", "FP64", np.array(income)), ("debt_ratio", "FP64", np.full(len(income), 0.4)),
                                   ("grade", "BYTES", np.array([g.encode() for g in grade], dtype=object))):
        tensor = module.InferInput(name, [len(income)], datatype)
        tensor.set_data_from_numpy(values, **({"binary_data": binary} if module.__name__.endswith("http") else {}))
        made.append(tensor)
    return made


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_tritonclient_http_as_it_comes(served: Any, ports: Any, binary: bool) -> None:  # noqa: ANN401
    """``tritonclient.http`` unchanged: it sends no Content-Type, binary tensors by default and asks for binary
    outputs; its answers equal the domain route's, and it reads every error the server gives."""
    import numpy as np
    import tritonclient.http as triton
    from tritonclient.utils import InferenceServerException

    client = triton.InferenceServerClient(ports[0])
    assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("lending/default")
    assert "binary_tensor_data" in client.get_server_metadata()["extensions"]
    assert client.get_model_metadata("lending/default", model_version="1")["versions"] == ["1"]
    config = client.get_model_config("lending/default")
    assert config["max_batch_size"] == get_settings().max_instances
    assert {i["name"]: (i["data_type"], i["dims"]) for i in config["input"]} == {
        "income": ("TYPE_FP64", [1]), "debt_ratio": ("TYPE_FP64", [1]), "grade": ("TYPE_STRING", [1])}
    assert {o["name"]: o["dims"] for o in config["output"]}["probabilities"] == [2]
    assert client.get_model_repository_index() == [{"name": "lending/default", "version": "1", "state": "READY", "reason": ""}]

    outputs = None if binary else [triton.InferRequestedOutput(n, binary_data=False) for n in ("probabilities", "label", "in_distribution")]
    answer = client.infer("lending/default", _inputs(triton, [22000.0, 1e12], ["B", "C"], binary), outputs=outputs, request_id="r-7")
    raw = answer.get_response()
    assert raw["id"] == "r-7" and raw["model_version"] == "1"
    assert all(("binary_data_size" in o.get("parameters", {})) == binary for o in raw["outputs"])
    domain = _client(served).post("/v1/lending/default/predict", json={"instances": [
        {"income": 22000.0, "debt_ratio": 0.4, "grade": "B"}, {"income": 1e12, "debt_ratio": 0.4, "grade": "C"}]}).json()["predictions"]
    probabilities = answer.as_numpy("probabilities")
    assert probabilities.shape == (2, 2) and probabilities.dtype == np.float32
    assert probabilities[:, 1] == pytest.approx([p["probabilities"]["default"] for p in domain], abs=1e-6)
    assert [v.decode() if isinstance(v, bytes) else v for v in answer.as_numpy("label")] == [p["label"] for p in domain]
    assert answer.as_numpy("in_distribution").tolist() == [True, False]
    versioned = client.infer("lending/default", _inputs(triton, [22000.0], ["B"], binary), model_version="1")
    assert versioned.as_numpy("probabilities")[0] == pytest.approx(probabilities[0])

    for call, status, says in (
            (lambda: client.infer("lending/default", _inputs(triton, [1.0], ["B"], binary)[:1]), "422", "inputs.debt_ratio[0]: Field required"),
            (lambda: client.infer("lending/default", _inputs(triton, [1.0], ["B"], binary), model_version="9"), "404", "no version 9"),
            (lambda: client.get_model_metadata("lending/nothing"), "404", "no model named 'lending/nothing'"),
            (lambda: client.infer("lending/default", _inputs(triton, [float("nan")], ["B"], binary)), "422",
             "NaN" if binary else "not a finite number")):
        with pytest.raises(InferenceServerException) as refused:
            call()
        assert refused.value.status() == status and says in refused.value.message(), (refused.value.status(), refused.value.message())


def test_tritonclient_grpc_as_it_comes(served: Any, ports: Any) -> None:  # noqa: ANN401
    """``tritonclient.grpc`` unchanged against ``--grpc-port``: the same answers as HTTP, errors as status codes with the same line."""
    import grpc
    import numpy as np
    import tritonclient.grpc as triton
    import tritonclient.http as triton_http
    from tritonclient.utils import InferenceServerException

    client = triton.InferenceServerClient(ports[1])
    assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("lending/default")
    meta = client.get_model_metadata("lending/default", as_json=True)
    assert [i["name"] for i in meta["inputs"]] == ["income", "debt_ratio", "grade"]
    config = client.get_model_config("lending/default", as_json=True)["config"]
    assert config["max_batch_size"] == get_settings().max_instances and config["input"][2]["data_type"] == "TYPE_STRING"
    assert client.get_model_repository_index(as_json=True)["models"][0]["state"] == "READY"
    answer = client.infer("lending/default", _inputs(triton, [22000.0, 1e12], ["B", "C"], True), request_id="g-1")
    over_http = triton_http.InferenceServerClient(ports[0]).infer("lending/default", _inputs(triton_http, [22000.0, 1e12], ["B", "C"], True))
    assert answer.get_response().id == "g-1"
    assert np.allclose(answer.as_numpy("probabilities"), over_http.as_numpy("probabilities"))
    assert answer.as_numpy("label").tolist() == over_http.as_numpy("label").tolist()
    assert answer.as_numpy("in_distribution").tolist() == [True, False]
    only = client.infer("lending/default", _inputs(triton, [22000.0], ["B"], True), outputs=[triton.InferRequestedOutput("label")])
    assert [o.name for o in only.get_response().outputs] == ["label"]

    for call, code, says in (
            (lambda: client.infer("lending/default", _inputs(triton, [1.0], ["B"], True)[:1]), grpc.StatusCode.INVALID_ARGUMENT,
             "inputs.debt_ratio[0]: Field required"),
            (lambda: client.infer("lending/default", _inputs(triton, [float("inf")], ["B"], True)), grpc.StatusCode.INVALID_ARGUMENT, "NaN"),
            (lambda: client.infer("lending/default", _inputs(triton, [1.0], ["B"], True), model_version="9"), grpc.StatusCode.NOT_FOUND,
             "no version 9"),
            (lambda: client.get_model_metadata("lending/nothing"), grpc.StatusCode.NOT_FOUND, "no model named")):
        with pytest.raises(InferenceServerException) as refused:
            call()
        assert refused.value.status() == str(code) and says in refused.value.message(), (refused.value.status(), refused.value.message())
    import httpx

    counted = httpx.get(f"http://{ports[0]}/metrics").text
    assert 'aiaas_requests_total{route="grpc/infer",status="200",task="lending/default",version="1"}' in counted
    assert 'aiaas_requests_total{route="grpc/infer",status="422",task="lending/default",version="1"}' in counted


def test_the_repository_index_reads_its_body_strictly(served: Any) -> None:  # noqa: ANN401
    """Regression: a malformed body (tritonclient sends no Content-Type, so nothing checked it before the route) was a 500."""
    client = _client(served)
    assert client.post("/v2/repository/index", content=b"").json() == [{"name": "lending/default", "version": "1", "state": "READY", "reason": ""}]
    for body, says in ((b"{not json", "not valid JSON"), (b"[1, 2]", "is an object"), (b'{"ready": NaN}', "not a finite number")):
        refused = client.post("/v2/repository/index", content=body)
        assert refused.status_code == 422 and says in refused.json()["error"], refused.text


def test_a_binary_body_that_does_not_add_up_is_a_422_naming_it(served: Any) -> None:  # noqa: ANN401
    import json

    import numpy as np

    header = {"inputs": [{"name": "income", "shape": [2], "datatype": "FP64", "parameters": {"binary_data_size": 16}},
                         {"name": "debt_ratio", "shape": [2], "datatype": "FP64", "data": [0.4, 0.4]},
                         {"name": "grade", "shape": [2], "datatype": "BYTES", "parameters": {"binary_data_size": 10}}],
              "outputs": [{"name": "label", "parameters": {"binary_data": True}}]}
    grades = b"".join(len(g).to_bytes(4, "little") + g for g in (b"B", b"C"))
    good = json.dumps(header).encode()

    def post(raw: bytes, length: int | str, **headers: str) -> Any:  # noqa: ANN401
        return _client(served).post(INFER, content=raw, headers={"Inference-Header-Content-Length": str(length), **headers})

    answer = post(good + np.array([22000.0, 30000.0]).tobytes() + grades, len(good))
    assert answer.status_code == 200, answer.text
    length = int(answer.headers["inference-header-content-length"])
    out = json.loads(answer.content[:length])["outputs"][0]
    assert out["parameters"]["binary_data_size"] == len(answer.content) - length == 20
    for raw, length, says in (
            (good + np.array([1.0]).tobytes() + grades, len(good), "declares 10 bytes; 2 are left in the body"),
            (good + np.array([1.0, 2.0]).tobytes() + b"\x01\x00\x00\x00B" + b"\x00" * 5, len(good), "more than the 2 BYTES elements"),
            (good + np.array([1.0, 2.0]).tobytes() + grades + b"x", len(good), "1 bytes after the last"),
            (good + np.array([1.0, 2.0]).tobytes() + b"\x01\x00\x00\x00B\x09\x00\x00\x00C", len(good), "runs past the end"),
            (good + np.array([1.0, 2.0]).tobytes() + grades[:-1], len(good), "declares 10 bytes; 9 are left"),
            (good + np.array([1.0, 2.0]).tobytes() + b"\x01\x00\x00\x00B\x01\x00\x00\x00\x07", len(good), "control characters"),
            (good + np.array([1.0, 2.0]).tobytes() + b"\x01\x00\x00\x00B\x01\x00\x00\x00\xff", len(good), "not UTF-8"),
            (good + np.array([1.0, np.nan]).tobytes() + grades, len(good), "NaN"),
            (good, len(good) + 5, "Inference-Header-Content-Length")):
        refused = post(raw, length)
        assert refused.status_code == 422 and says in refused.json()["error"], refused.text
    assert post(good, len(good), **{"content-type": "text/plain"}).status_code == 422  # binary parts missing: the header decides
    plain = _client(served).post(INFER, content=json.dumps(_tensors([22000.0], ["B"])), headers={"content-type": "text/plain"})
    assert plain.status_code == 415 and "JSON" in plain.json()["error"]
    bare = _client(served).post(INFER, content=json.dumps(_tensors([22000.0], ["B"])), headers={"content-type": ""})
    assert bare.status_code == 200, bare.text  # no Content-Type is JSON, as tritonclient sends it


# last: once a key exists, the module's service needs one
def test_v2_routes_follow_key_scopes(served: Any) -> None:  # noqa: ANN401
    host, registry = served
    _, other = KeyStore(registry.engine).create("other-team", "insurance")
    _, lending = KeyStore(registry.engine).create("lending-team", "lending")
    client = _client(served)
    assert client.get("/v2/health/live").status_code == 200  # open, like /healthz
    assert client.get("/docs/assets/swagger-ui.css").status_code == 200  # a browser sends no key for the docs' assets
    assert client.post(INFER, json=_tensors([1.0], ["B"])).json() == {"error": "a valid API key is needed: send 'Authorization: Bearer <key>'"}
    refused = client.post(INFER, json=_tensors([1.0], ["B"]), headers={"Authorization": f"Bearer {other}"})
    assert refused.status_code == 403 and "may not use lending/default" in refused.json()["error"]
    assert client.post(INFER, json=_tensors([1.0], ["B"]), headers={"Authorization": f"Bearer {lending}"}).status_code == 200


def test_grpc_calls_follow_key_scopes(served: Any, ports: Any) -> None:  # noqa: ANN401
    """Keys come as the call's metadata (``authorization: Bearer <key>``), with the HTTP routes' scopes."""
    import time

    import grpc
    import tritonclient.grpc as triton
    from tritonclient.utils import InferenceServerException

    host, registry = served
    _, other = KeyStore(registry.engine).create("grpc-other", "insurance")
    _, lending = KeyStore(registry.engine).create("grpc-lending", "lending")
    client = triton.InferenceServerClient(ports[1])
    time.sleep(get_settings().alias_ttl_seconds)  # how long a running server trusts its view that no key exists
    assert client.is_server_live()  # open, like /v2/health/live
    for headers, code in ((None, grpc.StatusCode.UNAUTHENTICATED), ({"authorization": f"Bearer {other}"}, grpc.StatusCode.PERMISSION_DENIED)):
        with pytest.raises(InferenceServerException) as refused:
            client.infer("lending/default", _inputs(triton, [1.0], ["B"], True), headers=headers)
        assert refused.value.status() == str(code)
    answer = client.infer("lending/default", _inputs(triton, [1.0], ["B"], True), headers={"authorization": f"Bearer {lending}"})
    assert answer.as_numpy("label").shape == (1,)


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
