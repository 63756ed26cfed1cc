"""A regularised MLP on Keras (outputs logits; the runtime adds the activation)."""

from __future__ import annotations

from typing import Any

import keras

from aiaas.runtimes.base import ModelSpec


def build(spec: ModelSpec, params: dict[str, Any]) -> keras.Model:
    inputs = keras.Input(shape=spec.inputs["features"], name="features")
    x = inputs
    for width in params.get("hidden", [64, 32]):
        x = keras.layers.Dense(width, activation="relu")(x)
        x = keras.layers.Dropout(params.get("dropout", 0.2))(x)
    outputs = keras.layers.Dense(spec.outputs, name="logits")(x)
    return keras.Model({"features": inputs}, outputs, name="tabular_mlp")
