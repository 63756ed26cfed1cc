"""The PyTorch, TensorFlow/Keras, classical (scikit-learn, LightGBM) and ONNX Runtime runtimes,
imported only when a model needs them."""

from __future__ import annotations

from aiaas import hookimpl
from aiaas.records import Runtime


@hookimpl
def register_runtimes() -> list[Runtime]:
    return [
        Runtime(
            name="torch",
            impl="aiaas.runtimes.torch:TorchRuntime",
            requires=("torch", "safetensors"),
            description="PyTorch; CUDA when available. Weights as safetensors.",
        ),
        Runtime(
            name="tensorflow",
            impl="aiaas.runtimes.tensorflow:KerasRuntime",
            requires=("tensorflow", "keras"),
            description="TensorFlow/Keras 3. Models as .keras, loaded in safe mode.",
        ),
        Runtime(
            name="classical",
            impl="aiaas.runtimes.classical:ClassicalRuntime",
            requires=("sklearn", "lightgbm"),
            description="Models fitted in one call: gradient-boosted trees (LightGBM text format), linear models "
            "(JSON and safetensors). Exact explanations.",
        ),
        Runtime(
            name="onnx",
            impl="aiaas.runtimes.onnx:OnnxRuntime",
            requires=("onnxruntime",),
            description="ONNX Runtime: serves what `aiaas optimize` exported (and quantised to int8). Not trained directly.",
        ),
    ]
