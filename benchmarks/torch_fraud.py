"""The served fraud MLP, written out by hand from an aiaas version folder (``MODEL_DIR``): the same
weights and the same fitted encoding, for the hand-written endpoint and the peers
(LitServe, BentoML, Ray Serve) to serve side by side with aiaas. No input checks, no
reasons, no keys, no log, no metrics."""

from __future__ import annotations

import json
import math
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

torch.set_num_threads(1)


def load(folder: Path | None = None) -> tuple[torch.nn.Module, list[dict[str, Any]]]:
    """(the network in eval mode, its input columns' encoding)."""
    folder = folder or Path(os.environ["MODEL_DIR"])
    columns = [c for c in json.loads((folder / "preprocessor.json").read_text())["columns"] if c["kind"] != "identifier"]
    manifest = json.loads((folder / "manifest.json").read_text())
    width = manifest["spec"]["inputs"]["features"][0]
    layers: list[torch.nn.Module] = []
    for size in manifest["params"].get("hidden", [64, 32]):  # the version's network: Linear, ReLU, Dropout per hidden layer
        layers += [torch.nn.Linear(width, size), torch.nn.ReLU(), torch.nn.Dropout(0.0)]
        width = size
    model = torch.nn.Sequential(*layers, torch.nn.Linear(width, 1))
    model.load_state_dict({k.removeprefix("net."): v for k, v in load_file(str(folder / "model.safetensors")).items()})
    return model.eval(), columns


def encode(columns: list[dict[str, Any]], tx: dict[str, Any]) -> list[float]:
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
            value = datetime.fromisoformat(value) if isinstance(value, str) else value
            hour = (value.hour + value.minute / 60) * 2 * math.pi / 24
            day = value.weekday() * 2 * math.pi / 7
            out.extend([math.sin(hour), math.cos(hour), math.sin(day), math.cos(day)])
    return out


def probabilities(model: torch.nn.Module, columns: list[dict[str, Any]], txs: list[dict[str, Any]]) -> list[float]:
    """One forward for the batch: each transaction's fraud probability."""
    with torch.inference_mode():
        logits = model(torch.tensor([encode(columns, tx) for tx in txs]))[:, 0]
    return torch.sigmoid(logits).tolist()
