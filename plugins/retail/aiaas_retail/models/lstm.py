"""The LSTM review classifier: embedding, a bidirectional LSTM, masked mean and max
pooling over the words, a linear head. Its tokenizer and vocabulary are the core's
``text-vocab`` preprocessor, fitted on the training split and saved as JSON."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from aiaas import ModelSpec


class LSTMClassifier(nn.Module):
    token_input = "tokens"

    def __init__(self, vocabulary: int, outputs: int, embedding: int = 64, hidden: int = 64, dropout: float = 0.3) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocabulary, embedding, padding_idx=0)
        self.lstm = nn.LSTM(embedding, hidden, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(4 * hidden, outputs)

    @property
    def embedding_layer(self) -> nn.Module:
        return self.embedding

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        tokens = inputs[self.token_input]
        mask = (tokens != 0).unsqueeze(-1).float()
        states, _ = self.lstm(self.dropout(self.embedding(tokens)))
        mean = (states * mask).sum(1) / mask.sum(1).clamp(min=1)
        largest = (states + (mask - 1) * 1e4).max(1).values  # padding never wins the max
        return self.head(self.dropout(torch.cat([mean, largest], dim=-1)))


def build(spec: ModelSpec, params: dict[str, Any]) -> LSTMClassifier:
    return LSTMClassifier(int(spec.hints["vocabulary_size"]), spec.outputs, int(params.get("embedding", 64)), int(params.get("hidden", 64)),
                          float(params.get("dropout", 0.3)))
