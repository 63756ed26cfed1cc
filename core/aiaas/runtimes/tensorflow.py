"""TensorFlow/Keras runtime: models saved as ``.keras`` and loaded in safe mode."""

from __future__ import annotations

import os
import weakref
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from aiaas.runtimes.coexistence import before_tensorflow  # noqa: E402

before_tensorflow()

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
import numpy as np  # noqa: E402

from aiaas.records import Architecture  # noqa: E402
from aiaas.runtimes.base import Arrays, FitConfig, ModelRuntime, ModelSpec, Trainer, batches, build_with  # noqa: E402

MODEL_FILE = "model.keras"


class ScoredStepsLoss(keras.losses.Loss):
    """Binary cross-entropy over the scored steps of sequence targets (-1 marks the rest);
    the batch's mean is per scored step, however the steps fall across sequences."""

    def call(self, y_true: Any, y_pred: Any) -> Any:
        scored = keras.ops.cast(y_true >= 0, "float32")
        target = keras.ops.maximum(keras.ops.cast(y_true, "float32"), 0.0)
        steps = keras.ops.maximum(y_pred, 0) - y_pred * target + keras.ops.log1p(keras.ops.exp(-keras.ops.abs(y_pred)))
        rows = keras.ops.cast(keras.ops.shape(y_true)[0], "float32")
        return keras.ops.sum(steps * scored, axis=-1) * rows / keras.ops.maximum(keras.ops.sum(scored), 1.0)


def loss_for(kind: str) -> keras.losses.Loss:
    if kind == "sequence":
        return ScoredStepsLoss()
    if kind in ("binary", "multilabel"):
        return keras.losses.BinaryCrossentropy(from_logits=True)
    if kind == "multiclass":
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return keras.losses.MeanSquaredError()


class KerasTrainer(Trainer):
    def __init__(self, model: keras.Model, spec: ModelSpec, config: FitConfig) -> None:
        self.model, self.spec, self.config = model, spec, config
        model.compile(
            optimizer=keras.optimizers.AdamW(learning_rate=config.learning_rate, weight_decay=config.weight_decay),
            loss=loss_for(spec.kind),
        )

    def epoch(self, inputs: Arrays, targets: np.ndarray, weights: np.ndarray) -> float:
        y = targets.astype("float32").reshape(-1, 1) if self.spec.kind in ("binary", "regression") else targets
        history = self.model.fit(
            inputs, y, sample_weight=weights.astype("float32"), batch_size=self.config.batch_size,
            epochs=1, verbose=0, shuffle=True,
        )
        return float(history.history["loss"][-1])

    def snapshot(self) -> Any:
        return [w.copy() for w in self.model.get_weights()]

    def restore(self, snapshot: Any) -> None:
        self.model.set_weights(snapshot)


def as_arrays(variables: list[Any]) -> dict[str, np.ndarray]:
    """Keras variables (a model's, an optimiser's) as numbered numpy arrays: what a safetensors checkpoint holds."""
    return {f"{i:04d}": np.asarray(v.numpy()) for i, v in enumerate(variables)}


def assign(variables: list[Any], arrays: dict[str, np.ndarray]) -> None:
    """The values ``as_arrays`` gave, back into the same variables."""
    for i, variable in enumerate(variables):
        variable.assign(arrays[f"{i:04d}"])


