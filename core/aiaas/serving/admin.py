"""Model management over HTTP for admin keys: versions, promote, rollback, the audit record.
Each change is recorded in the audit table under the calling key's name."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from aiaas.plugins import Host
from aiaas.registry import CANARY, MAX_VERSION, SHADOW, Registry
from aiaas.serving.limits import strict_json_body


class Promotion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, le=MAX_VERSION, description="the registered version to serve")
    canary: int | None = Field(default=None, ge=1, le=99, description="serve it to this percent of clients only (sticky per client key)")
    shadow: bool = Field(default=False, description="send it a copy of the traffic without answering from it")


def _actor(request: Request) -> str:
    caller = getattr(request.state, "caller", None)
    return f"key:{caller.name}" if caller else "open-access"


def admin_router(host: Host, registry: Registry) -> APIRouter:
    router = APIRouter(prefix="/admin", tags=["admin"])

    def task_name(industry: str, task: str) -> str:
        return host.task(f"{industry}/{task}").name  # an unknown task is a 404 naming the installed ones

    @router.get("/models", summary="Registered versions of every task, which one serves, and what servers reported about each")
    async def models(request: Request) -> dict[str, Any]:
        """``problems`` of a version: why it failed to load, or that its files changed on disk, as any server
        reported it; ``serving``: this server's own view of each task (what answers, what is loading or failed)."""
        served = request.app.state.served
        serving = {name: (await run_in_threadpool(served.status, name))[1] for name in host.components.tasks}
        return {"versions": await run_in_threadpool(registry.listing), "serving": serving}

    @router.post("/models/{industry}/{task}/promote", summary="Serve a version of a task", dependencies=[Depends(strict_json_body)])
    async def promote(industry: str, task: str, body: Promotion, request: Request) -> dict[str, Any]:
        name = task_name(industry, task)
        if body.canary is not None and body.shadow:
            raise HTTPException(422, "a version is either a canary or a shadow, not both")
        if body.canary is not None or body.shadow:
            kind, percent = (CANARY, body.canary) if body.canary is not None else (SHADOW, 100)
            started = await run_in_threadpool(registry.start_rollout, name, body.version, kind, percent, _actor(request))
            return {"task": name, "production": await run_in_threadpool(registry.alias, name), "rollout": started.describe()}
        row = await run_in_threadpool(registry.promote, name, body.version, actor=_actor(request))
        return {"task": name, "production": row.version}

    @router.post("/models/{industry}/{task}/rollback", summary="Serve the version served before, or end the rollout in progress")
    async def rollback(industry: str, task: str, request: Request) -> dict[str, Any]:
        name = task_name(industry, task)
        row = await run_in_threadpool(registry.rollback, name, actor=_actor(request))
        return {"task": name, "production": row.version}

    @router.get("/audit", summary="The most recent changes: who did what, when")
    async def audit(limit: int = 100) -> dict[str, Any]:
        events = await run_in_threadpool(registry.audit.events, max(1, min(limit, 10_000)))
        return {"events": [event.to_json() for event in events]}

    return router
