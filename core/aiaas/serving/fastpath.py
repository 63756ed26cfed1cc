"""The predict routes' fast path: ``POST /v1/{industry}/{task}/predict`` and the V2 protocol's
``POST /v2/models/{industry}/{task}[/versions/{version}]/infer`` answered straight from the
middleware stack, past FastAPI's router, dependency solving and per-route wrappers.

It runs after the request id, metrics, shedding, keys and the body limit (it is the innermost
middleware), calls the very handler the route would (``task_router``'s ``answer``), and turns
errors into responses with the app's own exception handlers, so answers, status codes and
logs are the route's. Everything else, ``/explain`` and multipart uploads included, goes on
to the router.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

Handler = Callable[[Request], Awaitable[Any]]
V2Handler = Callable[[Request, str, "str | None"], Awaitable[Any]]


class FastPredict:
    def __init__(self, app: ASGIApp, handlers: dict[str, Handler], exception_handlers: Callable[[], dict[Any, Any]],
                 v2: Callable[[], V2Handler | None] = lambda: None) -> None:
        self.app, self.handlers, self.exception_handlers, self.v2 = app, handlers, exception_handlers, v2

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and scope["method"] == "POST":
            if path.endswith("/predict") and path.startswith("/v1/"):
                handler = self.handlers.get(path[4:-8])
                if handler is not None and not _multipart(scope):
                    return await self._answer(handler, scope, receive, send)
            elif path.endswith("/infer") and path.startswith("/v2/models/") and (infer := self.v2()) is not None:
                parts = path[11:-6].split("/")  # industry/task, or industry/task/versions/version
                if len(parts) == 2 or (len(parts) == 4 and parts[2] == "versions"):
                    model, version = f"{parts[0]}/{parts[1]}", parts[3] if len(parts) == 4 else None
                    return await self._answer(lambda request: infer(request, model, version), scope, receive, send)
        await self.app(scope, receive, send)

    async def _answer(self, handler: Handler, scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("app", None)
        request = Request(scope, receive, send)
        try:
            response = await handler(request)
        except Exception as exc:
            response = await self._error(request, exc)
        await response(scope, receive, send)

    async def _error(self, request: Request, exc: Exception) -> Any:
        handlers = self.exception_handlers()
        for kind in type(exc).__mro__:
            if kind in handlers:
                return await handlers[kind](request, exc)
        raise exc


def _multipart(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.startswith(b"multipart/")
    return False