class KerasStepTrainer(Trainer):
    """Keras trained step by step under a ``tf.distribute`` strategy: data-parallel workers
    (``MultiWorkerMirroredStrategy``, which Keras 3's ``fit`` does not run under: keras-team/keras#20585).
    Each worker's batch is its share of the run's batch and its loss the batch's weighted mean over the
    workers, so the summed gradients are those of one machine's step. The model must be built in
    ``strategy.scope()``; every worker must take as many steps (equal shards, equal chunks)."""

    def __init__(self, model: keras.Model, spec: ModelSpec, config: FitConfig, strategy: Any) -> None:
        self.model, self.spec, self.strategy = model, spec, strategy
        workers = strategy.num_replicas_in_sync
        self.batch_size = max(1, config.batch_size // workers)
        with strategy.scope():
            self.optimizer = keras.optimizers.AdamW(learning_rate=config.learning_rate, weight_decay=config.weight_decay)
            self.optimizer.build(model.trainable_variables)
        loss = loss_for(spec.kind)
        loss.reduction = None
        self.generator = np.random.default_rng(config.seed)

        def replica(x: Any, y: Any, w: Any) -> Any:
            with tf.GradientTape() as tape:
                rows = loss(y, model(x, training=True))
                value = tf.reduce_sum(rows * w) / tf.maximum(tf.reduce_sum(w), 1e-12) / workers
            self.optimizer.apply_gradients(zip(tape.gradient(value, model.trainable_variables), model.trainable_variables))
            return value

        self._step = tf.function(lambda x, y, w: strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(replica, args=(x, y, w)), axis=None),
                                 reduce_retracing=True)

    def epoch(self, inputs: Arrays, targets: np.ndarray, weights: np.ndarray) -> float:
        y = targets.astype("float32").reshape(-1, 1) if self.spec.kind in ("binary", "regression") else targets
        order = self.generator.permutation(len(targets))
        total = 0.0
        for part in batches(len(targets), self.batch_size):
            index = order[part]
            loss = self._step({k: tf.constant(v[index]) for k, v in inputs.items()}, tf.constant(y[index]),
                              tf.constant(weights[index].astype("float32")))
            total += float(loss) * len(index)
        return total / max(len(targets), 1)

    def snapshot(self) -> Any:
        return [w.copy() for w in self.model.get_weights()]

    def restore(self, snapshot: Any) -> None:
        self.model.set_weights(snapshot)

    def state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The optimiser's variables and the shuffle's state, for a checkpoint without pickle."""
        return as_arrays(self.optimizer.variables), {"generator": self.generator.bit_generator.state}

    def load_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        assign(self.optimizer.variables, arrays)
        self.generator.bit_generator.state = meta["generator"]


class KerasRuntime(ModelRuntime):
    name = "tensorflow"

    def build(self, architecture: Architecture, spec: ModelSpec, params: dict[str, Any]) -> keras.Model:
        return build_with(architecture, spec, params)

    def seed(self, seed: int) -> None:
        keras.utils.set_random_seed(seed)

    def trainer(self, model: Any, spec: ModelSpec, config: FitConfig) -> Trainer:
        return KerasTrainer(model, spec, config)

    def __init__(self) -> None:
        self._compiled: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()

    def predict_logits(self, model: Any, inputs: Arrays) -> np.ndarray:
        # A traced graph answers a small batch about five times faster than an eager call.
        forward = self._compiled.get(model)
        if forward is None:
            forward = self._compiled[model] = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
        n = len(next(iter(inputs.values())))
        outs = [np.asarray(forward({k: v[part] for k, v in inputs.items()})) for part in batches(n, 8192)]
        return np.concatenate(outs) if outs else np.zeros((0, 1), dtype=np.float32)

    def export_onnx(self, model: Any, sample: Arrays, path: Path) -> None:
        """Through Keras's own exporter (tf2onnx); its first output is renamed ``logits``."""
        from aiaas.errors import UserError

        try:
            model({k: v[:2] for k, v in sample.items()})  # a loaded model has its input signature once called
            model.export(str(path), format="onnx", verbose=False)
        except Exception as exc:  # noqa: BLE001 - the converter is missing or does not cover a layer
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise UserError(f"Keras could not export this model to ONNX ({reason}); Keras's converter needs tf2onnx "
                            "(pip install 'aiaas[onnx]') and covers common layers only. Torch versions always export.") from exc
        import onnx

        graph = onnx.load(str(path))
        first = graph.graph.output[0].name
        for node in graph.graph.node:
            node.output[:] = ["logits" if o == first else o for o in node.output]
        graph.graph.output[0].name = "logits"
        onnx.save(graph, str(path))

    def save(self, model: Any, directory: Path) -> None:
        model.save(directory / MODEL_FILE)

    def load(self, directory: Path, architecture: Architecture, spec: ModelSpec, params: dict[str, Any]) -> Any:
        # safe_mode refuses lambda layers and other deserialised code; the builder's module is
        # imported first so the custom layers it registers (keras.saving.register_keras_serializable) load.
        from aiaas.records import resolve

        resolve(architecture.builder)
        return keras.saving.load_model(directory / MODEL_FILE, compile=False, safe_mode=True)
