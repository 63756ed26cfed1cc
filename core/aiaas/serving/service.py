"""What a plugin's own routes reach of the running service (``register_routes(router, host, service)``):
the registry and its database, the served models, the batcher and the prediction log, so a
route answers through the same model path as ``/predict`` and erases what the log holds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiaas.monitoring.predictions import PredictionLog
from aiaas.pipeline import Pipeline
from aiaas.plugins import Host
from aiaas.registry import Registry
from aiaas.serving.batcher import Batcher
from aiaas.settings import Settings
from aiaas.versions import ServedModels


@dataclass(frozen=True)
class Service:
    host: Host
    registry: Registry
    served: ServedModels
    batcher: Batcher
    settings: Settings
    predictions: PredictionLog | None = None

    async def erase_predictions(self, task: str, subject: str) -> int:
        """Remove every logged prediction (and its feedback) of ``task`` about ``subject``, the value of the
        task's ``subject_field`` (a learner's id); returns how many were removed."""
        from fastapi.concurrency import run_in_threadpool

        return 0 if self.predictions is None else await run_in_threadpool(self.predictions.erase, task, subject)

    async def pipeline(self, task: str) -> Pipeline:
        """The version that answers ``task`` now, never loaded on the request path (a server that has
        just started waits for its first load, up to the request timeout). Raises NoModel (503)."""
        from fastapi.concurrency import run_in_threadpool

        return self.served.fresh(task) or await run_in_threadpool(self.served.get, task, self.settings.request_timeout_seconds)

    async def predict(self, task: str, rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Answers for records (already decoded) from the production model, batched with
        concurrent requests, and the model that gave them. Raises NoModel (503)."""
        from aiaas.serving.routes import model_info, predict_work

        pipeline = await self.pipeline(task)
        return await self.batcher.run(task, pipeline, predict_work, rows), model_info(pipeline)
