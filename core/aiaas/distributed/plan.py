"""The shape of a run on a Ray cluster (``--ray`` and its options); Ray is not imported here."""

from __future__ import annotations

import importlib.util
import re
import secrets
import time
from dataclasses import dataclass

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


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)
