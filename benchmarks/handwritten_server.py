"""What a team writes by hand instead of aiaas: a FastAPI endpoint that parses a transaction,
encodes it and runs one torch forward per request (``torch_fraud``). ``/floor`` parses and
answers without a model: the HTTP floor. Both take any JSON object, so a domain team's
own columns (``--columns``) cost them their parse too. Run by ``serving_throughput.py``:

    MODEL_DIR=... uvicorn handwritten_server:app --http httptools --loop uvloop
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from torch_fraud import load, probabilities

model, columns = load()
app = FastAPI()


@app.post("/floor")
def floor(tx: dict[str, Any]) -> dict:
    return {"ok": True, "amount": tx.get("amount")}


@app.post("/predict")
def predict(tx: dict[str, Any]) -> dict:
    return {"fraud_probability": probabilities(model, columns, [tx])[0]}
