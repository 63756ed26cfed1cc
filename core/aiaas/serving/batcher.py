"""Gathers concurrent requests for one task into one batch.

While a batch runs in a worker thread, new requests queue up; when it finishes,
everything queued (up to ``max_size`` instances) becomes the next batch. Under
light load a request runs at once, alone; under heavy load the per-request costs
of preprocessing, the model call and postprocessing are shared by many requests.
No timer is involved, so batching never adds waiting to a lone request.

A batch that fails is retried request by request, so one request's bad data
cannot fail the others that happened to share its batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi.concurrency import run_in_threadpool

Work = Callable[[Any, list[Any]], list[Any]]
"""(pipeline, instances) -> one result per instance."""


@dataclass
class _Pending:
    pipeline: Any
    work: Work
    instances: list[Any]
    done: asyncio.Future[list[Any]] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Batcher:
    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._queues: dict[str, asyncio.Queue[_Pending]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}

    async def run(self, key: str, pipeline: Any, work: Work, instances: list[Any]) -> list[Any]:
        if self.max_size <= 1:
            return await run_in_threadpool(work, pipeline, instances)
        pending = _Pending(pipeline, work, instances)
        self._queue(key).put_nowait(pending)
        return await pending.done

    def _queue(self, key: str) -> asyncio.Queue[_Pending]:
        loop = asyncio.get_running_loop()
        worker = self._workers.get(key)
        if worker is None or worker.done() or worker.get_loop() is not loop:
            self._queues[key] = asyncio.Queue()
            self._workers[key] = loop.create_task(self._serve(self._queues[key]), name=f"batcher {key}")
        return self._queues[key]

    async def _serve(self, queue: asyncio.Queue[_Pending]) -> None:
        while True:
            batch = [await queue.get()]
            size = len(batch[0].instances)
            while size < self.max_size and not queue.empty():
                batch.append(queue.get_nowait())
                size += len(batch[-1].instances)
            # One model call per (version, kind of work); a promote between requests splits the batch.
            groups: dict[tuple[int, Work], list[_Pending]] = {}
            for pending in batch:
                groups.setdefault((id(pending.pipeline), pending.work), []).append(pending)
            for group in groups.values():
                await self._answer(group)

    async def _answer(self, group: list[_Pending]) -> None:
        first = group[0]
        instances = [instance for pending in group for instance in pending.instances]
        try:
            results = await run_in_threadpool(first.work, first.pipeline, instances)
        except Exception:
            if len(group) == 1:
                return await self._answer_alone(first)
            for pending in group:
                await self._answer_alone(pending)
            return
        start = 0
        for pending in group:
            end = start + len(pending.instances)
            if not pending.done.done():
                pending.done.set_result(results[start:end])
            start = end

    async def _answer_alone(self, pending: _Pending) -> None:
        try:
            result = await run_in_threadpool(pending.work, pending.pipeline, pending.instances)
        except Exception as exc:
            if not pending.done.done():
                pending.done.set_exception(exc)
            return
        if not pending.done.done():
            pending.done.set_result(result)
