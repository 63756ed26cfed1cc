"""BentoML serving the fraud MLP (``torch_fraud``) with its adaptive batching, up to 32 rows.

    MODEL_DIR=... bentoml serve peers.bentoml_service:Fraud --port PORT   (from benchmarks/)

A batchable API takes a list and BentoML joins concurrent requests' lists: each request
sends ``{"txs": [transaction]}``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bentoml  # noqa: E402

from torch_fraud import load, probabilities  # noqa: E402


@bentoml.service(workers=1, resources={"cpu": "1"})
class Fraud:
    def __init__(self) -> None:
        self.model, self.columns = load()

    @bentoml.api(batchable=True, max_batch_size=32, max_latency_ms=1000)
    def predict(self, txs: list[dict[str, Any]]) -> list[dict[str, float]]:
        return [{"fraud_probability": p} for p in probabilities(self.model, self.columns, txs)]
