"""Who may call what: API keys with scopes, and per-key rate limits.

With no key ever made the service is open, as on a laptop (``aiaas serve`` refuses
a non-loopback address in that state). Once any key exists (revoked ones count, so
revoking the last key locks the service rather than opening it), every route except
``/healthz``, ``/readyz`` (and its per-task form), the V2 health routes and the docs' assets needs ``Authorization: Bearer <key>``:
401 without a valid key, 403 outside the key's scope, 429 with ``Retry-After`` over its rate.
Task routes ``/v1/{industry}/{task}/...`` (and ``/v2/models/{industry}/{task}/...``) need the industry, the task or admin;
``/admin/...`` and ``/metrics`` need admin; ``/v1/tasks`` and the docs any key
(the docs none with ``AIAAS_PUBLIC_DOCS=true``). Keys are looked up at most once per
``ttl`` seconds each, so revoking one reaches a running server within that time.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from aiaas.keys import Caller, KeyStore, digest

OPEN = frozenset({"/healthz", "/readyz", "/v2/health/live", "/v2/health/ready"})
CONSOLE = "/console"
IN_PROCESS = "aiaas.in_process_caller"
"""An ASGI scope key the console sets on the requests it makes of the service in-process: the caller it
signed in. A client cannot set a scope key, so this never comes from the network."""


def is_open(path: str) -> bool:
    """Whether a path needs no bearer key: health, readiness (per task too), the docs' assets, and the
    console, which signs in with its own session cookie and checks the key's scope itself (``aiaas.console``)."""
    return path in OPEN or path == CONSOLE or path.startswith(("/readyz/", "/docs/assets/", CONSOLE + "/"))
DOCS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})


def required_scope(path: str) -> tuple[str | None, str | None] | None:
    """(industry, task) a path belongs to; (None, None) for admin-only paths; None when any key will do."""
    parts = path.strip("/").split("/")
    if parts[0] == "admin" or path == "/metrics":
        return (None, None)
    if len(parts) >= 3 and parts[0] == "v1":
        return (parts[1], parts[2])
    if len(parts) >= 4 and parts[:2] == ["v2", "models"]:
        return (parts[2], parts[3])
    return None


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class Access:
    keys: KeyStore
    ttl: float = 1.0
    public_docs: bool = False
    _callers: dict[str, tuple[Caller | None, float]] = field(default_factory=dict)
    _active: tuple[bool, float] = (False, float("-inf"))
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def enforced(self) -> bool:
        """Whether keys are in force (checked at most once per ``ttl``)."""
        active, checked = self._active
        if time.monotonic() - checked >= self.ttl:
            active = self.keys.configured()
            self._active = (active, time.monotonic())
        return active

    def _caller(self, key: str) -> Caller | None:
        hashed = digest(key)
        cached = self._callers.get(hashed)
        if cached is None or time.monotonic() - cached[1] >= self.ttl:
            if len(self._callers) > 10_000:  # bound the cache against floods of made-up keys
                self._callers.clear()
            cached = (self.keys.caller(key), time.monotonic())
            self._callers[hashed] = cached
        return cached[0]

    def check(self, path: str, authorization: str | None) -> tuple[Caller | None, JSONResponse | None]:
        """The caller, or the response that refuses the request."""
        if is_open(path) or not self.enforced() or (self.public_docs and path in DOCS):
            return None, None
        scheme, _, key = (authorization or "").partition(" ")
        caller = self._caller(key.strip()) if scheme.lower() == "bearer" and key.strip() else None
        if caller is None:
            return None, JSONResponse({"detail": "a valid API key is needed: send 'Authorization: Bearer <key>'"}, status_code=401,
                                      headers={"WWW-Authenticate": "Bearer"})
        scope = required_scope(path)
        if scope is not None and not caller.allows(*scope):
            what = "admin routes" if scope[0] is None else f"{scope[0]}/{scope[1]}"
            return caller, JSONResponse({"detail": f"key {caller.name!r} (scope {caller.scope}) may not use {what}"}, status_code=403)
        wait = self._spend(caller)
        if wait:
            return caller, JSONResponse({"detail": f"key {caller.name!r} is over its rate of {caller.rate:g} requests per second"},
                                        status_code=429, headers={"Retry-After": str(wait)})
        return caller, None

    def _spend(self, caller: Caller) -> int:
        """Take one token from the caller's bucket (capacity: one second of its rate, and at least one
        request); seconds to wait when empty."""
        if not caller.rate:
            return 0
        now = time.monotonic()
        capacity = max(1.0, caller.rate)
        with self._lock:
            bucket = self._buckets.setdefault(caller.name, _Bucket(capacity, now))
            bucket.tokens = min(capacity, bucket.tokens + (now - bucket.at) * caller.rate)
            bucket.at = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0
            return max(1, math.ceil((1 - bucket.tokens) / caller.rate))


class KeyCheck:
    """The ASGI middleware that applies ``Access`` to every HTTP request; the caller is
    left in ``request.state.caller`` for the routes (the audit record, the logs)."""

    def __init__(self, app: ASGIApp, access: Access) -> None:
        self.app, self.access = app, access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if IN_PROCESS in scope:  # asked by this process's own console for a viewer it has checked (never from a socket)
            scope.setdefault("state", {})["caller"] = scope[IN_PROCESS]
            return await self.app(scope, receive, send)
        header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        # In memory but for one database read per key (and one for "any keys?") per ttl: no thread hop per request.
        caller, refusal = self.access.check(scope["path"], header or None)
        if refusal is not None:
            return await refusal(scope, receive, send)
        scope.setdefault("state", {})["caller"] = caller
        await self.app(scope, receive, send)
