"""Hard limits on requests: strict JSON values, depth, content type, a body limit that holds while streaming."""

from __future__ import annotations

import asyncio
import json

import pytest
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.testclient import TestClient

from aiaas.errors import UnsupportedMedia
from aiaas.serving.limits import MAX_DEPTH, BodyLimit, parse_json, require_json
from aiaas.state import json_safe


@pytest.mark.parametrize("raw,loc,words", [
    ('{"a": NaN}', ["body", "a"], "not a finite number"),
    ('{"a": [1, -Infinity]}', ["body", "a", 1], "not a finite number"),
    ('{"a": 1e309}', ["body", "a"], "not a finite number"),
    ('{"a": {"b": "\\ud800"}}', ["body", "a", "b"], "lone surrogate"),
    ('{"a": "bell\\u0007"}', ["body", "a"], "control characters"),
    ('{"\\ud800": 1}', ["body", "<key>"], "lone surrogate"),
    ("[" * 40 + "]" * 40, None, "nested more than"),
    ("[" * 5000 + "]" * 5000, ["body"], "nested more than"),
    ("{not json", ["body"], "not valid JSON"),
    ('{"instances": [{"amount": ' + "9" * 5000 + "}]}", ["body", "instances", 0, "amount"], "5,000 digits"),
    ('{"a": [-' + "1" * 4301 + "]}", ["body", "a", 0], "4,301 digits"),
    ('{"a": ' + "9" * 400 + "}", ["body", "a"], "too large a number"),
])
def test_strict_json_refuses_what_models_and_json_cannot_take(raw: str, loc: list | None, words: str) -> None:
    with pytest.raises(RequestValidationError) as caught:
        parse_json(raw.encode())
    error = caught.value.errors()[0]
    assert words in error["msg"]
    if loc is not None:
        assert error["loc"] == loc
    json.dumps(error, allow_nan=False)  # the refusal itself is valid JSON


def test_a_whole_number_past_64_bits_is_read_as_the_number_it_is() -> None:
    assert parse_json(b'{"a": [100000000000000000000000000000, -9223372036854775808]}') == {"a": [1e29, -9223372036854775808.0]}
    assert parse_json(b'{"a": 9223372036854775807}') == {"a": 2**63 - 1}


def test_ordinary_json_passes() -> None:
    body = {"instances": [{"text": "line one\nline two\ttabbed — ünïcode 😀", "n": 1.5e300, "nested": [[[1]]]}]}
    assert parse_json(json.dumps(body).encode()) == body
    assert len(str(MAX_DEPTH)) > 0


def test_json_routes_take_only_json() -> None:
    require_json("application/json; charset=utf-8")
    require_json("application/vnd.api+json")
    for kind in ("text/plain", "", "application/x-www-form-urlencoded"):
        with pytest.raises(UnsupportedMedia):
            require_json(kind)


def test_json_safe_makes_echoed_values_writable() -> None:
    assert json.dumps(json_safe({"a": float("nan"), "b": ["\ud800x"]}), allow_nan=False).encode("utf-8")


def test_the_body_limit_holds_while_a_chunked_body_streams() -> None:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    limited = BodyLimit(app, max_bytes=1000)
    sent = []

    async def run() -> list[dict]:
        chunks = [{"type": "http.request", "body": b"x" * 400, "more_body": True} for _ in range(1000)]
        chunks.append({"type": "http.request", "body": b"", "more_body": False})
        out: list[dict] = []

        async def receive() -> dict:
            sent.append(1)
            return chunks[len(sent) - 1]

        async def send(message: dict) -> None:
            out.append(message)

        scope = {"type": "http", "method": "POST", "path": "/echo", "headers": [(b"content-type", b"application/json")],
                 "query_string": b"", "root_path": "", "scheme": "http", "server": ("test", 80), "client": ("test", 1)}
        await limited(scope, receive, send)
        return out

    messages = asyncio.run(run())
    assert messages[0]["status"] == 413
    assert len(sent) <= 4  # refused after about 1,000 bytes, not after reading 400,000
    client = TestClient(limited)
    assert client.post("/echo", content=b"y" * 2000).status_code == 413  # by Content-Length, before reading
    assert client.post("/echo", content=b"y" * 10).json() == {"bytes": 10}
