"""Server time of each console page with a busy registry: 100 versions of a task and a prediction log
of a million rows over the last day (the issue's aim: each page under 200 ms).

One small fraud model is trained; 99 more versions are registered beside it (rows that share its
files); the prediction log is filled with a million answers spread over 24 hours, 3% flagged. Each
page is then drawn in process (``TestClient``, no socket: the server's own time) a few times, and
the median is printed beside the aim.

    python benchmarks/console.py                 # 1,000,000 logged answers
    python benchmarks/console.py --rows 100000
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

AIM_MS = 200.0
TASK = "finance/fraud"


def fill(registry: object, rows: int, version: int) -> None:
    """``rows`` logged answers of ``version`` over the last 24 hours, inserted in bulk."""
    from sqlalchemy import insert
    from sqlalchemy.orm import Session

    from aiaas.monitoring.predictions import Prediction

    rng = np.random.default_rng(0)
    now = datetime.now(UTC)
    seconds = np.sort(rng.uniform(0, 86_400, rows))
    flagged = rng.random(rows) < 0.03
    with Session(registry.engine) as session:  # type: ignore[attr-defined]
        for start in range(0, rows, 20_000):
            batch = [{"id": uuid.uuid4().hex, "request_id": "bench", "task": TASK, "version": version, "key": None,
                      "at": now - timedelta(seconds=float(86_400 - seconds[i])), "fingerprint": f"{i:064x}",
                      "inputs": None,
                      "answer": {"fraud_probability": float(rng.random()), "decision": "approve",
                                 "input_check": {"in_distribution": not bool(flagged[i]), "novelty": float(rng.random())}}}
                     for i in range(start, min(start + 20_000, rows))]
            session.execute(insert(Prediction), batch)
            session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="logged answers")
    parser.add_argument("--versions", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from sqlalchemy.orm import Session

    from aiaas.plugins import get_host
    from aiaas.records import resolve
    from aiaas.registry import ModelVersion, Registry
    from aiaas.testing import isolated_home, ready_client
    from aiaas.training import TrainRequest, train

    with tempfile.TemporaryDirectory(prefix="aiaas-console-bench-") as tmp, isolated_home(Path(tmp)):
        host, registry = get_host(), Registry.from_settings()
        data = resolve(host.task(TASK).sample)(Path(tmp) / "data", 600, 0)
        first = train(host, registry, TrainRequest(TASK, data, architecture="gbdt", params={"rounds": 50}, promote=True), quiet=True)
        original = first.version  # the registered row
        with Session(registry.engine) as session:
            for n in range(2, args.versions + 1):
                session.add(ModelVersion(task=TASK, version=n, runtime=original.runtime, architecture=original.architecture,
                                         created_at=datetime.now(UTC), metrics=original.metrics, data_fingerprint=original.data_fingerprint,
                                         provenance=original.provenance, artifact_dir=original.artifact_dir))
            session.commit()
        client = ready_client(host, registry)  # the service makes its prediction log's table
        started = time.perf_counter()
        fill(registry, args.rows, original.version)
        client.app.state.predictions.backfill()  # the bulk load bypassed the log's writer, which keeps the minute counts
        print(f"{args.versions} versions of {TASK}; {args.rows:,} logged answers written in {time.perf_counter() - started:.0f} s")
        pages = {"overview": "/console/", f"task ({args.versions} versions)": f"/console/tasks/{TASK}", "try it": f"/console/tasks/{TASK}/try",
                 "monitor, last 15m": f"/console/tasks/{TASK}/monitor?window=15m",
                 "monitor, last 24h": f"/console/tasks/{TASK}/monitor?window=24h", "keys and audit": "/console/keys"}
        print(f"{'page':<22} {'median ms':>10} {'max ms':>9}  vs the {AIM_MS:.0f} ms aim")
        for name, path in pages.items():
            times = []
            for _ in range(args.repeat):
                began = time.perf_counter()
                response = client.get(path)
                times.append(1000 * (time.perf_counter() - began))
                assert response.status_code == 200, (path, response.status_code, response.text[:300])
            median = statistics.median(times)
            print(f"{name:<22} {median:>10.1f} {max(times):>9.1f}  x{median / AIM_MS:.2f} of the aim")


if __name__ == "__main__":
    main()
