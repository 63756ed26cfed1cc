"""The tally pass on a cluster: one Ray task per part of the data (a file, or a part of a source read
in parts), merged on the driver in order."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiaas.dataplane.chunks import Part
    from aiaas.outofcore import Tally


def read_part(task: str, part: Part, label: str | None, adapter: str | None, options: dict[str, Any], batch_rows: int,
              labelled: bool = True) -> Any:
    """One part's chunks through the task's adapter, on whichever node runs this."""
    from aiaas.dataplane.chunks import chunks_of
    from aiaas.plugins import get_host

    return chunks_of(get_host(), task, Path(part.source), label, adapter, options, batch_rows, labelled, part.asked)


def _tally_part(empty: Tally, request: dict[str, Any], part: Part, batch_rows: int) -> Tally:
    tally = copy.deepcopy(empty)
    for chunk in read_part(request["task"], part, request["label"], request["adapter"], request["options"], batch_rows):
        tally.add(chunk)
    return tally


def tally_parts(parts: list[Part], request: Any, report: Callable[[int, bool], None]) -> Callable[[Tally, int], Tally]:
    """``outofcore.load_split``'s pass, each part tallied on the cluster. At most twice as many parts
    as the cluster has CPUs are in flight, and a tally is merged as soon as those before it are, so
    the driver holds a few samples at a time, never the data."""

    def run(empty: Tally, batch_rows: int) -> Tally:
        import ray

        from aiaas.distributed.cluster import cpus

        remote = ray.remote(_tally_part).options(num_cpus=1, max_retries=3)
        asked = {"task": request.task, "label": request.label, "adapter": request.adapter, "options": request.options}
        shared = ray.put(empty)
        window = 2 * cpus()
        pending: dict[Any, int] = {}
        done: dict[int, Tally] = {}
        merged, following = copy.deepcopy(empty), 0
        for index, part in enumerate(parts):
            pending[remote.remote(shared, asked, part, batch_rows)] = index
            while len(pending) >= window or (index == len(parts) - 1 and pending):
                ready, _ = ray.wait(list(pending), num_returns=1)
                done[pending.pop(ready[0])] = ray.get(ready[0])
                while following in done:  # in order: the samples keep the order one machine reads a table's rows in
                    merged.merge(done.pop(following))
                    following += 1
                    report(merged.rows, following == len(parts))
        return merged

    return run
