"""Shedding in the HTTP parser (``aiaas serve``): a task at capacity gets a 503 with
Retry-After at once, without the app running; the connection stays usable, and its
next request is read only after Retry-After; other routes are untouched."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import uvicorn

from aiaas.serving import fastshed

RETRY = fastshed.RETRY_AFTER


async def app(scope, receive, send) -> None:  # noqa: ANN001
    if scope["type"] != "http":
        return
    calls.append(scope["path"])
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


calls: list[str] = []
full: set[str] = set()
shed: list[str] = []


def _admit(task: str) -> None:
    if task in full:
        raise RuntimeError("at capacity")


@pytest.fixture(scope="module")
def port():  # noqa: ANN201
    fastshed.install(_admit, shed.append)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, port=free, log_level="warning", http="aiaas.serving.fastshed:SheddingProtocol"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield free
    server.should_exit = True
    thread.join(5)


def _request(sock: socket.socket, path: str, body: bytes = b'{"instances": []}') -> bytes:
    sock.sendall(f"POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n".encode() + body)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while len(rest) < length:
        rest += sock.recv(65536)
    return head + b"\r\n\r\n" + rest


def test_a_task_at_capacity_is_refused_before_the_app_and_the_connection_lives_on(port: int) -> None:
    full.add("finance/fraud")
    calls.clear()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        started = time.monotonic()
        refused = _request(sock, "/v1/finance/fraud/predict")
        assert time.monotonic() - started < 0.5
        assert refused.startswith(b"HTTP/1.1 503") and b"retry-after: 1" in refused.lower() and b"at capacity" in refused
        assert calls == [] and shed[-1] == "finance/fraud"
        full.clear()
        started = time.monotonic()
        answered = _request(sock, "/v1/finance/fraud/predict")  # the same connection, read after Retry-After
        assert answered.startswith(b"HTTP/1.1 200") and time.monotonic() - started >= 0.9
        assert calls == ["/v1/finance/fraud/predict"]


def test_other_routes_and_tasks_are_not_touched(port: int) -> None:
    full.add("finance/fraud")
    calls.clear()
    try:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            assert _request(sock, "/v1/retail/review-sentiment/predict").startswith(b"HTTP/1.1 200")
            assert _request(sock, "/v1/finance/fraud/feedback").startswith(b"HTTP/1.1 200")
            assert _request(sock, "/healthz").startswith(b"HTTP/1.1 200")
        assert calls == ["/v1/retail/review-sentiment/predict", "/v1/finance/fraud/feedback", "/healthz"]
    finally:
        full.clear()


def test_closing_a_refused_connection_leaves_no_traceback(port: int, caplog: pytest.LogCaptureFixture) -> None:
    """Regression: uvicorn's connection_lost touched the stand-in cycle's message_event, an AttributeError per closed connection."""
    import logging

    full.add("finance/fraud")
    try:
        with caplog.at_level(logging.ERROR):
            for _ in range(5):
                with socket.create_connection(("127.0.0.1", port)) as sock:
                    assert _request(sock, "/v1/finance/fraud/predict").startswith(b"HTTP/1.1 503")
            time.sleep(RETRY + 0.5)  # the server reads a refused connection again (and sees it closed) after Retry-After
        errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
        assert not errors, errors[0].getMessage() + str(errors[0].exc_info)
    finally:
        full.clear()
