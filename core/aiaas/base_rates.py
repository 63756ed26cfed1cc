"""How common each label is: in the data a model learned from, and in production.

A team's sample is rarely drawn at production's rate (a fraud sample at 28.6% where card
fraud runs near 0.2%): probabilities calibrated on it overstate the rare label, and a
precision measured on it is not the precision production will see. ``--prior`` names
production's rate; probabilities are then corrected for the prior shift (Bayes' rule on
the odds, folded into the version's calibration so every answer, risk score and the
operating point use it), the operating point is chosen for production's mix, and the
report gives precision at production's rate beside the sample's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from aiaas.errors import UserError
from aiaas.records import LabelSchema

KINDS = ("binary", "multiclass")


def rates(schema: LabelSchema, y: np.ndarray) -> dict[str, float]:
    """Each label's share of ``y`` (label indices), by label name; empty for other kinds of label."""
    if schema.kind not in KINDS or not len(y):
        return {}
    names = index_names(schema)
    counts = np.bincount(y.astype(int), minlength=len(names))
    return {name: float(c / counts.sum()) for name, c in zip(names, counts)}


def index_names(schema: LabelSchema) -> list[str]:
    """The label name of each index ``labels.encode`` gives: binary is 0 for the negative label, 1 for the positive."""
    if schema.kind == "binary":
        positive = schema.positive or schema.names[1]
        return [next(n for n in schema.names if n != positive), positive]
    return list(schema.names)


def parse_prior(schema: LabelSchema, text: str | None) -> np.ndarray | None:
    """``--prior``: production's rate of a binary task's positive label (``0.002``), or each label's
    (``fraud=0.002`` or ``a=0.2,b=0.3,c=0.5``, summing to 1), as rates by label index."""
    if text is None or not str(text).strip():
        return None
    if schema.kind not in KINDS:
        raise UserError(f"--prior: {schema.name} is a {schema.kind} task; production label rates apply to binary and multiclass tasks")
    names = index_names(schema)
    given: dict[str, float] = {}
    for part in str(text).split(","):
        key, sep, value = part.strip().rpartition("=")
        if not sep and schema.kind == "binary":
            key, value = names[1], part.strip()
        try:
            rate = float(value)
        except ValueError:
            rate = float("nan")
        if not 0 < rate < 1:
            raise UserError(f"--prior {text}: {value!r} is not a rate between 0 and 1 (exclusive)")
        match = next((n for n in names if n.lower() == key.strip().lower()), None)
        if match is None:
            raise UserError(f"--prior {text}: {key.strip()!r} is not a label of {schema.name} ({', '.join(names)})")
        given[match] = rate
    if schema.kind == "binary":
        if len(given) == 2 and abs(sum(given.values()) - 1) > 1e-3:
            raise UserError(f"--prior {text}: the two rates must sum to 1")
        positive = given.get(names[1], 1 - given.get(names[0], 0.5))
        return np.array([1 - positive, positive])
    missing = [n for n in names if n not in given]
    if missing or abs(sum(given.values()) - 1) > 1e-3:
        raise UserError(f"--prior {text}: give every label of {schema.name} a rate, summing to 1"
                        + (f" (missing: {', '.join(missing)})" if missing else f" (they sum to {sum(given.values()):.4f})"))
    return np.array([given[n] for n in names])


def production_weights(y: np.ndarray, sample: np.ndarray, production: np.ndarray) -> np.ndarray:
    """Per-row weights that make rows drawn at ``sample``'s label rates count as if drawn at ``production``'s."""
    ratio = production / np.maximum(sample, 1e-12)
    return ratio[y.astype(int)]


def at_production_rate(y: np.ndarray, p: np.ndarray, threshold: float, production: np.ndarray) -> dict[str, Any]:
    """Binary: precision, recall and PR-AUC on the test split reweighted to production's label rate."""
    from sklearn.metrics import average_precision_score, precision_score, recall_score

    if len(np.unique(y)) < 2:
        return {}
    w = production_weights(y, np.bincount(y, minlength=2) / len(y), production)
    predicted = (p >= threshold).astype(int)
    return {"rate": float(production[1]),
            "precision": float(precision_score(y, predicted, sample_weight=w, zero_division=0)),
            "recall": float(recall_score(y, predicted, sample_weight=w, zero_division=0)),
            "average_precision": float(average_precision_score(y, p, sample_weight=w))}


def describe(label_rates: dict[str, Any]) -> str:
    """One line: the training split's label rates and, when given, production's."""
    def shares(values: dict[str, float]) -> str:
        return ", ".join(f"{name} {rate:.1%}" if rate >= 0.001 else f"{name} {rate:.3%}" for name, rate in values.items())

    text = f"training split: {shares(label_rates['training'])}"
    if label_rates.get("production"):
        text += f"; production (--prior): {shares(label_rates['production'])}, probabilities and the operating point corrected for it"
    return text
