"""The ``classical`` runtime: models fitted in one call (scikit-learn, LightGBM), no
framework import. The builder returns an ``aiaas.classical.Estimator``; the core's
training loop hands it the whole training split instead of running epochs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from aiaas.classical.base import Estimator, Selection
from aiaas.records import Architecture
from aiaas.runtimes.base import Arrays, FitConfig, ModelRuntime, ModelSpec, Trainer, build_with


class ClassicalRuntime(ModelRuntime):
    name = "classical"

    def seed(self, seed: int) -> None:
        np.random.seed(seed)

    def build(self, architecture: Architecture, spec: ModelSpec, params: dict[str, Any]) -> Estimator:
        return build_with(architecture, spec, params)

    def trainer(self, model: Any, spec: ModelSpec, config: FitConfig) -> Trainer:
        raise TypeError("classical models are fitted whole: call fit")

    def fit(self, model: Estimator, train: tuple[Arrays, np.ndarray, np.ndarray], validation: tuple[Arrays, np.ndarray],
            config: FitConfig, selection: Selection) -> list[dict[str, float]]:
        return model.fit(train, validation, config, selection)

    def predict_logits(self, model: Estimator, inputs: Arrays) -> np.ndarray:
        return model.logits(inputs)

    def save(self, model: Estimator, directory: Path) -> None:
        model.save(directory)

    def load(self, directory: Path, architecture: Architecture, spec: ModelSpec, params: dict[str, Any]) -> Estimator:
        model = build_with(architecture, spec, params)
        model.load(directory)
        return model
