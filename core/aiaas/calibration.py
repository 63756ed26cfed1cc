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


def calibrated(logits: np.ndarray, kind: str, platt: dict[str, Any] | None) -> np.ndarray:
    if kind == "multiclass" and platt and "temperature" in platt:
        return activate(logits / platt["temperature"] + np.asarray(platt.get("shift", 0.0)), kind)
    if kind == "multilabel" and platt and "labels" in platt:
        a, b = (np.array([p[k] for p in platt["labels"]]) for k in ("a", "b"))
        return _sigmoid(a * logits + b)
    if kind == "sequence" and platt:
        return _sigmoid(platt["a"] * logits + platt["b"])
    if kind == "binary" and platt:
        return _sigmoid(platt["a"] * logits.reshape(len(logits), -1)[:, 0] + platt["b"])
    return activate(logits, kind)


def checked(kind: str, logits: np.ndarray, y: np.ndarray, folds: int = 2, seed: int = 0) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """``fit_calibration``, kept only when it lowers the validation calibration error measured out of fold
    (fitted on one half of validation, measured on the other, and the other way round): a calibration
    that makes already well calibrated probabilities worse (knowledge tracing's) is not applied.
    Returns the calibration (or None) and what was measured."""
    from aiaas.metrics import METRICS, observed

    fitted = fit_calibration(kind, logits, y)
    if fitted is None or kind not in ("binary", "sequence", "multiclass"):
        return fitted, {}
    flat_y, flat_logits = observed(y, logits) if kind == "sequence" else (y, logits)
    if len(np.unique(flat_y)) < 2 or len(flat_y) < 20 * folds:
        return fitted, {}
    part = np.random.default_rng(seed).permutation(len(flat_y)) % folds
    flat_kind = "binary" if kind == "sequence" else kind
    out_of_fold = np.zeros_like(activate(flat_logits, flat_kind), dtype="float64")
    for k in range(folds):
        inner = fit_calibration(flat_kind, flat_logits[part != k], flat_y[part != k])
        out_of_fold[part == k] = calibrated(flat_logits[part == k], flat_kind, inner)
    ece = METRICS["calibration_error"]
    before, after = ece(flat_y, activate(flat_logits, flat_kind), 0.5), ece(flat_y, out_of_fold, 0.5)
    kept = after <= before
    return (fitted if kept else None), {"validation_before": before, "validation_after": after, "kept": kept}


def with_prior(calibration: dict[str, Any] | None, kind: str, sample: np.ndarray, production: np.ndarray) -> dict[str, Any]:
    """The calibration with the prior shift from ``sample``'s label rates (those the calibrated probabilities
    reflect) to ``production``'s folded in: odds are multiplied by the ratio of the rates, which for a
    logistic output is an offset to its log-odds, and for a softmax an offset to each logit."""
    shift = np.log(np.maximum(production, 1e-12)) - np.log(np.maximum(sample, 1e-12))
    only = {} if calibration else {"prior_only": True}  # no calibration was kept: the shift alone
    if kind == "binary":
        base = calibration or {"a": 1.0, "b": 0.0}
        return {**base, **only, "b": float(base["b"] + shift[1] - shift[0]), "prior_shift": float(shift[1] - shift[0])}
    if kind == "multiclass":
        base = calibration or {"temperature": 1.0}
        return {**base, **only, "shift": [float(v) for v in shift]}
    raise ValueError(f"no prior shift for {kind} labels")


def choose_threshold(y: np.ndarray, p: np.ndarray, policy: OperatingPolicy, weights: np.ndarray | None = None) -> dict[str, Any]:
    """The operating point on validation data, with what it achieves there; ``weights`` count each row as
    production's label rates would (``base_rates.production_weights``)."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    if len(np.unique(y)) < 2:
        return {"threshold": 0.5, "policy": policy.objective, "note": "validation had one class"}
    w = np.ones(len(y)) if weights is None else weights
    if policy.objective == "max_f1":
        precision, recall, thresholds = precision_recall_curve(y, p, sample_weight=w)
        f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
        best = int(np.argmax(f1[:-1]))
        threshold = float(thresholds[best])
    else:
        fpr, tpr, thresholds = roc_curve(y, p, sample_weight=w)
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
    tp = float(w[predicted & (y == 1)].sum())
    fp = float(w[predicted & (y == 0)].sum())
    fn = float(w[~predicted & (y == 1)].sum())
    tn = float(w[~predicted & (y == 0)].sum())
    return {
        "threshold": threshold,
        "policy": policy.objective,
        "target": policy.target,
        "validation": {
            "precision": tp / max(tp + fp, 1e-12),
            "recall": tp / max(tp + fn, 1e-12),
            "false_positive_rate": fp / max(fp + tn, 1e-12),
        },
    }
