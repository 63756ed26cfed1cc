"""Gathers concurrent requests for one task into one batch.

While a batch runs in a worker thread, new requests queue up; when it finishes,
everything queued (up to ``max_size`` instances) becomes the next batch. Under
light load a request runs at once, alone; under heavy load the per-request costs
of preprocessing, the model call and postprocessing are shared by many requests.
No timer is involved, so batching never adds waiting to a lone request.

A batch that fails is retried request by request, so one request's bad data
cannot fail the others that happened to share its batch.

Load shedding: a request is refused at once (``Overloaded``, a 503 with
``Retry-After``) rather than queued behind work it cannot wait for, when the rows
already waiting for its task would take more than ``max_wait`` seconds at the task's
recent speed (a running average of seconds per row), or number more than
``max_queue``. A request whose deadline passes while it waits is dropped before the
model runs.

Adaptive admission (``latency_target``): the rows a task may have waiting follow the
answer times actually measured, as CoDel follows a queue's sojourn time. After each
batch, the oldest request in it has waited from its arrival (``arrived``, else its
admission) to its answer; past the target,
the task's limit is cut by a fifth (at most once per target interval, since the batch
just answered was admitted under the old limit); under half of it, while the queue
reaches half the limit, the limit grows by a row per batch; in between it holds, so the
tail stays under the target rather than oscillating about it. A row estimate from CPU time
misjudges a core shared with the HTTP path under a flood; the wall clock does not.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi.concurrency import run_in_threadpool

Work = Callable[[Any, list[Any]], list[Any]]
"""(pipeline, instances) -> one result per instance."""


class Overloaded(Exception):
    """The task's queue is full, or the request's deadline passed before the model ran."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class _Pending:
    pipeline: Any
    work: Work
    instances: list[Any]
    deadline: float = float("inf")
    admitted: float = field(default_factory=time.monotonic)
    arrived: float = field(default_factory=time.monotonic)
    """When the request reached the server: adaptive admission measures answer times from it."""
    done: asyncio.Future[list[Any]] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


@dataclass
class _Limit:
    """A task's adaptive limit on waiting rows."""

    rows: float
    cut_at: float = float("-inf")


