"""A third-party plugin adds a multiclass image task from core parts only (image data
sets, preprocessor, upload decoding, the classification answer, Grad-CAM) plus a
model builder: trained from a folder, then served by upload and explained."""

from __future__ import annotations

import base64
import io
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

import aiaas
from aiaas.registry import Registry
from aiaas.serving.app import create_app
from aiaas.settings import get_settings
from aiaas.testing import host_with
from aiaas.training import TrainRequest, train

pytestmark = pytest.mark.slow
DEFECTS = ("ok", "scratch", "spot")


def draw(kind: str, rng: np.random.Generator) -> np.ndarray:
    pixels = rng.normal(120, 12, (24, 24))
    if kind == "scratch":
        row = rng.integers(4, 20)
        pixels[row : row + 2, 3:21] += 90
    elif kind == "spot":
        y, x = rng.integers(5, 19, 2)
        pixels[y - 2 : y + 3, x - 2 : x + 3] -= 90
    return np.clip(pixels, 0, 255).astype(np.uint8)


def write_parts(out: Path, rows: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    for i in range(rows):
        kind = DEFECTS[i % 3]
        (out / kind).mkdir(parents=True, exist_ok=True)
        Image.fromarray(draw(kind, rng)).save(out / kind / f"part{i}.png")
    return out


def build_cnn(spec: aiaas.ModelSpec, params: dict[str, Any]) -> Any:
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU())
            self.head = nn.Sequential(nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(32, spec.outputs))

        def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
            return self.head(self.features(inputs["image"]))

    return Net()


def manufacturing_plugin() -> types.ModuleType:
    module = types.ModuleType("aiaas_manufacturing")
    module.AIAAS_API = ">=1.1,<2"  # type: ignore[attr-defined]
    schema = aiaas.LabelSchema("manufacturing.defects", "multiclass", tuple(aiaas.Label(d) for d in DEFECTS))
    task = aiaas.Task(
        name="manufacturing/defects", modality="image", labels="manufacturing.defects",
        input_model="aiaas.vision:ImageInstance", output_model="aiaas:Classification",
        preprocessor="image", postprocessor="classification", default_adapter="manufacturing.parts",
        default_architecture="cnn", explainer="grad-cam", metrics=("macro_f1", "accuracy"), sample=write_parts,
        decode="aiaas.vision:decode_instance", measure="aiaas.vision:instance_pixels", upload_field="image",
    )
    module.register_label_schemas = aiaas.hookimpl(lambda: [schema])
    module.register_tasks = aiaas.hookimpl(lambda: [task])
    module.register_data_adapters = aiaas.hookimpl(lambda: [aiaas.DataAdapter(
        name="manufacturing.parts", task="manufacturing/defects", load="aiaas.vision:load_plain_folder", suffixes=("/",))])
    module.register_architectures = aiaas.hookimpl(lambda: [aiaas.Architecture(
        name="cnn", task="manufacturing/defects", runtime="torch", builder=build_cnn,
        params={"learning_rate": 0.01, "batch_size": 32, "epochs": 12, "patience": 12})])
    return module


def test_a_multiclass_image_task_trains_serves_and_explains(aiaas_home: Path, tmp_path: Path) -> None:
    host = host_with("manufacturing", manufacturing_plugin())
    registry = Registry.from_settings()
    data = write_parts(tmp_path / "parts", 240, seed=0)
    result = train(host, registry, TrainRequest("manufacturing/defects", data, promote=True, force=True), quiet=True)
    assert result.metrics["accuracy"] > 0.8, result.metrics

    client = TestClient(create_app(host, registry, get_settings()))
    rng = np.random.default_rng(9)
    files = []
    for i, kind in enumerate(DEFECTS * 2):
        buffer = io.BytesIO()
        Image.fromarray(draw(kind, rng)).save(buffer, format="PNG")
        files.append(("files", (f"{kind}-{i}.png", buffer.getvalue(), "image/png")))
    answers = client.post("/v1/manufacturing/defects/predict", files=files)
    assert answers.status_code == 200, answers.text
    labels = [a["label"] for a in answers.json()["predictions"]]
    assert sum(label == kind for label, kind in zip(labels, DEFECTS * 2)) >= 5

    explained = client.post("/v1/manufacturing/defects/explain", files=files[1:2]).json()["explanations"][0]
    heat = np.asarray(Image.open(io.BytesIO(base64.b64decode(explained["heatmap"]["png_base64"]))))
    assert explained["label"] in DEFECTS and heat.shape == (24, 24)
    bad = client.post("/v1/manufacturing/defects/predict", json={"instances": [{"image": base64.b64encode(b"GIF89a...").decode()}]})
    assert bad.status_code == 415

    # Compressed: int8 ONNX (static quantisation: a convolutional model), served and still explained with a heatmap.
    from aiaas.optimize import optimize

    optimized = optimize(host, registry, "manufacturing/defects", result.version.version, quantize="int8", promote=True)
    assert optimized.comparison.agreement >= 0.9 and abs(optimized.comparison.after - optimized.comparison.before) < 0.05
    served = TestClient(create_app(host, registry, get_settings()))
    int8 = served.post("/v1/manufacturing/defects/predict", files=files).json()
    assert int8["model"] == {"task": "manufacturing/defects", "version": optimized.version.version, "runtime": "onnx", "architecture": "cnn"}
    assert sum(a["label"] == b for a, b in zip(int8["predictions"], labels)) >= 5
    assert all("input_check" in a for a in int8["predictions"])  # the embedding check reads the ONNX graph's own output
    heatmap = served.post("/v1/manufacturing/defects/explain", files=files[1:2]).json()["explanations"][0]["heatmap"]
    assert np.asarray(Image.open(io.BytesIO(base64.b64decode(heatmap["png_base64"])))).shape == (24, 24)  # from the source weights
