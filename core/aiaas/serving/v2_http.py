"""The Open Inference Protocol over HTTP: ``/v2/...``, as Triton's and KServe's stock clients call it.

- A body with no Content-Type is JSON (``tritonclient.http`` sends none); with
  ``Inference-Header-Content-Length`` the JSON header is followed by the binary tensors
  (the client's default for numpy inputs), and outputs come back binary when asked for.
- Every error body is the protocol's ``{"error": "..."}`` (``V2Errors``), the keys'
  401 and 403 and the body limit's 413 included.
- ``/v2/models/{name}/versions/{version}/...`` addresses a registered version by number;
  ``/v2/models/{name}/config`` and ``POST /v2/repository/index`` answer as Triton's do.
"""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aiaas.errors import UnsupportedMedia
from aiaas.pipeline import Pipeline
from aiaas.serving.limits import invalid_body, parse_json
from aiaas.serving.routes import request_timeout
from aiaas.serving.v2 import HEADER_LENGTH, InferRequest, V2Models, error_text, output_tensors

EXTENSIONS = ["binary_tensor_data", "model_repository", "model_configuration"]


def v2_router(models: V2Models) -> APIRouter:
    router = APIRouter(prefix="/v2", tags=["open inference protocol (V2)"])
    registry, served, limits = models.registry, models.served, models.limits

    @router.get("", summary="Server metadata")
    def server() -> dict[str, Any]:
        import aiaas

        return {"name": "aiaas", "version": aiaas.__version__, "extensions": EXTENSIONS}

    @router.get("/health/live", summary="The server is up")
    async def live() -> dict[str, bool]:
        return {"live": True}

    @router.get("/health/ready", summary="The server can answer", responses={503: {"description": "starting (promoted versions still loading), "
                                                                                       "or the registry is unreachable"}})
    async def ready() -> Any:
        try:
            await run_in_threadpool(registry.ping)
        except Exception:
            return JSONResponse({"ready": False}, status_code=503)
        return JSONResponse({"ready": False}, status_code=503) if served.warming.is_set() else {"ready": True}

    @router.post("/repository/index", summary="Every model and the state of its served version")
    async def index(request: Request) -> list[dict[str, Any]]:
        raw = await request.body()
        asked = parse_json(raw) if raw.strip() else {}  # strict, as every body: a malformed one is a 422, never a 500
        if not isinstance(asked, dict):
            raise invalid_body([], "the body is an object: {\"ready\": true} lists only the models that serve")
        return await models.index(bool(asked.get("ready")))

    for versioned in ("", "/versions/{version}"):
        base = "/models/{industry}/{task}" + versioned

        @router.get(base, summary="A model's metadata: its inputs and outputs as tensors")
        async def metadata(industry: str, task: str, version: str | None = None) -> dict[str, Any]:
            return await models.metadata(models.name(f"{industry}/{task}"), version)

        @router.get(base + "/ready", summary="The model is loaded and serving")
        async def model_ready(industry: str, task: str, version: str | None = None) -> Any:
            name = models.name(f"{industry}/{task}")
            if await models.ready(name, version):
                return {"name": name, "ready": True}
            return JSONResponse({"name": name, "ready": False}, status_code=503)

        @router.get(base + "/config", summary="The model's configuration, as Triton describes one")
        async def config(industry: str, task: str, version: str | None = None) -> dict[str, Any]:
            return await models.config(models.name(f"{industry}/{task}"), version)

        @router.post(base + "/infer", summary="Tensors in, tensors out",
                     responses={422: {"description": "a tensor does not fit the model's inputs (error names it), or the task refuses the input"},
                                503: {"description": "no model of this task is promoted, or the task is at capacity (see Retry-After)"}},
                     openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": InferRequest.model_json_schema()}}}})
        async def infer(industry: str, task: str, request: Request, version: str | None = None) -> Response:
            return await answer(request, f"{industry}/{task}", version)

    async def answer(request: Request, model: str, version: str | None) -> Response:
        name = models.name(model)
        deadline = time.monotonic() + request_timeout(request, limits)
        parts = _body_parts(request, await request.body())

        def note(pipeline: Pipeline) -> None:
            request.state.model_version = pipeline.version

        pipeline, body, results = await models.infer(name, version, parts, deadline, note, getattr(request.state, "arrived", None))
        return infer_response(name, pipeline, body, results)

    router.infer = answer  # type: ignore[attr-defined]  # for the fast path (fastpath.py)
    return router


def _body_parts(request: Request, raw: bytes) -> tuple[bytes, bytes]:
    """The body's JSON header and the binary tensors after it."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise UnsupportedMedia(f"send the body uncompressed (got Content-Encoding {encoding!r})")
    header = request.headers.get(HEADER_LENGTH)
    if header is None:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind and kind != "application/json" and not kind.endswith("+json"):
            raise UnsupportedMedia(f"send the body as JSON, or JSON and binary tensors with Inference-Header-Content-Length (got {kind!r})")
        return raw, b""
    if not header.strip().isdigit() or int(header) > len(raw):
        raise invalid_body([], f"Inference-Header-Content-Length is the JSON header's length in bytes, at most the body's {len(raw)}; "
                               f"got {header!r}")
    return raw[:int(header)], raw[int(header):]


def infer_response(name: str, pipeline: Pipeline, body: InferRequest, results: list[dict[str, Any]]) -> Response:
    tensors = output_tensors(results, body)
    raw = [t.pop("raw") for t in tensors if "raw" in t]
    answer = {"model_name": name, "model_version": str(pipeline.version), **({"id": body.id} if body.id is not None else {}), "outputs": tensors}
    if not raw:
        return JSONResponse(answer)
    header = json.dumps(answer, separators=(",", ":")).encode()
    return Response(header + b"".join(raw), media_type="application/octet-stream", headers={"Inference-Header-Content-Length": str(len(header))})


class V2Errors:
    """ASGI middleware: a ``/v2/`` error body is the protocol's ``{"error": "..."}``, whichever part of the stack
    refused the request (keys, the body limit, validation, the batcher), so a V2 client can read it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v2/"):
            return await self.app(scope, receive, send)
        start: Message | None = None
        chunks: list[bytes] = []

        async def rewrite(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start" and message["status"] >= 400:
                start = message
                return
            if start is None or message["type"] != "http.response.body":
                return await send(message)
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            try:
                found = json.loads(body)
            except ValueError:
                found = None
            if isinstance(found, dict) and "detail" in found:
                body = json.dumps({"error": error_text(found["detail"])}).encode()
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"] + [(b"content-length", str(len(body)).encode())]
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, rewrite)
