"""From logits to calibrated probabilities and an operating threshold.

Training with class weights inflates a rare class's raw probabilities, so binary
models (and per-step binary sequence models) get Platt scaling fitted on the
validation split (each label of a multilabel model its own), and multiclass models temperature scaling (one divisor of the
logits, so the ranking and the call stay the model's); the operating threshold is
then chosen on the calibrated validation probabilities by the task's policy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from aiaas.records import OperatingPolicy


def activate(logits: np.ndarray, kind: str) -> np.ndarray:
    """Binary: (n,) probability of the positive label; multiclass: (n, k) softmax;
    multilabel: (n, k) sigmoids; sequence: (n, steps) sigmoids; regression: (n,) values."""
    if kind == "binary":
        return _sigmoid(logits.reshape(len(logits), -1)[:, 0])
    if kind == "multiclass":
        shifted = logits - logits.max(axis=-1, keepdims=True)
        e = np.exp(shifted)
        return e / e.sum(axis=-1, keepdims=True)
    if kind in ("multilabel", "sequence"):
        return _sigmoid(logits)
    return logits.reshape(len(logits), -1)[:, 0]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -50, 50)))


def fit_platt(logits: np.ndarray, y: np.ndarray) -> dict[str, float] | None:
    """Platt scaling p = sigmoid(a * logit + b); None when validation has one class."""
    if len(np.unique(y)) < 2:
        return None
    from sklearn.linear_model import LogisticRegression

    x = logits.reshape(-1, 1).astype("float64")
    lr = LogisticRegression(C=1e4, max_iter=1000).fit(x, y)
    return {"a": float(lr.coef_[0, 0]), "b": float(lr.intercept_[0])}


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> dict[str, float] | None:
    """The temperature T minimising the validation log-loss of softmax(logits / T)."""
    from scipy.optimize import minimize_scalar

    if len(y) == 0 or logits.ndim != 2:
        return None
    z = logits.astype("float64")

    def loss(log_t: float) -> float:
        scaled = z / np.exp(log_t)
        scaled -= scaled.max(axis=1, keepdims=True)
        return float(-(scaled[np.arange(len(y)), y] - np.log(np.exp(scaled).sum(axis=1))).mean())

    best = minimize_scalar(loss, bounds=(-4.0, 4.0), method="bounded")
    return {"temperature": float(np.exp(best.x))}


def fit_calibration(kind: str, logits: np.ndarray, y: np.ndarray) -> dict[str, float] | None:
    """Platt scaling (binary, per-step sequence, and each label of a multilabel task), temperature
    scaling (multiclass); regression values are not probabilities and stay as they are."""
    from aiaas.metrics import observed

    if kind in ("binary", "sequence"):
        return fit_platt(*reversed(observed(y, logits)))
    if kind == "multilabel":
        return {"labels": [fit_platt(logits[:, j], y[:, j]) or {"a": 1.0, "b": 0.0} for j in range(logits.shape[1])]}
    if kind == "multiclass":
        return fit_temperature(logits, y)
    return None


def calibrated(logits: np.ndarray, kind: str, platt: dict[str, float] | None) -> np.ndarray:
    if kind == "multiclass" and platt and "temperature" in platt:
        return activate(logits / platt["temperature"], kind)
    if kind == "multilabel" and platt and "labels" in platt:
        a, b = (np.array([p[k] for p in platt["labels"]]) for k in ("a", "b"))
        return _sigmoid(a * logits + b)
    if kind == "sequence" and platt:
        return _sigmoid(platt["a"] * logits + platt["b"])
    if kind == "binary" and platt:
        return _sigmoid(platt["a"] * logits.reshape(len(logits), -1)[:, 0] + platt["b"])
    return activate(logits, kind)


def choose_threshold(y: np.ndarray, p: np.ndarray, policy: OperatingPolicy) -> dict[str, Any]:
    """The operating point on validation data, with what it achieves there."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    if len(np.unique(y)) < 2:
        return {"threshold": 0.5, "policy": policy.objective, "note": "validation had one class"}
    if policy.objective == "max_f1":
        precision, recall, thresholds = precision_recall_curve(y, p)
        f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
        best = int(np.argmax(f1[:-1]))
        threshold = float(thresholds[best])
    else:
        fpr, tpr, thresholds = roc_curve(y, p)
        finite = np.isfinite(thresholds)
        fpr, tpr, thresholds = fpr[finite], tpr[finite], thresholds[finite]
        target = policy.target if policy.target is not None else (0.95 if policy.objective == "sensitivity" else 0.01)
        if policy.objective == "sensitivity":
            ok = np.flatnonzero(tpr >= target)
            threshold = float(thresholds[ok[0]]) if len(ok) else float(thresholds[-1])
        else:
            ok = np.flatnonzero(fpr <= target)
            threshold = float(thresholds[ok[-1]]) if len(ok) else float(thresholds[0])
    predicted = p >= threshold
    tp = int((predicted & (y == 1)).sum())
    fp = int((predicted & (y == 0)).sum())
    fn = int((~predicted & (y == 1)).sum())
    tn = int((~predicted & (y == 0)).sum())
    return {
        "threshold": threshold,
        "policy": policy.objective,
        "target": policy.target,
        "validation": {
            "precision": tp / max(tp + fp, 1),
            "recall": tp / max(tp + fn, 1),
            "false_positive_rate": fp / max(fp + tn, 1),
        },
    }
