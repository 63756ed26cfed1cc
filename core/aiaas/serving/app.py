"""The FastAPI application factory."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel
from starlette.requests import ClientDisconnect

import aiaas
from aiaas.errors import InvalidInput, ModelUnavailable, NoModel, NotFound, UserError
from aiaas.plugins import Host, get_host
from aiaas.records import resolve
from aiaas.registry import Registry
from aiaas.keys import KeyStore
from aiaas.monitoring.monitor import DriftGauges
from aiaas.monitoring.predictions import PredictionLog
from aiaas.serving.access import Access, KeyCheck
from aiaas.serving.admin import admin_router
from aiaas.serving import fastshed, openapi
from aiaas.serving.batcher import Batcher, Overloaded, Shed
from aiaas.console.pages import add_console
from aiaas.serving.docs import add_docs
from aiaas.serving.fastpath import FastPredict
from aiaas.serving.limits import BodyLimit, StrictJSON
from aiaas.serving.methods import AllowedMethods
from aiaas.serving.observe import CATCH_ALL, CLIENT_CLOSED, Metrics, Observe, metrics_text, route_labels
from aiaas.serving.routes import Limits, task_router
from aiaas.serving.service import Service
from aiaas.serving.v2 import V2Models
from aiaas.serving.v2_http import V2Errors, v2_router
from aiaas.settings import Settings, get_settings
from aiaas.state import json_safe
from aiaas.versions import Loading, ServedModels

log = logging.getLogger("aiaas.serving")


def create_app(host: Host | None = None, registry: Registry | None = None, settings: Settings | None = None, remote: bool = False) -> FastAPI:
    """``remote``: model calls go to the tasks' Ray Serve replicas (``aiaas serve --ray``) instead of this process."""
    host = host or get_host()
    settings = settings or get_settings()
    registry = registry or Registry.from_settings(settings)
    registry.remove_leftovers()  # what killed training runs left behind
    metrics = Metrics()
    served = ServedModels(host, registry, settings.alias_ttl_seconds, on_failure=lambda task: metrics.load_failures.labels(task).inc(),
                          retry=settings.load_retry_seconds, integrity_seconds=settings.integrity_check_seconds,
                          on_damaged=lambda task, version: metrics.damaged.labels(task, str(version)).set(1),
                          preload_frameworks=settings.preload_frameworks)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        """Load and warm every promoted version in the background: /healthz answers at once,
        /readyz once they are warm."""
        served.warming.set()
        threading.Thread(target=served.warm_all, name="aiaas warm-up", daemon=True).start()
        served.start()
        grpc = None
        if settings.grpc_port is not None:
            from aiaas.serving import v2_grpc

            grpc = await v2_grpc.start(app, settings.grpc_host, settings.grpc_port, settings.max_request_bytes)
            log.info("the Open Inference Protocol over gRPC on %s:%s", settings.grpc_host, settings.grpc_port)
        yield
        if grpc is not None:
            await grpc.stop(grace=5)
        served.close()

    app = FastAPI(title="aiaas", version=aiaas.__version__, docs_url=None, redoc_url=None, lifespan=lifespan,
                  description="Industry-vertical models, one route per task. Each answer names the model version that gave it.")
    batching = {"on_batch": lambda task, rows: metrics.batch_rows.labels(task).observe(rows), "max_wait": settings.max_queue_seconds,
                "latency_target": settings.latency_target_seconds}
    if remote:
        from aiaas.serving.rayserve import RemoteBatcher

        batcher: Batcher = RemoteBatcher(settings.batch_max_instances, settings.max_queue_rows, **batching,
                                         on_replica=lambda task, replica: metrics.replica_calls.labels(task, replica).inc())
    else:
        batcher = Batcher(settings.batch_max_instances, settings.max_queue_rows, **batching)
    app.state.host, app.state.registry, app.state.served, app.state.batcher = host, registry, served, batcher

    _add_error_handlers(app)
    add_docs(app)

    # The request path: request id, metrics and access log; shedding; keys and scopes; the body limit;
    # every method a path takes in OPTIONS and 405 answers; strict JSON for the bodies FastAPI parses; the predict
    # routes' fast path (the last added runs first).
    predict_handlers: dict[str, Any] = {}
    app.add_middleware(FastPredict, handlers=predict_handlers, exception_handlers=lambda: app.exception_handlers,
                       v2=lambda: getattr(app.state, "v2_infer", None))
    app.add_middleware(StrictJSON, skip=parses_own_body)
    app.add_middleware(AllowedMethods, routes=lambda: app.routes)
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    access = app.state.access = Access(KeyStore(registry.engine), settings.alias_ttl_seconds, settings.public_docs)
    app.add_middleware(KeyCheck, access=access)
    app.add_middleware(Shed, batcher=batcher, on_shed=lambda task: metrics.shed.labels(task, "queue_full").inc())
    fastshed.install(batcher.admit, on_shed=lambda task: metrics.shed.labels(task, "queue_full").inc())  # for `aiaas serve`
    def answered(task: str, status: int, seconds: float) -> None:  # into the prediction log's minute counts, once it exists
        log = getattr(app.state, "predictions", None)
        if log is not None:
            log.timed(task, status, seconds)

    app.state.answered = answered
    app.add_middleware(Observe, metrics=metrics, tasks=host.components.tasks, answered=answered)
    app.add_middleware(V2Errors)
    app.state.metrics = metrics

    @app.get("/metrics", tags=["service"], include_in_schema=False)
    def prometheus() -> Response:
        """Prometheus metrics (an admin key when keys are in force)."""
        return Response(metrics_text(metrics, batcher), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", tags=["service"])
    async def healthz() -> dict[str, str]:
        """The process is up (answered on the event loop, never behind model work in the thread pool)."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["service"], responses={503: {"description": "not ready: starting (promoted versions still loading), "
                                                                         "the registry unreachable, or no promoted version loads"}})
    async def readyz() -> JSONResponse:
        """Ready once every promoted version has loaded and warmed (or failed to), unless the registry is
        unreachable or every promoted model fails to load: one broken task does not take the others out
        of rotation. Each task's state is listed; ``/readyz/{industry}/{task}`` answers for one task."""
        try:
            await run_in_threadpool(registry.ping)
        except Exception as exc:
            return JSONResponse({"ready": False, "registry": f"unreachable: {type(exc).__name__}"}, status_code=503)
        states = {name: await run_in_threadpool(served.status, name) for name in host.components.tasks}
        promoted = [state for state, _ in states.values() if state != "none"]
        starting = served.warming.is_set()
        ready = not starting and (not promoted or "serving" in promoted)
        body = {"ready": ready, **({"starting": True} if starting else {}), "tasks": {name: body for name, (_, body) in states.items()}}
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/readyz/{industry}/{task}", tags=["service"], responses={
        404: {"description": "no such task (detail names the installed ones)"},
        503: {"description": "the task does not serve: no promoted model, its version still loading, or it failed to load"}})
    async def task_ready(industry: str, task: str) -> JSONResponse:
        """200 while this task serves, 503 otherwise: for a load balancer that routes by task."""
        name = host.task(f"{industry}/{task}").name
        state, body = await run_in_threadpool(served.status, name)
        return JSONResponse({"task": name, **body}, status_code=200 if state == "serving" else 503)

    @app.get("/v1/tasks", tags=["service"])
    async def list_tasks() -> list[dict[str, Any]]:
        """Every task with its input and output schema (the served model's own input schema)."""
        out = []
        for task in host.components.tasks.values():
            if task.name in unavailable:
                out.append({"task": task.name, "modality": task.modality, "description": task.description, "error": unavailable[task.name]})
                continue
            schema = host.label_schema(task)
            input_model: type[BaseModel] = resolve(task.input_model)
            model = None
            checks: dict[str, Any] = {"available": [c.name for c in host.input_checks(task)], "refused_when_flagged_by": list(task.refuse_unfamiliar)}
            try:
                pipeline = await run_in_threadpool(served.get, task.name)
                input_model, schema = pipeline.input_model, pipeline.labels
                model = {"version": pipeline.version, "runtime": pipeline.runtime_name, "architecture": pipeline.manifest["architecture"]}
                checks["served"] = pipeline.guard.summary() if pipeline.guard else None
            except ModelUnavailable as exc:
                model = {"version": registry.alias(task.name), "error": str(exc)}
            except NoModel:
                pass
            out.append({
                "task": task.name, "modality": task.modality, "description": task.description,
                "labels": [{"name": label.name, "description": label.description} for label in schema.labels],
                "label_kind": schema.kind, "model": model,
                "endpoints": {"predict": f"/v1/{task.name}/predict", "explain": f"/v1/{task.name}/explain"},
                "input_schema": input_model.model_json_schema(),
                "output_schema": resolve(task.output_model).model_json_schema(),
                "input_checks": checks,
            })
        return out

    unavailable: dict[str, str] = {}
    """Tasks whose routes could not be made, with why: they answer 503 saying so."""
    predictions = PredictionLog(registry.engine, settings.prediction_log_days) if settings.prediction_log else None
    app.state.predictions = predictions
    if predictions is not None:
        app.state.drift = DriftGauges(host, registry, predictions, metrics.drift, settings.monitor_interval_seconds, timedelta(days=1))
        if settings.monitor_interval_seconds > 0:
            app.state.drift.start()
    extra_schemas: list[type[BaseModel]] = []
    limits = Limits(settings.max_instances, settings.max_request_bytes, settings.request_timeout_seconds)
    for info in host.plugins.values():
        if info.status == "failed":
            tasks = f"its tasks ({', '.join(info.tasks)}) answer 503 saying why" if info.tasks else "its tasks answer 503 saying why"
            log.warning("plugin %s (%s) was set aside at load: %s; %s", info.name, info.distribution or "registered in code", info.reason, tasks)
    for name, info in host.set_aside_tasks.items():
        unavailable[name] = f"{name} is provided by plugin {info.name}, which was set aside at load: {info.reason}"
        app.include_router(unavailable_router(name, unavailable[name]))
    for task in host.components.tasks.values():
        try:
            router = task_router(task, served, limits, batcher, predictions,
                                 on_flagged=lambda name, version, count, action: metrics.flagged.labels(name, str(version or ""), action).inc(count))
        except Exception as exc:  # one task's code that fails to import must not take the others down
            log.exception("%s cannot be served", task.name)
            unavailable[task.name] = f"{task.name} cannot be served: its plugin's code failed to load ({type(exc).__name__}: {exc})"
            app.include_router(unavailable_router(task.name, unavailable[task.name]))
            continue
        extra_schemas.extend(router.extra_schemas)  # type: ignore[attr-defined]
        predict_handlers[task.name] = router.predict  # type: ignore[attr-defined]
        app.include_router(router)
    app.state.v2 = V2Models(host, registry, served, batcher, limits)
    v2 = v2_router(app.state.v2)
    app.state.v2_infer = v2.infer  # type: ignore[attr-defined]
    app.include_router(v2)
    app.include_router(admin_router(host, registry))
    add_console(app, host, registry, access)
    plugin_router = APIRouter()
    host.call_extension_hook("register_routes", router=plugin_router, host=host,
                             service=Service(host, registry, served, batcher, settings, predictions))
    app.include_router(plugin_router)
    app.include_router(set_aside_router(host))  # last: it answers only what no other route does
    openapi.install(app, extra_schemas)
    return app


