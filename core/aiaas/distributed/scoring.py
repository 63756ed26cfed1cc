"""``aiaas predict --ray``: the input's parts (its files, or the parts of a source read in parts)
scored in a Ray Data actor pool, each actor holding the version once.

Each part is read through the task's adapter on the actor's node and each of its chunks becomes one
partition, ``part-<part>-<chunk>.parquet``, written under a temporary name and renamed
(``aiaas.scoring.write_partition``). A worker that dies has its part handed to another actor (Ray
Data retries it); the partitions it had finished are skipped, so no row is written twice or lost.
Every partition takes the column types of one probe answer scored on the driver, so the folder
reads back as one table.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from aiaas.distributed.plan import RayPlan
from aiaas.scoring import Scored

PROBE_ROWS = 64
TESTING_DELAY = "AIAAS_TESTING_PARTITION_DELAY"
"""Seconds an actor waits after each partition: lets a test kill it between two (never set outside tests)."""


class ScoreParts:
    """One actor of the pool: a version loaded once, parts scored into partitions."""

    def __init__(self, task: str, version: int, target: str, schema: Any, label: str | None, adapter: str | None,
                 options: dict[str, Any], batch_rows: int) -> None:
        from aiaas.plugins import get_host
        from aiaas.registry import Registry
        from aiaas.versions import load_version

        self.pipeline = load_version(get_host(), Registry.from_settings(), task, version)
        self.task, self.target, self.schema = task, Path(target), schema
        self.label, self.adapter, self.options, self.batch_rows = label, adapter, options, batch_rows
        self.delay = float(os.environ.get(TESTING_DELAY, "0") or 0)

    def __call__(self, batch: dict[str, np.ndarray]) -> Iterator[dict[str, np.ndarray]]:
        from aiaas.dataplane.chunks import Part
        from aiaas.distributed.passes import read_part
        from aiaas.scoring import score_partition

        for source, i, n, index in zip(batch["source"], batch["i"], batch["n"], batch["index"]):
            chunks = read_part(self.task, Part(str(source), int(i), int(n)), self.label, self.adapter, self.options, self.batch_rows,
                               labelled=False)
            for part, chunk in enumerate(chunks):
                done, _ = score_partition(self.pipeline, chunk.records, self.target / f"part-{int(index):05d}-{part:05d}.parquet", self.schema)
                time.sleep(self.delay)
                yield {"rows": np.array([done.rows]), "flagged": np.array([done.flagged]), "refused": np.array([done.refused]),
                       "resumed": np.array([done.resumed])}


def score_on_cluster(task: str, source: Path, target: Path, version: int | None, adapter: str | None, options: dict[str, Any],
                     batch_rows: int, plan: RayPlan) -> Scored:
    from aiaas.dataplane.chunks import chunks_of, parts_of
    from aiaas.distributed.cluster import connect, user_errors
    from aiaas.distributed.data import listing
    from aiaas.plugins import get_host
    from aiaas.registry import Registry
    from aiaas.scoring import claim_folder, partition_schema, score_records
    from aiaas.versions import load_version

    plan.check()
    host = get_host()
    pipeline = load_version(host, Registry.from_settings(), task, version)  # the driver scores a probe: every partition's column types
    label = pipeline.manifest.get("label_column")
    parts = parts_of(host, task, source, adapter)
    probe = next(iter(chunks_of(host, task, Path(parts[0].source), label, adapter, options, PROBE_ROWS, labelled=False)), None)
    claim_folder(target, {"task": task, "version": pipeline.version, "input": str(source), "batch_rows": batch_rows, "ray": True})
    if probe is None:
        return Scored(0, 0, 0)
    schema = partition_schema(score_records(pipeline, probe.records))
    connect(plan.address, plan)
    scored = listing(parts, index=list(range(len(parts)))).map_batches(
        ScoreParts, batch_size=1, concurrency=plan.workers, num_cpus=plan.cpus_per_worker,
        **({"num_gpus": plan.gpus_per_worker} if plan.gpus_per_worker else {}),
        fn_constructor_kwargs={"task": task, "version": pipeline.version, "target": str(target), "schema": schema, "label": label,
                               "adapter": adapter, "options": options, "batch_rows": batch_rows})
    total = {"rows": 0, "flagged": 0, "refused": 0, "resumed": 0}
    with user_errors():
        for batch in scored.iter_batches(batch_size=None, batch_format="numpy"):
            for key in total:
                total[key] += int(batch[key].sum())
    return Scored(**total)
