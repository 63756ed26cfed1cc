"""What a team writes by hand instead of aiaas: a FastAPI endpoint that parses a transaction,
encodes it and runs one torch forward per request, on the same model's weights and the same
fitted encoding (read from the aiaas version folder in ``MODEL_DIR``). No input checks, no
reasons, no keys, no log, no metrics. ``/floor`` parses and answers without a model: the
HTTP floor. Run by ``serving_throughput.py``:

    MODEL_DIR=... uvicorn handwritten_server:app --http httptools --loop uvloop
"""

from __future__ import annotations

import json
import math
import os
from datetime import datetime
from pathlib import Path

import torch
from fastapi import FastAPI
from pydantic import BaseModel
from safetensors.torch import load_file

torch.set_num_threads(1)
folder = Path(os.environ["MODEL_DIR"])
columns = [c for c in json.loads((folder / "preprocessor.json").read_text())["columns"] if c["kind"] != "identifier"]
manifest = json.loads((folder / "manifest.json").read_text())
hidden = manifest["params"].get("hidden", [64, 32])
width = manifest["spec"]["inputs"]["features"][0]
layers: list[torch.nn.Module] = []
for size in hidden:  # the same network as the version's (Linear, ReLU, Dropout per hidden layer), written out
    layers += [torch.nn.Linear(width, size), torch.nn.ReLU(), torch.nn.Dropout(0.0)]
    width = size
model = torch.nn.Sequential(*layers, torch.nn.Linear(width, 1))
model.load_state_dict({k.removeprefix("net."): v for k, v in load_file(str(folder / "model.safetensors")).items()})
model.eval()


class Transaction(BaseModel):
    timestamp: datetime
    amount: float
    merchant_category: str
    channel: str
    country: str
    card_present: bool


def encode(tx: dict) -> list[float]:
    out: list[float] = []
    for c in columns:
        value = tx.get(c["name"])
        if c["kind"] in ("numeric", "log"):
            x = c["median"] if value is None else float(value)
            x = math.log1p(max(x, 0)) if c["kind"] == "log" else x
            out.append((x - c["mean"]) / c["std"])
        elif c["kind"] == "boolean":
            out.append(float(c["baseline"] if value is None else value))
        elif c["kind"] == "category":
            onehot = [0.0] * (len(c["categories"]) + 1)
            onehot[c["categories"].index(str(value)) if str(value) in c["categories"] else -1] = 1.0
            out.extend(onehot)
        elif c["kind"] == "datetime":
            hour = (value.hour + value.minute / 60) * 2 * math.pi / 24
            day = value.weekday() * 2 * math.pi / 7
            out.extend([math.sin(hour), math.cos(hour), math.sin(day), math.cos(day)])
    return out


app = FastAPI()


@app.post("/floor")
def floor(tx: Transaction) -> dict:
    return {"ok": True, "amount": tx.amount}


@app.post("/predict")
def predict(tx: Transaction) -> dict:
    with torch.inference_mode():
        logit = model(torch.tensor([encode(tx.model_dump())]))[0, 0].item()
    return {"fraud_probability": 1 / (1 + math.exp(-logit))}
