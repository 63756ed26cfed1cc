"""Metrics a task can name, computed with scikit-learn.

Each takes the true label indices, the probabilities (``calibration.activate``'s
shape) and the operating threshold (binary tasks); sequence targets are scored as
one binary problem over their scored steps (``observed``). Higher is better for every
metric used to pick the best epoch; ``LOWER_IS_BETTER`` lists the exceptions.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn import metrics as skm

MetricFn = Callable[[np.ndarray, np.ndarray, float], float]


def observed(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sequence targets ``(n, steps)`` with -1 where unscored -> the scored steps as one
    flat binary problem; other label kinds pass through."""
    if y.ndim != 2:
        return y, p
    width = min(y.shape[1], p.shape[1])
    if (y[:, width:] >= 0).any():
        raise ValueError(f"scored steps beyond the {width} predicted")
    y, p = y[:, :width], p[:, :width]
    mask = y >= 0
    return y[mask].astype(int), p[mask]


def _labels(p: np.ndarray, threshold: float) -> np.ndarray:
    return (p >= threshold).astype(int) if p.ndim == 1 else p.argmax(axis=1)


def _two_classes(fn: MetricFn) -> MetricFn:
    def wrapped(y: np.ndarray, p: np.ndarray, t: float) -> float:
        return float("nan") if len(np.unique(y)) < 2 else fn(y, p, t)

    return wrapped


def recall_at_fpr(target: float) -> MetricFn:
    def metric(y: np.ndarray, p: np.ndarray, _t: float) -> float:
        fpr, tpr, _ = skm.roc_curve(y, p)
        return float(np.interp(target, fpr, tpr))

    return _two_classes(metric)


def _calibration_error(y: np.ndarray, p: np.ndarray, _t: float, bins: int = 10) -> float:
    """Expected calibration error (equal-width bins): of the positive probability for a
    binary task, of the top label's probability for a multiclass one."""
    if p.ndim == 2:
        y, p = (p.argmax(axis=1) == y).astype(float), p.max(axis=1)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
    error = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            error += mask.mean() * abs(p[mask].mean() - y[mask].mean())
    return float(error)


METRICS: dict[str, MetricFn] = {
    "average_precision": _two_classes(lambda y, p, t: float(skm.average_precision_score(y, p))),
    "roc_auc": _two_classes(lambda y, p, t: float(skm.roc_auc_score(y, p) if p.ndim == 1 else skm.roc_auc_score(y, p, multi_class="ovr"))),
    "recall_at_1pct_fpr": recall_at_fpr(0.01),
    "precision": lambda y, p, t: float(skm.precision_score(y, _labels(p, t), zero_division=0)),
    "recall": lambda y, p, t: float(skm.recall_score(y, _labels(p, t), zero_division=0)),
    "sensitivity": lambda y, p, t: float(skm.recall_score(y, _labels(p, t), zero_division=0)),
    "specificity": lambda y, p, t: float(skm.recall_score(1 - y, 1 - _labels(p, t), zero_division=0)),
    "f1": lambda y, p, t: float(skm.f1_score(y, _labels(p, t), zero_division=0)),
    "accuracy": lambda y, p, t: float(skm.accuracy_score(y, _labels(p, t))),
    "balanced_accuracy": lambda y, p, t: float(skm.balanced_accuracy_score(y, _labels(p, t))),
    "macro_f1": lambda y, p, t: float(skm.f1_score(y, _labels(p, t), average="macro", zero_division=0)),
    "brier": lambda y, p, t: float(skm.brier_score_loss(y, p)),
    "calibration_error": _calibration_error,
    "rmse": lambda y, p, t: float(np.sqrt(np.mean((p - y) ** 2))),
}

def _ordinal(fn: Callable[[np.ndarray, np.ndarray], float]) -> MetricFn:
    """For ordered labels (ratings): label indices are ranks, so index distance is rating distance."""
    return lambda y, p, t: float(fn(y, _labels(p, t)))


METRICS.update({
    "mean_absolute_error": _ordinal(lambda y, predicted: np.abs(y - predicted).mean()),
    "off_by_one_accuracy": _ordinal(lambda y, predicted: (np.abs(y - predicted) <= 1).mean()),
    "quadratic_weighted_kappa": _ordinal(lambda y, predicted: skm.cohen_kappa_score(y, predicted, weights="quadratic")),
})

LOWER_IS_BETTER = {"brier", "calibration_error", "mean_absolute_error", "rmse"}

DESCRIPTIONS = {
    "average_precision": "PR-AUC (average precision)",
    "roc_auc": "ROC-AUC",
    "recall_at_1pct_fpr": "recall at 1% false-positive rate",
    "precision": "precision at the operating point",
    "recall": "recall (sensitivity) at the operating point",
    "sensitivity": "sensitivity at the operating point",
    "macro_f1": "macro-averaged F1",
    "mean_absolute_error": "mean absolute error (label steps)",
    "off_by_one_accuracy": "accuracy within one label step",
    "quadratic_weighted_kappa": "quadratic weighted kappa",
    "specificity": "specificity at the operating point",
    "balanced_accuracy": "balanced accuracy at the operating point",
    "calibration_error": "expected calibration error (10 bins)",
    "rmse": "root mean squared error of the probability",
}


def compute(names: tuple[str, ...] | list[str], y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; known: {sorted(METRICS)}")
    y, p = observed(y, p)
    return {name: METRICS[name](y, p, threshold) for name in names}


def score_for_selection(name: str, y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> float:
    """The metric turned so that higher is better (for early stopping)."""
    y, p = observed(y, p)
    value = METRICS[name](y, p, threshold)
    if np.isnan(value):
        return float("-inf")
    return -value if name in LOWER_IS_BETTER else value
