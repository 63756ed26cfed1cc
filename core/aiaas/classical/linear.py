"""A regularised logistic regression on a feature matrix (dense or sparse), its
strength chosen on the validation split; the weights are plain arrays."""

from __future__ import annotations

from typing import Any

import numpy as np

from aiaas.classical.base import Selection

STRENGTHS = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0)


def fit_linear(x: Any, y: np.ndarray, weights: np.ndarray, x_val: Any, kind: str, outputs: int, selection: Selection,
               strengths: tuple[float, ...] = STRENGTHS) -> tuple[dict[str, np.ndarray], list[dict[str, float]]]:
    """Weights ``{"coef": (outputs, features), "intercept": (outputs,)}`` with the best
    validation score over ``strengths`` (inverse L2 penalties), and the scores tried."""
    from sklearn.linear_model import LogisticRegression

    if kind not in ("binary", "multiclass"):
        raise ValueError(f"a linear classifier cannot learn {kind} labels")
    best: tuple[float, dict[str, np.ndarray], float] | None = None
    history = []
    for c in strengths:
        model = LogisticRegression(C=c, max_iter=2000).fit(x, y, sample_weight=weights)
        state = _weights(model, kind, outputs)
        score = selection.score(linear_logits(x_val, state))
        history.append({"C": c, "validation": score})
        selection.report(f"C={c:g}  validation {score:.4f}")
        if best is None or score > best[0] + 1e-9:
            best = (score, state, c)
    assert best is not None
    history.append({"chosen C": best[2], "validation": best[0]})
    return best[1], history


def strengths_of(params: dict[str, Any]) -> tuple[float, ...]:
    """The strengths to try: the one ``C`` a cross-validated refit fixes, else ``STRENGTHS``."""
    return (float(params["C"]),) if params.get("C") is not None else STRENGTHS


def linear_logits(x: Any, state: dict[str, np.ndarray]) -> np.ndarray:
    return np.asarray(x @ state["coef"].T, dtype="float32") + state["intercept"]


def _weights(model: Any, kind: str, outputs: int) -> dict[str, np.ndarray]:
    """sklearn's weights laid out as the task's outputs (a class absent from training never wins)."""
    coef, intercept = model.coef_.astype("float32"), model.intercept_.astype("float32")
    if kind == "binary":
        return {"coef": coef, "intercept": intercept}
    if coef.shape[0] == 1:  # sklearn folds two classes into one row
        coef, intercept = np.concatenate([-coef / 2, coef / 2]), np.concatenate([-intercept / 2, intercept / 2])
    full_coef = np.zeros((outputs, coef.shape[1]), dtype="float32")
    full_intercept = np.full(outputs, -30.0, dtype="float32")
    full_coef[model.classes_], full_intercept[model.classes_] = coef, intercept
    return {"coef": full_coef, "intercept": full_intercept}
