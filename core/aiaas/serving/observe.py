"""What the team running the service sees: Prometheus metrics at ``/metrics``, a request
id on every request (``X-Request-ID``, taken when the client sends a sane one, else
made, and echoed), and one JSON access-log line per request on the ``aiaas.access``
logger. Bodies and keys are never logged; the caller appears by its key's name, the path
as its route's template (an id in a path stays out of the log). Labels come from a bounded
set: the tasks and routes that exist, one label for everything else.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import uuid
from collections.abc import Callable, Container
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("aiaas.access")
MULTIPROCESS = "PROMETHEUS_MULTIPROC_DIR"
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
CLIENT_CLOSED = 499
"""The status logged for a request whose client went away before its answer."""


class Metrics:
    """The service's metrics, in a registry of its own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("aiaas_requests", "HTTP requests by task, route, status and model version",
                                ["task", "route", "status", "version"], registry=r)
        self.latency = Histogram("aiaas_request_seconds", "Time to answer a request", ["task", "route"], registry=r,
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.batch_rows = Histogram("aiaas_batch_rows", "Rows per model call", ["task"], registry=r,
                                    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024))
        # with several workers each process writes its own values and /metrics adds them up (``PROMETHEUS_MULTIPROC_DIR``)
        self.queue_rows = Gauge("aiaas_queue_rows", "Rows admitted and waiting for an answer", ["task"], registry=r, multiprocess_mode="livesum")
        self.shed = Counter("aiaas_shed", "Requests refused or dropped under load", ["task", "reason"], registry=r)
        self.refused = Counter("aiaas_refused", "Requests refused at the door (401, 403, 429)", ["status"], registry=r)
        self.drift = Gauge("aiaas_drift_psi", "Drift of an input feature (or the score) against training, as PSI", ["task", "feature"],
                           registry=r, multiprocess_mode="livemostrecent")
        self.flagged = Counter("aiaas_flagged_inputs", "Inputs flagged as unlike the training data, answered with the flag or refused",
                               ["task", "version", "action"], registry=r)
        self.replica_calls = Counter("aiaas_replica_calls", "Model calls answered by each Ray Serve replica (aiaas serve --ray)",
                                     ["task", "replica"], registry=r)
        self.load_failures = Counter("aiaas_model_load_failures", "Promoted versions that failed to load", ["task"], registry=r)
        self.damaged = Gauge("aiaas_model_files_damaged", "1 for a loaded version whose files on disk no longer match their recorded digests",
                             ["task", "version"], registry=r, multiprocess_mode="max")


MODEL_ROUTES = ("predict", "explain", "v2/infer")
"""The routes a model answers: their requests are what the console's latency over time counts."""
CATCH_ALL = "/v1/{industry}/{task}/{action}"
"""The route that answers task paths no task route took (404, or 503 for a set-aside plugin's task): counted as unmatched."""


def route_labels(scope: Scope, tasks: Container[str]) -> tuple[str, str]:
    """(task, route) of a request, from a bounded set of values: the task only when it exists, the
    route as the matched route's template. A path no route took shares one label, so made-up paths
    cannot grow the metrics (or the access log) by a series each."""
    parts = scope["path"].strip("/").split("/")
    matched = getattr(scope.get("route"), "path", None)
    matched = None if matched == CATCH_ALL else matched
    if parts[0] == "v1" and len(parts) >= 4:
        task = f"{parts[1]}/{parts[2]}"
        if task not in tasks:
            return "", "unmatched" if matched is None else matched
        if matched is None:  # refused before routing (shed, keys) or answered by the fast path
            return task, parts[3] if len(parts) == 4 and parts[3] in ("predict", "explain", "feedback") else "unmatched"
        return task, "/".join(matched.strip("/").split("/")[3:])
    if parts[:2] == ["v2", "models"] and len(parts) >= 4 and (matched is not None or (parts[-1] == "infer" and len(parts) in (5, 7))):
        task = f"{parts[2]}/{parts[3]}"  # no matched route: answered by the fast path
        action = matched.strip("/").split("/")[-1] if matched is not None else "infer"
        return task if task in tasks else "", f"v2/{action if action in ('infer', 'ready', 'config') else 'metadata'}"
    if parts[0] == "admin":
        return "", "admin"
    if matched is None:
        return "", "unmatched"
    return "", matched


class Observe:
    """ASGI middleware: request id, metrics and the access log for every HTTP request.

    A client that goes away before its answer is logged as 499 (nginx's "client closed
    request"), not as a server error."""

    def __init__(self, app: ASGIApp, metrics: Metrics, tasks: Container[str] = (),
                 answered: Callable[[str, int, float], None] | None = None) -> None:
        """``answered(task, status, seconds)``: told of every request of a model route (the console's latency over time)."""
        self.app, self.metrics, self.tasks, self.answered = app, metrics, tasks, answered

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.monotonic()
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["arrived"] = started  # what the batcher's adaptive admission measures answer times from
        status = 500
        answered = gone = False

        async def listened() -> Message:
            nonlocal gone
            message = await receive()
            if message["type"] == "http.disconnect":
                gone = True
            return message

        async def tagged(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status, answered = message["status"], True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, listened, tagged)
        except ClientDisconnect:
            gone = True
        finally:
            if gone and (not answered or status == CLIENT_CLOSED):
                status = CLIENT_CLOSED
            seconds = time.monotonic() - started
            task, route = route_labels(scope, self.tasks)
            version = state.get("model_version")
            self.metrics.requests.labels(task, route, str(status), str(version or "")).inc()
            self.metrics.latency.labels(task, route).observe(seconds)
            if self.answered is not None and task and route in MODEL_ROUTES:
                self.answered(task, status, seconds)
            if status in (401, 403, 429):
                self.metrics.refused.labels(str(status)).inc()
            caller = state.get("caller")
            access_log.info(json.dumps({
                "request_id": request_id, "method": scope["method"], "path": _logged_path(scope, task, route), "status": status,
                "ms": round(seconds * 1000, 2), "task": task or None, "version": version, "key": getattr(caller, "name", None),
            }))


def _logged_path(scope: Scope, task: str, route: str) -> str | None:
    """The matched route's template (``/v1/education/knowledge-tracing/learners/{learner}``), never the
    path itself: a path may carry a learner's id, and a made-up one anything at all."""
    matched = getattr(scope.get("route"), "path", None)
    if matched is not None:
        return matched
    return f"/v1/{task}/{route}" if task and route != "unmatched" else None


# ``aiaas serve``'s logging: uvicorn's own messages as usual, the access log as one JSON object per line.
LOG_CONFIG: dict[str, Any] = {
    "version": 1, "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(message)s"}, "default": {"format": "%(levelname)s:     %(message)s"}},
    "handlers": {"access": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stdout"},
                 "default": {"class": "logging.StreamHandler", "formatter": "default", "stream": "ext://sys.stderr"}},
    "loggers": {"aiaas.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
                "uvicorn": {"handlers": ["default"], "level": "INFO"}, "aiaas": {"handlers": ["default"], "level": "INFO"}},
}


def metrics_text(metrics: Metrics, batcher: Any) -> bytes:
    from prometheus_client import generate_latest

    for task, rows in list(batcher.waiting.items()):
        metrics.queue_rows.labels(task).set(rows)
    if os.environ.get(MULTIPROCESS):  # `aiaas serve --workers N`: every worker's values, whichever worker answers
        from prometheus_client import CollectorRegistry
        from prometheus_client.multiprocess import MultiProcessCollector

        everyone = CollectorRegistry()
        MultiProcessCollector(everyone)
        return generate_latest(everyone)
    return generate_latest(metrics.registry)
