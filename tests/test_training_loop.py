"""The runtime-independent parts of training: early stopping, class weights."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from aiaas.runtimes.base import FitConfig, ModelSpec, Trainer
from aiaas.training import class_weights, fit_model, new_progress


class ScriptedRuntime:
    """A runtime whose validation quality follows a script, epoch by epoch."""

    def __init__(self, val_quality: list[float]) -> None:
        self.quality = val_quality
        self.epoch = 0
        self.restored: Any = None

    def trainer(self, model: Any, spec: ModelSpec, config: FitConfig) -> Trainer:
        runtime = self

        class Scripted(Trainer):
            def epoch(self, inputs: Any, targets: np.ndarray, weights: np.ndarray) -> float:
                runtime.epoch += 1
                return 1.0 / runtime.epoch

            def snapshot(self) -> Any:
                return f"weights after epoch {runtime.epoch}"

            def restore(self, snapshot: Any) -> None:
                runtime.restored = snapshot

        return Scripted()

    def predict_logits(self, model: Any, inputs: Any) -> np.ndarray:
        # Logits whose ROC-AUC against y is the scripted quality: rank a share of positives first.
        y = inputs["y"]
        q = self.quality[self.epoch - 1]
        noise = np.random.default_rng(self.epoch).random(len(y))
        return np.where(noise < q, y, 1 - y).astype("float32")[:, None] + noise[:, None] * 1e-3


def test_training_stops_early_and_keeps_the_best_epoch() -> None:
    y = np.array([0, 1] * 200)
    runtime = ScriptedRuntime([0.6, 0.9, 0.8, 0.7, 0.7, 0.95, 0.99])
    spec = ModelSpec({"y": (1,)}, 1, "binary")
    with new_progress(quiet=True) as progress:
        history = fit_model(runtime, None, spec, FitConfig(epochs=7), 3, ({"y": y}, y), ({"y": y}, y), "roc_auc", "binary", progress)
    assert [h["epoch"] for h in history] == [1, 2, 3, 4, 5]
    assert runtime.restored == "weights after epoch 2"
    assert max(history, key=lambda h: h["validation"])["epoch"] == 2


def test_class_weights_balance_a_rare_label() -> None:
    y = np.array([0] * 98 + [1] * 2)
    w = class_weights(y, "binary")
    assert w[y == 1].sum() == pytest.approx(w[y == 0].sum()) == pytest.approx(50)
    assert (class_weights(np.array([0.5, 1.2]), "regression") == 1).all()
