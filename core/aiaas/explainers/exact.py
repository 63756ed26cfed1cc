"""Exact explanations from models that can give them (the ``classical`` runtime):
one call per batch instead of a forward pass per feature.

Tables: the trees' TreeSHAP contributions per feature, summed per column and shared
out of the change in the explained probability (the positive label's, or the
answered label's) in proportion, so a column's contribution reads as the ablation
explainer's does: in probability, signed, summing to the prediction minus the base.
Text: each word's share of the answered label's logit (``TfidfLinear.word_weights``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from aiaas.calibration import calibrated
from aiaas.explainers.ablation import _plain
from aiaas.explainers.tokens import TOP
from aiaas.tabular import feature_names

if TYPE_CHECKING:
    from aiaas.pipeline import Pipeline


def _called(pipeline: Pipeline, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    """Per row: the output explained, a sign (+1 towards the answered label), its name and its probability."""
    names = pipeline.labels.names
    if p.ndim == 1:
        positive = pipeline.labels.positive or names[1]
        negative = next(n for n in names if n != positive)
        called = p >= pipeline.threshold
        return (np.zeros(len(p), dtype=int), np.where(called, 1.0, -1.0), [positive if c else negative for c in called],
                np.where(called, p, 1 - p))
    targets = p.argmax(axis=1)
    return targets, np.ones(len(p)), [names[t] for t in targets], p[np.arange(len(p)), targets]


class TreeContributions:
    def explain(self, pipeline: Pipeline, records: pd.DataFrame, probabilities: np.ndarray | None = None) -> list[dict[str, Any]]:
        if not getattr(pipeline.model, "exact", True):  # a weighted ensemble: no exact split, so each column is ablated
            from aiaas.explainers.ablation import FeatureAblation

            return FeatureAblation().explain(pipeline, records, probabilities)
        pre, state = pipeline.preprocessor, pipeline.pre_state
        p = probabilities if probabilities is not None else pipeline.probabilities(records)
        inputs = pipeline.inputs(records)
        with pipeline._lock:
            contributions, base_logits = pipeline.model.contributions(inputs)  # (rows, outputs, features) and (rows, outputs), in logits
        columns = pre.used_columns(state)
        widths = [len(feature_names(c)) for c in columns]
        starts = np.cumsum([0, *widths])
        per_column = np.stack([contributions[..., a:b].sum(-1) for a, b in zip(starts[:-1], starts[1:])], axis=-1)
        logits = base_logits + contributions.sum(-1)
        kind = pipeline.labels.kind
        calibration = pipeline.manifest.get("calibration")
        p_now, p_base = calibrated(logits, kind, calibration), calibrated(base_logits, kind, calibration)
        targets = p.argmax(axis=1) if p.ndim == 2 else np.zeros(len(p), dtype=int)
        rows_index = np.arange(len(records))
        if p.ndim == 2:
            change, logit_change = p_now[rows_index, targets] - p_base[rows_index, targets], (logits - base_logits)[rows_index, targets]
            score = p[rows_index, targets]
        else:
            change, logit_change, score = p_now - p_base, (logits - base_logits)[:, 0], p
        scale = np.divide(change, logit_change, out=np.zeros_like(change, dtype="float64"), where=np.abs(logit_change) > 1e-9)
        shares = per_column[rows_index, targets] * scale[:, None]
        baselines = pre.baselines(state)
        rows = records.to_dict(orient="records")
        names = pipeline.labels.names
        explained = [names[t] for t in targets] if p.ndim == 2 else [pipeline.labels.positive or names[1]] * len(rows)
        out = []
        for i, row in enumerate(rows):
            order = np.argsort(-np.abs(shares[i]))
            out.append({"score": float(score[i]), "method": getattr(pipeline.model, "explanation_method", "tree-shap"), "label": explained[i], "attributions": [
                {"feature": columns[j]["name"], "value": _plain(row.get(columns[j]["name"])), "baseline": baselines[columns[j]["name"]],
                 "contribution": float(shares[i, j])} for j in order]})
        return out


class LinearWordWeights:
    def explain(self, pipeline: Pipeline, records: pd.DataFrame, probabilities: np.ndarray | None = None) -> list[dict[str, Any]]:
        p = probabilities if probabilities is not None else pipeline.probabilities(records)
        targets, signs, labels, scores = _called(pipeline, p)
        texts = pipeline.inputs(records)["text"]
        weighted = pipeline.model.word_weights(texts, targets, signs)
        out = []
        for i, pairs in enumerate(weighted):
            top = sorted(pairs, key=lambda pair: -abs(pair[1]))[:TOP]
            out.append({"method": "linear-weights", "label": labels[i], "score": round(float(scores[i]), 6),
                        "words": [{"word": w, "weight": round(v, 6)} for w, v in pairs],
                        "top": [{"word": w, "weight": round(v, 6)} for w, v in top]})
        return out
