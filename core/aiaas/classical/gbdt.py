"""Gradient-boosted trees (LightGBM) on the tabular preprocessor's features.

Class weights as the neural models have them; early stopping on the validation
split's loss; the booster saved in LightGBM's own text format (``model.txt``).
Explanations are the booster's exact TreeSHAP contributions, one call per batch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from aiaas.classical.base import Estimator, Selection
from aiaas.dataplane.spill import Spill
from aiaas.runtimes.base import Arrays, FitConfig, ModelSpec

BOOSTER = "model.txt"
DEFAULTS = {"num_leaves": 31, "learning_rate": 0.03, "rounds": 3000, "min_child_samples": 20, "feature_fraction": 0.8,
            "bagging_fraction": 0.8, "lambda_l2": 1.0, "early_stopping": 100}


class GradientBoostedTrees(Estimator):
    streams = True
    """Trains from a spill on disk (out of core): LightGBM builds its binned rows from it in batches."""

    def __init__(self, spec: ModelSpec, params: dict[str, Any]) -> None:
        super().__init__(spec, {**DEFAULTS, **params})
        self.booster: Any = None
        self.notes: list[str] = []
        self.cluster: dict[str, Any] = {}
        """LightGBM's network settings when it trains data-parallel across workers (``aiaas.distributed.fit``)."""
        self.resume_from: str | None = None
        """A booster (LightGBM's text format) that training goes on from."""
        self.callbacks: list[Any] = []

    def _objective(self) -> dict[str, Any]:
        kind = self.spec.kind
        if kind == "binary":
            return {"objective": "binary"}
        if kind == "multiclass":
            return {"objective": "multiclass", "num_class": self.spec.outputs}
        if kind == "regression":
            return {"objective": "regression"}
        raise ValueError(f"gradient-boosted trees do not learn {kind} labels")

    def fit(self, train: tuple[Arrays, np.ndarray, np.ndarray], validation: tuple[Arrays, np.ndarray],
            config: FitConfig, selection: Selection) -> list[dict[str, float]]:
        import logging

        import lightgbm as lgb

        lgb.register_logger(logging.getLogger("lightgbm"))  # its C++ warnings to Python's log (stderr), never into --json's stdout

        (y, w), (x_val, y_val) = train[1:], (validation[0]["features"], validation[1])
        binning: dict[str, Any] = {}
        if isinstance(train[0], Spill):
            train_set, binning = self._from_spill(train[0], y, w)
        else:
            train_set = lgb.Dataset(train[0]["features"], y, weight=w, free_raw_data=True)
        p = self.params
        settings = {**self._objective(), "num_leaves": int(p["num_leaves"]), "learning_rate": float(p["learning_rate"]),
                    "min_child_samples": int(p["min_child_samples"]), "feature_fraction": float(p["feature_fraction"]),
                    "bagging_fraction": float(p["bagging_fraction"]), "bagging_freq": 1, "lambda_l2": float(p["lambda_l2"]),
                    "seed": config.seed, "deterministic": True, "num_threads": 0, "verbosity": -1}
        history: list[dict[str, float]] = []
        settings.update(binning)
        settings.update(self.cluster)

        def record(env: Any) -> None:  # the boosting curve the report draws: both losses every 10 rounds
            if env.iteration % 10 == 0:
                losses = {name: float(value) for name, _, value, _ in env.evaluation_result_list}
                history.append({"round": env.iteration, "training_loss": losses.get("training", float("nan")),
                                "validation_loss": losses["validation"]})
                if env.iteration % 50 == 0:
                    selection.report(f"round {env.iteration}  validation loss {losses['validation']:.4f}")

        val_set = lgb.Dataset(x_val, y_val, reference=train_set, params={**binning, "verbosity": -1})
        start = lgb.Booster(model_str=self.resume_from) if self.resume_from else None
        done = start.current_iteration() if start is not None else 0
        self.booster = lgb.train(settings, train_set, num_boost_round=max(int(p["rounds"]) - done, 1), valid_sets=[train_set, val_set],
                                 valid_names=["training", "validation"],
                                 init_model=start,
                                 callbacks=[lgb.early_stopping(int(p["early_stopping"]), verbose=False), record, *self.callbacks])
        score = selection.score(self.logits(validation[0]))
        history.append({"round": self.booster.best_iteration, "validation": score})
        return history

    def _from_spill(self, spill: Spill, y: np.ndarray, w: np.ndarray) -> tuple[Any, dict[str, Any]]:
        """LightGBM's binned dataset built from the spill in batches (a byte or two per feature per row,
        where the encoded rows take four per feature): every row, or every n-th where even that would
        pass the run's memory bound, which the notes then say."""
        import lightgbm as lgb

        width = int(np.prod(spill.layout["features"][1]))
        stride = spill.stride(1.5 * width + 16)
        if stride > 1:
            self.notes.append(f"gbdt binned every {stride}th of {spill.rows:,} training rows to stay within the memory bound")
        # LightGBM places the bins from a sample of rows it holds as float64: as many as a fifth of the bound allows
        binning = int(np.clip((spill.memory or 2**40) / (5 * 8 * width), 10_000, 200_000))
        settings = {"bin_construct_sample_cnt": binning}
        return lgb.Dataset(spill.sequence("features", spill.chunk_rows, stride), label=y[::stride], weight=w[::stride],
                           params={**settings, "verbosity": -1}, free_raw_data=True), settings

    def logits(self, inputs: Arrays) -> np.ndarray:
        raw = self.booster.predict(inputs["features"], raw_score=True, num_iteration=self.booster.best_iteration or None)
        return np.asarray(raw, dtype="float32").reshape(len(inputs["features"]), -1)

    def contributions(self, inputs: Arrays) -> tuple[np.ndarray, np.ndarray]:
        x = inputs["features"]
        raw = np.asarray(self.booster.predict(x, pred_contrib=True, num_iteration=self.booster.best_iteration or None))
        per_output = raw.reshape(len(x), -1, x.shape[1] + 1)  # the last column of each output is the bias
        return per_output[:, :, :-1], per_output[:, :, -1]

    def save(self, directory: Path) -> None:
        self.booster.save_model(str(directory / BOOSTER), num_iteration=self.booster.best_iteration or None)

    def load(self, directory: Path) -> None:
        import lightgbm as lgb

        self.booster = lgb.Booster(model_file=str(directory / BOOSTER))


def build(spec: ModelSpec, params: dict[str, Any]) -> GradientBoostedTrees:
    return GradientBoostedTrees(spec, params)
