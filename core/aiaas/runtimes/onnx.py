"""ONNX Runtime: serves versions that ``aiaas optimize`` exported (and quantised), like any other.

The graph takes the model's named inputs and gives ``logits`` and, where the source model
had a last linear layer, ``embedding`` (its input), so input checks that read the model's
own features work without a second call. An ONNX file holds operators, not code: loading
one from someone else runs nothing of theirs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from aiaas.errors import UserError
from aiaas.records import Architecture
from aiaas.runtimes.base import Arrays, FitConfig, ModelRuntime, ModelSpec, Trainer, batches

MODEL = "model.onnx"


class OnnxModel:
    """A session and what it needs to be fed: each input's dtype."""

    def __init__(self, path: Path) -> None:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        threads = os.environ.get("OMP_NUM_THREADS")
        if threads and threads.isdigit():
            options.intra_op_num_threads = int(threads)
        self.session = ort.InferenceSession(str(path), options, providers=_providers())
        self.dtypes = {i.name: _NUMPY.get(i.type, np.float32) for i in self.session.get_inputs()}
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.size = path.stat().st_size

    def run(self, inputs: Arrays, outputs: list[str]) -> list[np.ndarray]:
        missing = sorted(set(self.dtypes) - set(inputs))
        if missing:
            raise UserError(f"the ONNX model needs the inputs {', '.join(missing)}")
        n = len(next(iter(inputs.values())))
        parts = [self.session.run(outputs, {name: np.ascontiguousarray(inputs[name][part], dtype=dtype) for name, dtype in self.dtypes.items()})
                 for part in batches(n, 8192)]
        return [np.concatenate([p[i] for p in parts]) for i in range(len(outputs))] if parts else [np.zeros((0, 1), np.float32)] * len(outputs)


_NUMPY = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64, "tensor(int32)": np.int32,
          "tensor(bool)": np.bool_, "tensor(float16)": np.float16, "tensor(uint8)": np.uint8}


def _providers() -> list[str]:
    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


class OnnxRuntime(ModelRuntime):
    name = "onnx"

    def _not_trained(self) -> UserError:
        return UserError("ONNX versions are made from a trained version with `aiaas optimize TASK VERSION --to onnx`, not trained")

    def seed(self, seed: int) -> None:
        pass

    def build(self, architecture: Architecture, spec: ModelSpec, params: dict[str, Any]) -> Any:
        raise self._not_trained()

    def trainer(self, model: Any, spec: ModelSpec, config: FitConfig) -> Trainer:
        raise self._not_trained()

    def predict_logits(self, model: OnnxModel, inputs: Arrays) -> np.ndarray:
        return model.run(inputs, ["logits"])[0].astype(np.float32, copy=False)

    def embed(self, model: OnnxModel, inputs: Arrays) -> tuple[np.ndarray, np.ndarray | None]:
        if "embedding" not in model.outputs:
            return self.predict_logits(model, inputs), None
        logits, embedding = model.run(inputs, ["logits", "embedding"])
        return logits.astype(np.float32, copy=False), embedding.reshape(len(embedding), -1)

    def save(self, model: OnnxModel, directory: Path) -> None:
        raise self._not_trained()

    def load(self, directory: Path, architecture: Architecture, spec: ModelSpec, params: dict[str, Any]) -> OnnxModel:
        return OnnxModel(directory / MODEL)

    def open(self, path: Path) -> OnnxModel:
        return OnnxModel(path)

    def convolutional(self, path: Path) -> bool:
        import onnx

        return any(node.op_type == "Conv" for node in onnx.load(str(path)).graph.node)

    def quantize_int8(self, path: Path, calibration: Arrays) -> Path:
        """int8 weights: static (activations calibrated on ``calibration`` inputs) for convolutional
        graphs, where int8 convolutions are what makes them fast; dynamic otherwise."""
        from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic, quantize_static

        out = path.with_name("model.int8.onnx")
        if not self.convolutional(path):
            with _quiet():
                # per channel, 7-bit range: fewer labels change (int8 products saturate on CPUs without VNNI)
                quantize_dynamic(str(path), str(out), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True)
            return out

        class Reader(CalibrationDataReader):
            def __init__(self) -> None:
                n = len(next(iter(calibration.values())))
                self.parts = iter([{k: np.ascontiguousarray(v[part]) for k, v in calibration.items()} for part in batches(n, 32)])

            def get_next(self) -> dict[str, np.ndarray] | None:
                return next(self.parts, None)

        with _quiet():
            quantize_static(str(path), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        return out


@contextmanager
def _quiet() -> Iterator[None]:
    """The quantiser's advice (run its pre-processing first) goes to the root logger as a warning."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)

    def device(self) -> str:
        return "cuda" if "CUDAExecutionProvider" in _providers() else "cpu"
