"""Joining a Ray cluster (Ray is imported here: reach this module through ``aiaas.records.resolve``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aiaas.distributed.plan import RayPlan
from aiaas.errors import UserError

def connect(address: str | None, plan: RayPlan | None = None) -> None:
    """Join the cluster at ``address`` (``auto``: the one this node belongs to), or start a local
    Ray. The ``AIAAS_`` settings travel to every worker, so all of them read the same registry and
    artifact store. A local Ray counts CPUs enough for the plan's workers and, beside them, the Ray
    Data tasks that read and encode for them: with none left over, training would wait for rows forever."""
    import ray

    if ray.is_initialized():
        return
    env = {k: v for k, v in os.environ.items() if k.startswith(("AIAAS_", "OMP_NUM_THREADS"))}
    if "AIAAS_HOME" in env:
        env["AIAAS_HOME"] = str(Path(env["AIAAS_HOME"]).resolve())  # a worker's working folder is not the driver's
    try:
        local = {"num_cpus": max(os.cpu_count() or 1, int(plan.workers * plan.cpus_per_worker) + 1)} if plan and not address else {}
        ray.init(address=address, runtime_env={"env_vars": env}, include_dashboard=False, log_to_driver=False,
                 logging_level="ERROR", **local)
    except ConnectionError as exc:
        raise UserError(f"no Ray cluster answers at {address}: {exc}") from None


def cpus() -> int:
    """The cluster's CPUs, for how many files to read at once."""
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))


@contextmanager
def user_errors() -> Iterator[None]:
    """A ``UserError`` raised on a worker (a Ray task's, an actor's, a Ray Train worker's) reaches the CLI
    as itself: one line, not the worker's traceback."""
    from ray.exceptions import RayTaskError
    from ray.train import TrainingFailedError

    try:
        yield
    except (RayTaskError, TrainingFailedError) as exc:
        # the worker's own exception: Ray's wrapper also derives from its class, but prints the remote traceback
        cause = next((c for c in _causes(exc) if isinstance(c, UserError) and not isinstance(c, RayTaskError)), None)
        if cause is not None:
            raise cause from None
        raise


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it wraps: causes, contexts and Ray Train's per-worker failures."""
    seen: list[BaseException] = []
    stack = [exc]
    while stack and len(seen) < 20:
        current = stack.pop()
        seen.append(current)
        nested = [getattr(current, attr, None) for attr in ("cause", "__cause__", "__context__")]
        nested += list((getattr(current, "worker_failures", None) or {}).values())
        stack += [n for n in nested if isinstance(n, BaseException) and n not in seen]
    return seen
