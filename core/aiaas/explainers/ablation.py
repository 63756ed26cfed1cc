"""Feature ablation: model-agnostic, signed, per input column.

A column's contribution to one prediction is the probability with the row as it
is minus the probability with that column set to its training baseline (median or
most frequent value). Every (row, column) variant goes through the model in one
batch, so explaining n rows of c columns costs one forward pass of n * c rows.
Where the preprocessor says where each column's features sit (tables), the variants
are made in the encoded inputs the answer already has: no second encoding.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from aiaas.tabular import columns_of

if TYPE_CHECKING:
    from aiaas.pipeline import Pipeline


def _score(p: np.ndarray) -> np.ndarray:
    """The quantity explained: the positive probability, the top class's, or the value."""
    return p if p.ndim == 1 else p.max(axis=1)


def _explained_labels(pipeline: Pipeline, p: np.ndarray) -> list[str] | None:
    """The label each explanation is about: a binary task's positive label, else the answered (top) label."""
    names = list(getattr(pipeline.labels, "names", ()) or ())
    if not names or pipeline.labels.kind in ("regression", "sequence"):
        return None
    if p.ndim == 1:
        return [pipeline.labels.positive or names[-1]] * len(p)
    return [names[int(k)] for k in p.argmax(axis=1)]


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (datetime, pd.Timestamp)):  # a frame's times come out as either
        return value.isoformat()
    return value.item() if hasattr(value, "item") else value


class FeatureAblation:
    def attributions(self, pipeline: Pipeline, records: pd.DataFrame, probabilities: np.ndarray | None = None) -> tuple[np.ndarray, list[str], np.ndarray]:
        """(score per row, columns, contributions of shape (rows, columns))."""
        pre = pipeline.preprocessor
        columns = pre.feature_columns(pipeline.pre_state)
        baselines = pre.baselines(pipeline.pre_state)
        p = probabilities if probabilities is not None else pipeline.probabilities(records)
        chosen = p.argmax(axis=1) if p.ndim == 2 else None
        n = len(records)
        q = self._encoded(pipeline, records, columns)
        if q is None:
            # Block j of the variants is the batch with column j at its baseline; built as
            # arrays and made a frame once, since per-column pandas edits dominate small batches.
            data = {}
            for name in records.columns:
                values = np.tile(records[name].to_numpy(dtype=object), len(columns))
                if name in baselines:
                    j = columns.index(name)
                    values[j * n : (j + 1) * n] = baselines[name]
                data[name] = values
            q = pipeline.probabilities(pd.DataFrame(data).infer_objects())
        q = q.reshape(len(columns), n, *q.shape[1:])
        if chosen is not None:
            base = p[np.arange(len(records)), chosen]
            ablated = q[:, np.arange(len(records)), chosen]
        else:
            base, ablated = p, q
        return base, columns, (base[None, :] - ablated).T

    @staticmethod
    def _encoded(pipeline: Pipeline, records: pd.DataFrame, columns: list[str]) -> np.ndarray | None:
        """The variants' probabilities made from the encoded inputs, when the preprocessor places each column."""
        pre, state = pipeline.preprocessor, pipeline.pre_state
        if not hasattr(pre, "column_features"):
            return None

        def once() -> tuple[dict[str, slice], dict[str, np.ndarray]]:
            return pre.column_features(state), pre.transform(pd.DataFrame([pre.baselines(state)]), state)

        slices, baseline = pipeline.memo("ablation", once)
        inputs = pipeline.inputs(records)
        if list(inputs) != ["features"] or list(baseline) != ["features"] or any(c not in slices for c in columns):
            return None
        x, base = inputs["features"], baseline["features"][0]
        variants = np.repeat(x[None], len(columns), axis=0)
        for j, name in enumerate(columns):
            variants[j, :, slices[name]] = base[slices[name]]
        return pipeline.run({"features": variants.reshape(-1, x.shape[1])})

    def explain(self, pipeline: Pipeline, records: pd.DataFrame, probabilities: np.ndarray | None = None) -> list[dict[str, Any]]:
        p = probabilities if probabilities is not None else pipeline.probabilities(records)
        base, columns, contributions = self.attributions(pipeline, records, p)
        explained = _explained_labels(pipeline, p)
        baselines = pipeline.preprocessor.baselines(pipeline.pre_state)
        arrays = columns_of(records)  # not to_dict: costly on a few rows
        values = {c: arrays[c].astype(object) for c in columns if c in arrays}
        out = []
        for i in range(len(records)):
            row = {c: v[i] for c, v in values.items()}
            order = np.argsort(-np.abs(contributions[i]))
            out.append({
                **({"label": explained[i]} if explained else {}),
                "score": float(base[i]),
                "method": "feature-ablation",
                "attributions": [
                    {
                        "feature": columns[j],
                        "value": _plain(row.get(columns[j])),
                        "baseline": baselines[columns[j]],
                        "contribution": float(contributions[i, j]),
                    }
                    for j in order
                ],
            })
        return out