def parses_own_body(path: str) -> bool:
    """The routes that read their JSON body with ``parse_json`` themselves: predict, explain and V2 infer."""
    parts = path.strip("/").split("/")
    return ((len(parts) == 4 and parts[0] == "v1" and parts[3] in ("predict", "explain"))
            or (len(parts) in (5, 7) and parts[:2] == ["v2", "models"] and parts[-1] == "infer"))


def unavailable_router(task: str, reason: str) -> APIRouter:
    """A task's routes when its code cannot be set up: 503 with the reason, so every other task serves."""
    router = APIRouter(prefix=f"/v1/{task}", tags=[task])

    async def refuse() -> JSONResponse:
        return JSONResponse({"detail": reason}, status_code=503)

    for action in ("predict", "explain", "feedback"):
        router.add_api_route(f"/{action}", refuse, methods=["POST"], include_in_schema=False)
    return router


def set_aside_router(host: Host) -> APIRouter:
    """After every task's routes: a task route of no installed task is 404 naming the installed ones, or 503 naming
    the plugin that provides it and why it was set aside (a plugin whose import failed could not name its tasks)."""
    router = APIRouter()

    async def missing(industry: str, task: str, action: str) -> JSONResponse:
        host.task(f"{industry}/{task}")  # raises: 503 for a set-aside plugin's task, 404 for an unknown one
        return JSONResponse({"detail": f"{industry}/{task} has no {action!r} route"}, status_code=404)

    router.add_api_route(CATCH_ALL, missing, methods=["POST", "GET"], include_in_schema=False)
    return router


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(InvalidInput)
    async def invalid_input(_request: Request, exc: InvalidInput) -> JSONResponse:
        loc = ["body", "instances", *exc.loc] if exc.loc else ["body"]
        return JSONResponse({"detail": [{"loc": loc, "msg": str(exc), "type": "invalid_input"}]}, status_code=exc.status)

    @app.exception_handler(NoModel)
    async def no_model(_request: Request, exc: NoModel) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "1"} if isinstance(exc, Loading) else None)

    @app.exception_handler(UserError)
    async def user_error(_request: Request, exc: UserError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404 if isinstance(exc, NotFound) else 400)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # an echoed NaN or a lone surrogate must not make the 422 itself unwritable
        return JSONResponse({"detail": json_safe(jsonable_encoder(exc.errors(), custom_encoder={Exception: str}))}, status_code=422)

    @app.exception_handler(Overloaded)
    async def overloaded(request: Request, exc: Overloaded) -> JSONResponse:
        request.app.state.metrics.shed.labels(route_labels(request.scope, request.app.state.host.components.tasks)[0], exc.reason).inc()
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "1"})

    @app.exception_handler(ClientDisconnect)
    async def client_gone(_request: Request, _exc: ClientDisconnect) -> Response:
        return Response(status_code=CLIENT_CLOSED)  # nobody reads it: the access log and metrics count a 499, not a 500

    @app.exception_handler(RecursionError)
    async def too_deep(_request: Request, _exc: RecursionError) -> JSONResponse:
        return JSONResponse({"detail": [{"loc": ["body"], "msg": "body is nested too deeply", "type": "json_invalid"}]}, status_code=422)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error; the server log has the details"}, status_code=500)
