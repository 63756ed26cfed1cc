"""A cluster run's identity and where it keeps its checkpoints, so a driver that died can be followed
by another that goes on from them (``aiaas train --ray --resume RUN``)."""

from __future__ import annotations

import json
import sys
from typing import Any

from aiaas.distributed.plan import RayPlan, new_run_id
from aiaas.errors import UserError
from aiaas.state import json_safe

RUNS = "runs"


def storage() -> tuple[str, Any]:
    """Where cluster runs keep their checkpoints: the object store's ``runs/`` (``AIAAS_ARTIFACTS``), else
    ``AIAAS_HOME/runs``, which must then be storage every node reads. Ray's ``storage_path`` and filesystem."""
    from aiaas.settings import get_settings
    from aiaas.store import store_of

    settings = get_settings()
    store = store_of(settings.artifact_store)
    return store.storage(RUNS) if store is not None else (str((settings.home / RUNS).resolve()), None)


def _record(run: str, text: str | None = None) -> str | None:
    """Read (or, given ``text``, write) the request a run was started with, beside its checkpoints."""
    from aiaas.settings import get_settings
    from aiaas.store import store_of

    settings = get_settings()
    store = store_of(settings.artifact_store)
    relative = f"{RUNS}/{run}/request.json"
    if store is not None:
        if text is not None:
            store.write_text(relative, text)
        return store.read_text(relative)
    path = settings.home / relative
    if text is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return path.read_text() if path.is_file() else None


def start(plan: RayPlan, request: dict[str, Any]) -> str:
    """Join the cluster; return the run's id, new or (``--resume``) that of a run started with the same request."""
    from aiaas.distributed.cluster import connect

    plan.check()
    run = plan.resume or new_run_id()
    asked = json.loads(json.dumps(json_safe({k: v for k, v in request.items() if k != "run"}), sort_keys=True, default=str))
    if plan.resume is not None:
        record = _record(run)
        if record is None:
            raise UserError(f"--resume {run}: no such run under {storage()[0]}")
        before = json.loads(record)
        changed = sorted(k for k in {*before, *asked} if before.get(k) != asked.get(k))
        if changed:
            raise UserError(f"--resume {run}: that run trained something else ({', '.join(f'{k} was {before.get(k)!r}' for k in changed)}); "
                            "give the same task, data and options")
    else:
        _record(run, json.dumps(asked, sort_keys=True))
    connect(plan.address, plan)
    print(f"run {run} on Ray: if this process stops, the same command with --resume {run} goes on from its checkpoints",
          file=sys.stderr, flush=True)
    return run
