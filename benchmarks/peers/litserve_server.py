"""LitServe serving the fraud MLP (``torch_fraud``) with its own batching: 32 requests or 2 ms.

    MODEL_DIR=... PORT=... python peers/litserve_server.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import litserve as ls  # noqa: E402

from torch_fraud import load, probabilities  # noqa: E402


class Fraud(ls.LitAPI):
    def setup(self, device: str) -> None:
        self.model, self.columns = load()

    def decode_request(self, request: dict) -> dict:
        return request

    def batch(self, inputs: list[dict]) -> list[dict]:
        return inputs

    def predict(self, txs: list[dict]) -> list[float]:
        return probabilities(self.model, self.columns, txs)

    def unbatch(self, output: list[float]) -> list[float]:
        return output

    def encode_response(self, output: float) -> dict:
        return {"fraud_probability": output}


if __name__ == "__main__":
    server = ls.LitServer(Fraud(max_batch_size=32, batch_timeout=0.002), accelerator="cpu", workers_per_device=1)
    server.run(port=int(os.environ["PORT"]), generate_client_file=False)
