"""Hard limits on what a request may carry, checked before any model work.

- The body size holds while the body streams (a chunked body has no Content-Length),
  so a huge upload is cut off at the limit instead of being read whole.
- JSON bodies are strict: NaN, Infinity and numbers too large for a float, strings
  with lone surrogates or control characters (other than tab and line breaks), and
  nesting deeper than ``MAX_DEPTH`` each get a 422 naming where, and that 422 is
  always valid JSON.
- JSON routes take ``application/json`` (or ``+json``) and answer 415 to anything else.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aiaas.errors import UnsupportedMedia

MAX_DEPTH = 32
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class BodyLimit:
    """413 for a body over ``max_bytes``: at once from Content-Length, else as soon as
    the streamed bytes pass it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_bytes:
            from fastapi.responses import JSONResponse

            response = JSONResponse({"detail": f"request body of {int(length)} bytes is over the limit of {self.max_bytes}"}, status_code=413)
            return await response(scope, receive, send)
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise HTTPException(413, f"request body is over the limit of {self.max_bytes} bytes")
            return message

        await self.app(scope, counted, send)


async def strict_json_body(request: Request) -> None:
    """A dependency for routes whose body FastAPI parses (``dependencies=[Depends(strict_json_body)]``):
    the same content type and strict JSON as the task routes."""
    require_json(request.headers.get("content-type", ""))
    parse_json(await request.body())


def require_json(content_type: str) -> None:
    kind = content_type.split(";")[0].strip().lower()
    if kind != "application/json" and not kind.endswith("+json"):
        raise UnsupportedMedia(f"send the body as application/json (got {kind or 'no content type'!r})")


def invalid_body(loc: list[Any], message: str, kind: str = "value_error") -> RequestValidationError:
    """A 422 naming where in the body (``loc`` under ``body``) and what is wrong."""
    return RequestValidationError([{"loc": ["body", *loc], "msg": message, "type": kind}])


def parse_json(raw: bytes) -> Any:
    """The body as JSON, refusing what strict JSON and the models downstream cannot take."""
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise invalid_body([], f"body is not valid JSON: {exc}", "json_invalid") from None
    except RecursionError:
        raise invalid_body([], f"body is nested more than {MAX_DEPTH} levels deep", "json_invalid") from None
    check_values(body)
    return body


def check_values(body: Any) -> None:
    stack: list[tuple[Any, list[Any]]] = [(body, [])]
    while stack:
        value, loc = stack.pop()
        if len(loc) > MAX_DEPTH:
            raise invalid_body(loc[:MAX_DEPTH], f"body is nested more than {MAX_DEPTH} levels deep", "json_invalid")
        if isinstance(value, dict):
            stack.extend((v, [*loc, k]) for k, v in value.items())
            stack.extend((k, [*loc, "<key>"]) for k in value)
        elif isinstance(value, list):
            stack.extend((v, [*loc, i]) for i, v in enumerate(value))
        elif isinstance(value, float) and not math.isfinite(value):
            raise invalid_body(loc, f"{value} is not a finite number (NaN, Infinity and numbers past 1.8e308 are refused)", "finite_number")
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise invalid_body(loc, "text holds a lone surrogate (\\ud800-\\udfff without its pair)", "string_unicode") from None
            if CONTROL.search(value):
                raise invalid_body(loc, "text holds control characters (only tab and line breaks are taken)", "string_unicode")
