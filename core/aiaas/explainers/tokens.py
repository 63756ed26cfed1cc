"""Token attributions for PyTorch text models: integrated gradients on the embeddings
(Captum's ``LayerIntegratedGradients``), from an all-padding baseline.

The model names its embedding layer ``embedding_layer`` and the input that holds
token ids ``token_input`` (default ``"tokens"``); its other inputs (an attention
mask) pass through unchanged. The preprocessor's ``tokens(records, state)`` gives the
text of each kept position (None for special tokens); word pieces that continue a
word (``##ing``) are added to it. A weight is signed towards the answered label:
positive pushed the model to it, negative away.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from aiaas.pipeline import Pipeline

TOP = 10


def merge_pieces(tokens: list[str | None], weights: np.ndarray) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    for token, weight in zip(tokens, weights):
        if token is None:
            continue
        if token.startswith("##") and out:
            word, total = out[-1]
            out[-1] = (word + token[2:], total + float(weight))
        else:
            out.append((token, float(weight)))
    return out


class TokenAttributions:
    steps = 24

    def attributions(self, pipeline: Pipeline, records: pd.DataFrame, targets: np.ndarray) -> np.ndarray:
        """(rows, positions) summed over the embedding dimension."""
        import torch
        from captum.attr import LayerIntegratedGradients

        model = pipeline.model
        key = getattr(model, "token_input", "tokens")
        inputs = pipeline.preprocessor.transform(records, pipeline.pre_state)
        device = next(model.parameters()).device
        others = [k for k in inputs if k != key]
        ids = torch.as_tensor(inputs[key], device=device)
        extra = tuple(torch.as_tensor(inputs[k], device=device) for k in others)

        def forward(token_ids: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
            return model({key: token_ids, **dict(zip(others, rest))})

        explainer = LayerIntegratedGradients(forward, model.embedding_layer)
        with pipeline._lock, torch.enable_grad(), torch.backends.cudnn.flags(enabled=False):
            model.eval()
            scores = explainer.attribute(ids, baselines=torch.zeros_like(ids), additional_forward_args=extra,
                                         target=[int(t) for t in targets], n_steps=self.steps, internal_batch_size=256)
        return scores.sum(dim=-1).detach().cpu().numpy()

    def explain(self, pipeline: Pipeline, records: pd.DataFrame, probabilities: np.ndarray | None = None) -> list[dict[str, Any]]:
        p = probabilities if probabilities is not None else pipeline.probabilities(records)
        names = pipeline.labels.names
        if p.ndim == 1:
            positive = pipeline.labels.positive or names[1]
            negative = next(n for n in names if n != positive)
            called = p >= pipeline.threshold
            targets = np.zeros(len(p), dtype=int)
            labels = [positive if c else negative for c in called]
            sign = np.where(called, 1.0, -1.0)  # the single logit speaks for the positive label
            scores = np.where(called, p, 1 - p)
        else:
            targets = p.argmax(axis=1)
            labels = [names[t] for t in targets]
            sign = np.ones(len(p))
            scores = p[np.arange(len(p)), targets]
        weights = self.attributions(pipeline, records, targets) * sign[:, None]
        tokens = pipeline.preprocessor.tokens(records, pipeline.pre_state)
        out = []
        for i in range(len(records)):
            merged = merge_pieces(tokens[i], weights[i][: len(tokens[i])])
            top = sorted(merged, key=lambda pair: -abs(pair[1]))[:TOP]
            out.append({
                "method": "integrated-gradients",
                "label": labels[i],
                "score": round(float(scores[i]), 6),
                "words": [{"word": w, "weight": round(v, 6)} for w, v in merged],
                "top": [{"word": w, "weight": round(v, 6)} for w, v in top],
            })
        return out
