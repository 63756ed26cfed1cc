"""A regularised logistic regression on a table's encoded features: the plain, strong
baseline small tables are often best served by. Its strength is chosen on validation
(or fixed by ``C``, as cross-validation refits it), and a prediction's reasons are exact:
each feature's value times its weight."""

from __future__ import annotations

from typing import Any

import numpy as np

from aiaas.classical.base import Estimator, Selection
from aiaas.classical.linear import fit_linear, linear_logits, strengths_of
from aiaas.errors import UserError
from aiaas.runtimes.base import Arrays, FitConfig, ModelSpec


class Logistic(Estimator):
    explanation_method = "linear-weights"

    def fit(self, train: tuple[Arrays, np.ndarray, np.ndarray], validation: tuple[Arrays, np.ndarray],
            config: FitConfig, selection: Selection) -> list[dict[str, float]]:
        self.arrays, history = fit_linear(train[0]["features"], train[1], train[2], validation[0]["features"], self.spec.kind,
                                          self.spec.outputs, selection, strengths_of(self.params))
        return history

    def logits(self, inputs: Arrays) -> np.ndarray:
        return linear_logits(inputs["features"], self.arrays)

    def contributions(self, inputs: Arrays) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(inputs["features"], dtype="float64")
        coef, intercept = self.arrays["coef"].astype("float64"), self.arrays["intercept"].astype("float64")
        return x[:, None, :] * coef[None, :, :], np.broadcast_to(intercept, (len(x), len(intercept))).copy()


def build(spec: ModelSpec, params: dict[str, Any]) -> Logistic:
    if spec.kind not in ("binary", "multiclass"):
        raise UserError(f"logistic regression answers binary and multiclass tasks, not {spec.kind} ones")
    return Logistic(spec, params)
