"""Ray Serve serving the fraud MLP (``torch_fraud``) with ``@serve.batch``: 32 requests or 2 ms.

    MODEL_DIR=... PORT=... python peers/rayserve_app.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ray import serve  # noqa: E402
from starlette.requests import Request  # noqa: E402


@serve.deployment(num_replicas=1, max_ongoing_requests=256)
class Fraud:
    def __init__(self) -> None:
        from torch_fraud import load

        self.model, self.columns = load()

    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.002)
    async def score(self, txs: list[dict]) -> list[dict]:
        from torch_fraud import probabilities

        return [{"fraud_probability": p} for p in probabilities(self.model, self.columns, txs)]

    async def __call__(self, request: Request) -> dict:
        return await self.score(await request.json())


if __name__ == "__main__":
    import ray

    ray.init(num_cpus=1, include_dashboard=False, runtime_env={"env_vars": {"MODEL_DIR": os.environ["MODEL_DIR"],
                                                                           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}})
    serve.start(http_options={"host": "127.0.0.1", "port": int(os.environ["PORT"])})
    serve.run(Fraud.bind(), route_prefix="/predict")
    print("ready", flush=True)
    while True:
        time.sleep(3600)
