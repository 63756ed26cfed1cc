"""``OPTIONS`` and ``405`` answers that name every method a path takes.

Starlette answers a method a path does not take with 405 and an ``Allow`` header naming the
methods of the first route that matched the path, so a path served by two routes (a learner's
``GET`` and ``DELETE``) lists only one, and it answers ``OPTIONS`` the same way. Here both name
every route of the path, as RFC 9110 asks: ``OPTIONS`` gets 204 with the full ``Allow``, and any
405 carries it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


class AllowedMethods:
    def __init__(self, app: ASGIApp, routes: Callable[[], Sequence[Any]]) -> None:
        self.app, self.routes = app, routes

    def allowed(self, scope: Scope) -> list[str]:
        """Every method some route takes at this path (the router's own matching, so included routers count)."""
        methods = {method for method in METHODS for route in self.routes()
                   if route.matches({**scope, "method": method})[0] == Match.FULL}
        return sorted(methods | {"OPTIONS"}) if methods else []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if scope["method"] == "OPTIONS":
            allowed = self.allowed(scope)
            if allowed:
                await send({"type": "http.response.start", "status": 204, "headers": [(b"allow", ", ".join(allowed).encode())]})
                return await send({"type": "http.response.body", "body": b""})

        async def full_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                message["headers"] = [*headers, (b"allow", ", ".join(self.allowed(scope)).encode())]
            await send(message)

        await self.app(scope, receive, full_allow)
