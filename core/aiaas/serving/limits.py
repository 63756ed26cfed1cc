"""Hard limits on what a request may carry, checked before any model work.

- The body size holds while the body streams (a chunked body has no Content-Length),
  so a huge upload is cut off at the limit instead of being read whole.
- JSON bodies are strict: NaN, Infinity and numbers too large for a float (an integer
  literal past Python's 4,300-digit limit included; a whole number past 64 bits is read
  as a float, so an integer field refuses it and a number field takes it), strings
  with lone surrogates or control characters (other than tab and line breaks), and
  nesting deeper than ``MAX_DEPTH`` each get a 422 naming where, and that 422 is
  always valid JSON. ``StrictJSON`` applies the same rules to every JSON body a route leaves
  to FastAPI to parse (feedback, the admin API, a plugin's own routes), before FastAPI sees it.
- A large body is parsed in a worker thread, never on the event loop.
- JSON routes take ``application/json`` (or ``+json``) and answer 415 to anything else.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Callable
from typing import Any

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aiaas.errors import UnsupportedMedia

MAX_DEPTH = 32
MAX_INT = 2**63 - 1
"""Whole numbers past 64 bits become floats (no integer field, database column or tensor downstream takes them)."""
CHECKED = "aiaas.strict_json"
"""Set in the scope of a request whose JSON body ``StrictJSON`` has checked."""
INLINE_PARSE_BYTES = 64 * 1024
"""Bodies up to this size are parsed on the event loop (well under a millisecond); larger ones in a thread."""
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


class StrictJSON:
    """ASGI middleware: a JSON body of a route FastAPI parses is checked by ``parse_json`` first, so
    it gets the same 422s naming the field as the task routes (FastAPI's own parse would answer 400
    to an integer past the digit limit, and take NaN). ``skip(path)``: routes that parse their own."""

    def __init__(self, app: ASGIApp, skip: Callable[[str], bool]) -> None:
        self.app, self.skip = app, skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH") or self.skip(scope["path"]):
            return await self.app(scope, receive, send)
        content_type = dict(scope["headers"]).get(b"content-type", b"").split(b";")[0].strip().lower()
        if content_type != b"application/json" and not content_type.endswith(b"+json"):
            return await self.app(scope, receive, send)
        chunks = []
        while True:  # the body is capped by BodyLimit, outside this middleware
            message = await receive()
            if message["type"] == "http.disconnect":
                from starlette.requests import ClientDisconnect

                raise ClientDisconnect()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        raw = b"".join(chunks)
        try:
            if raw:
                await parse_json_off_loop(raw)
            scope[CHECKED] = True
        except RequestValidationError as exc:
            from fastapi.responses import JSONResponse

            from aiaas.state import json_safe

            return await JSONResponse({"detail": json_safe(exc.errors())}, status_code=422)(scope, receive, send)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": raw, "more_body": False}

        await self.app(scope, replay, send)


async def strict_json_body(request: Request) -> None:
    """A dependency for routes whose body FastAPI parses (``dependencies=[Depends(strict_json_body)]``):
    the same content type and strict JSON as the task routes (checked once: ``StrictJSON`` may have done it)."""
    require_json(request.headers.get("content-type", ""))
    if not request.scope.get(CHECKED):
        parse_json(await request.body())


def require_json(content_type: str) -> None:
    kind = content_type.split(";")[0].strip().lower()
    if kind != "application/json" and not kind.endswith("+json"):
        raise UnsupportedMedia(f"send the body as application/json (got {kind or 'no content type'!r})")


def invalid_body(loc: list[Any], message: str, kind: str = "value_error") -> RequestValidationError:
    """A 422 naming where in the body (``loc`` under ``body``) and what is wrong."""
    return RequestValidationError([{"loc": ["body", *loc], "msg": message, "type": kind}])


class _TooManyDigits:
    """Stands in for an integer literal past Python's digit limit, so the 422 can say where it was."""

    def __init__(self, digits: int) -> None:
        self.digits = digits


def _int_or_marker(text: str) -> Any:
    limit = sys.get_int_max_str_digits()
    return _TooManyDigits(len(text.lstrip("-"))) if limit and len(text.lstrip("-")) > limit else int(text)


def parse_json(raw: bytes) -> Any:
    """The body as JSON, refusing what strict JSON and the models downstream cannot take."""
    try:
        try:
            body = json.loads(raw)
        except ValueError as exc:
            if isinstance(exc, (json.JSONDecodeError, UnicodeDecodeError)):
                raise
            # an integer literal past Python's digit limit (its guard against quadratic parsing): parse again to say where
            body = json.loads(raw, parse_int=_int_or_marker)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise invalid_body([], f"body is not valid JSON: {exc}", "json_invalid") from None
    except RecursionError:
        raise invalid_body([], f"body is nested more than {MAX_DEPTH} levels deep", "json_invalid") from None
    check_values(body)
    return body


async def parse_json_off_loop(raw: bytes) -> Any:
    """``parse_json``, in a worker thread when the body is large enough that parsing it would hold
    the event loop (and every other request) for more than a moment."""
    if len(raw) <= INLINE_PARSE_BYTES:
        return parse_json(raw)
    from fastapi.concurrency import run_in_threadpool

    return await run_in_threadpool(parse_json, raw)


def check_values(body: Any) -> None:
    """Refuse what the models downstream cannot take, naming where; a whole number past 64 bits becomes
    the float it is (a JSON number is a number: ``1e30`` and its 31 digits are the same value)."""
    stack: list[tuple[Any, list[Any], Any]] = [(body, [], None)]
    while stack:
        value, loc, parent = stack.pop()
        if len(loc) > MAX_DEPTH:
            raise invalid_body(loc[:MAX_DEPTH], f"body is nested more than {MAX_DEPTH} levels deep", "json_invalid")
        if isinstance(value, dict):
            stack.extend((v, [*loc, k], value) for k, v in value.items())
            stack.extend((k, [*loc, "<key>"], None) for k in value)
        elif isinstance(value, list):
            stack.extend((v, [*loc, i], value) for i, v in enumerate(value))
        elif isinstance(value, _TooManyDigits):
            raise invalid_body(loc, f"a whole number of {value.digits:,} digits is too large (numbers end at 1.8e308)", "int_parsing_size")
        elif isinstance(value, int) and not isinstance(value, bool) and not -MAX_INT <= value <= MAX_INT:
            as_float = float(value) if abs(value) < 2**1024 else math.inf
            if parent is None or not math.isfinite(as_float):
                raise invalid_body(loc, f"{value} is too large a number (numbers end at 1.8e308)", "int_parsing_size")
            parent[loc[-1]] = as_float  # no field takes a whole number past 64 bits: as a float, a number field reads it
        elif isinstance(value, float) and not math.isfinite(value):
            raise invalid_body(loc, f"{value} is not a finite number (NaN, Infinity and numbers past 1.8e308 are refused)", "finite_number")
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise invalid_body(loc, "text holds a lone surrogate (\\ud800-\\udfff without its pair)", "string_unicode") from None
            if CONTROL.search(value):
                raise invalid_body(loc, "text holds control characters (only tab and line breaks are taken)", "string_unicode")