class Batcher:
    def __init__(self, max_size: int, max_queue: int = 1_000_000, on_batch: Callable[[str, int], None] | None = None,
                 max_wait: float = float("inf"), latency_target: float = 0.0) -> None:
        self.max_size, self.max_queue, self.max_wait, self.latency_target = max_size, max_queue, max_wait, latency_target
        self.limits: dict[str, _Limit] = {}
        """Per task, with ``latency_target``: the rows it may have waiting now."""
        self.seconds_per_row: dict[str, float] = {}
        self.on_batch = on_batch  # (task, rows) for each model call: metrics
        self.waiting: dict[str, int] = {}
        """Rows admitted and not yet answered, per task."""
        self._queues: dict[str, asyncio.Queue[_Pending]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}

    async def run(self, key: str, pipeline: Any, work: Work, instances: list[Any], deadline: float = float("inf"),
                  arrived: float | None = None) -> list[Any]:
        """``deadline``: a ``time.monotonic()`` after which the request is not worth answering; ``arrived``: when the
        request reached the server (its parsing and validation count towards the answer time admission holds)."""
        self.admit(key, len(instances))
        self.waiting[key] = self.waiting.get(key, 0) + len(instances)
        try:
            if self.max_size <= 1:
                self._check(key, deadline)
                admitted = time.monotonic() if arrived is None else arrived
                results = await run_in_threadpool(self._counted(key, work), pipeline, instances)
                self._adapt(key, admitted, len(instances))
                return results
            pending = _Pending(pipeline, work, instances, deadline, **({"arrived": arrived} if arrived is not None else {}))
            self._queue(key).put_nowait(pending)
            return await pending.done
        finally:
            self.waiting[key] -= len(instances)

    def admit(self, key: str, rows: int = 1) -> None:
        """Raise Overloaded when ``rows`` more would wait too long or too many; cheap enough to
        call before a request's body is even read."""
        waiting = self.waiting.get(key, 0)
        if waiting and (waiting + rows > self.max_queue or waiting * self.seconds_per_row.get(key, 0.0) > self.max_wait
                        or (key in self.limits and waiting + rows > self.limits[key].rows)):
            raise Overloaded(f"{key} is at capacity ({waiting} rows waiting); retry shortly", "queue_full")

    def _adapt(self, key: str, oldest: float, rows: int) -> None:
        """After a batch of ``rows``: its oldest request arrived at ``oldest``."""
        if self.latency_target <= 0:
            return
        now = time.monotonic()
        limit = self.limits.setdefault(key, _Limit(float(max(self.max_size, 1))))
        if now - oldest > self.latency_target:
            if now - limit.cut_at > self.latency_target:
                limit.rows, limit.cut_at = max(1.0, limit.rows * 0.8), now
        elif now - oldest < self.latency_target / 2 and self.waiting.get(key, 0) + rows >= limit.rows / 2:
            limit.rows = min(float(self.max_queue), limit.rows + 1)  # between half the target and the target it holds

    def _check(self, key: str, deadline: float) -> None:
        if time.monotonic() > deadline:
            raise Overloaded(f"{key}: the request's deadline passed before the model ran", "deadline")

    def _counted(self, key: str, work: Work) -> Work:
        def run(pipeline: Any, instances: list[Any]) -> list[Any]:
            if self.on_batch:
                self.on_batch(key, len(instances))
            started = time.thread_time()  # the work's own CPU time: waiting for the GIL under load must not inflate it
            results = work(pipeline, instances)
            per_row = (time.thread_time() - started) / max(len(instances), 1)
            previous = self.seconds_per_row.get(key)
            self.seconds_per_row[key] = per_row if previous is None else 0.8 * previous + 0.2 * per_row
            return results

        return run

    def _queue(self, key: str) -> asyncio.Queue[_Pending]:
        loop = asyncio.get_running_loop()
        worker = self._workers.get(key)
        if worker is None or worker.done() or worker.get_loop() is not loop:
            self._queues[key] = asyncio.Queue()
            self._workers[key] = loop.create_task(self._serve(key, self._queues[key]), name=f"batcher {key}")
        return self._queues[key]

    async def _serve(self, key: str, queue: asyncio.Queue[_Pending]) -> None:
        while True:
            batch = [await queue.get()]
            size = len(batch[0].instances)
            while size < self.max_size and not queue.empty():
                batch.append(queue.get_nowait())
                size += len(batch[-1].instances)
            now = time.monotonic()
            for late in [p for p in batch if p.deadline < now or now - p.admitted > self.max_wait]:
                batch.remove(late)
                if not late.done.done():
                    why = "the request's deadline passed" if late.deadline < now else f"it waited over {self.max_wait:g} s"
                    late.done.set_exception(Overloaded(f"{key}: {why} before the model ran; retry shortly", "deadline"))
            # One model call per (version, kind of work); a promote between requests splits the batch.
            groups: dict[tuple[int, Work], list[_Pending]] = {}
            for pending in batch:
                groups.setdefault((id(pending.pipeline), pending.work), []).append(pending)
            for group in groups.values():
                await self._answer(key, group)

    async def _answer(self, key: str, group: list[_Pending]) -> None:
        first = group[0]
        instances = [instance for pending in group for instance in pending.instances]
        try:
            results = await run_in_threadpool(self._counted(key, first.work), first.pipeline, instances)
        except Exception:
            if len(group) == 1:
                return await self._answer_alone(first)
            for pending in group:
                await self._answer_alone(pending)
            return
        self._adapt(key, min(p.arrived for p in group), len(instances))
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


class Shed:
    """ASGI middleware: refuse a task's predict and explain requests from the path alone
    while the task is at capacity, before keys, routing or the body cost anything."""

    def __init__(self, app: Any, batcher: Batcher, on_shed: Callable[[str], None] | None = None) -> None:
        self.app, self.batcher, self.on_shed = app, batcher, on_shed

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            parts = scope["path"].strip("/").split("/")
            if len(parts) == 4 and parts[0] == "v1" and parts[3] in ("predict", "explain"):
                task = f"{parts[1]}/{parts[2]}"
                try:
                    self.batcher.admit(task)
                except Overloaded as exc:
                    if self.on_shed:
                        self.on_shed(task)
                    from starlette.responses import JSONResponse

                    return await JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "1"})(scope, receive, send)
        await self.app(scope, receive, send)
