"""The serving batcher: concurrent requests share one model call; failures stay their own."""

from __future__ import annotations

import asyncio
import threading

import pytest

from aiaas.serving.batcher import Batcher


class Model:
    """Counts calls; the first call waits until released, so others queue up meanwhile."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []
        self.release = threading.Event()

    def work(self, pipeline: object, instances: list[int]) -> list[int]:
        self.calls.append(list(instances))
        if len(self.calls) == 1:
            self.release.wait(5)
        if -1 in instances:
            raise ValueError("bad instance")
        return [x * 10 for x in instances]


async def _concurrently(batcher: Batcher, model: Model, requests: list[list[int]]) -> list[object]:
    first = asyncio.create_task(batcher.run("t/t", "v1", model.work, requests[0]))
    while not model.calls:  # the first request is now inside the model
        await asyncio.sleep(0.001)
    rest = [asyncio.create_task(batcher.run("t/t", "v1", model.work, r)) for r in requests[1:]]
    await asyncio.sleep(0.01)
    model.release.set()
    return await asyncio.gather(first, *rest, return_exceptions=True)


def test_requests_arriving_during_a_batch_share_the_next_one() -> None:
    model, batcher = Model(), Batcher(max_size=100)
    results = asyncio.run(_concurrently(batcher, model, [[1], [2, 3], [4], [5]]))
    assert results == [[10], [20, 30], [40], [50]]
    assert model.calls == [[1], [2, 3, 4, 5]]


def test_batches_stop_at_the_size_limit() -> None:
    model, batcher = Model(), Batcher(max_size=3)
    results = asyncio.run(_concurrently(batcher, model, [[1], [2, 3], [4], [5]]))
    assert results == [[10], [20, 30], [40], [50]]
    assert model.calls == [[1], [2, 3, 4], [5]]


def test_one_bad_request_does_not_fail_its_batch_mates() -> None:
    model, batcher = Model(), Batcher(max_size=100)
    results = asyncio.run(_concurrently(batcher, model, [[1], [2], [-1], [4]]))
    assert results[:2] == [[10], [20]] and results[3] == [40]
    assert isinstance(results[2], ValueError)


def test_size_one_turns_batching_off() -> None:
    model, batcher = Model(), Batcher(max_size=1)
    model.release.set()
    assert asyncio.run(batcher.run("t/t", "v1", model.work, [7])) == [70]
    with pytest.raises(ValueError):
        asyncio.run(batcher.run("t/t", "v1", model.work, [-1]))


def test_a_request_that_waited_past_the_queue_limit_is_dropped_before_the_model() -> None:
    from aiaas.serving.batcher import Overloaded

    model, batcher = Model(), Batcher(max_size=100, max_wait=0.05)

    async def scenario() -> list[object]:
        first = asyncio.create_task(batcher.run("t/t", "v1", model.work, [1]))
        while not model.calls:
            await asyncio.sleep(0.001)
        queued = asyncio.create_task(batcher.run("t/t", "v1", model.work, [2]))
        await asyncio.sleep(0.15)  # the first batch holds the model past the second's limit
        model.release.set()
        return await asyncio.gather(first, queued, return_exceptions=True)

    first, queued = asyncio.run(scenario())
    assert first == [10] and model.calls == [[1]]
    assert isinstance(queued, Overloaded) and "waited over 0.05 s" in str(queued)
