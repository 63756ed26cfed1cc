"""Joining a Ray cluster, and the shape of a run on it."""

from __future__ import annotations

import importlib.util
import os
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiaas.errors import UserError

RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,80}$")


@dataclass(frozen=True)
class RayPlan:
    """``--ray`` and its options."""

    address: str | None = None
    workers: int = 1
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0
    resume: str | None = None
    """A run id: continue that run from its last checkpoints (``--resume``)."""
    max_failures: int = 3
    """Worker failures a training run survives (Ray Train's failure config)."""

    def check(self) -> None:
        if importlib.util.find_spec("ray") is None:
            raise UserError("--ray needs Ray: pip install 'aiaas[ray]'")
        if self.workers < 1:
            raise UserError("--workers must be at least 1")
        if self.cpus_per_worker <= 0 or self.gpus_per_worker < 0:
            raise UserError("--cpus-per-worker must be positive and --gpus-per-worker not negative")
        if self.resume is not None and not RUN_ID.match(self.resume):
            raise UserError(f"--resume {self.resume!r}: a run id is letters, digits, '-', '_' and '.'")

    def scaling(self) -> Any:
        from ray.train import ScalingConfig

        resources = {"CPU": self.cpus_per_worker, **({"GPU": self.gpus_per_worker} if self.gpus_per_worker else {})}
        return ScalingConfig(num_workers=self.workers, use_gpu=self.gpus_per_worker > 0, resources_per_worker=resources)


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


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
    """A ``UserError`` raised on a worker reaches the CLI as itself: one line, not the worker's traceback."""
    from ray.exceptions import RayTaskError

    try:
        yield
    except RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        while isinstance(cause, RayTaskError):
            cause = getattr(cause, "cause", None)
        if isinstance(cause, UserError):
            raise cause from None
        raise
