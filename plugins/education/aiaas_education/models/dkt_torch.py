"""Deep knowledge tracing on PyTorch: the same model as ``dkt_keras`` (an embedding of
(skill, correct), an LSTM, a logit for the queried skill from the state before each step)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from aiaas import ModelSpec


def state_before(states: torch.Tensor, skill: torch.Tensor) -> torch.Tensor:
    """The state after ``min(t, answers)`` answers for each step t (zeros before any)."""
    answers = (skill > 0).sum(1, keepdim=True)
    before = torch.cat([torch.zeros_like(states[:, :1]), states], dim=1)
    index = torch.minimum(torch.arange(skill.shape[1], device=skill.device).unsqueeze(0), answers)
    return before.gather(1, index.unsqueeze(-1).expand(-1, -1, states.shape[-1]))


class DKT(nn.Module):
    def __init__(self, skills: int, embedding: int = 64, hidden: int = 128, dropout: float = 0.2) -> None:
        super().__init__()
        self.answers = nn.Embedding(2 * skills, embedding, padding_idx=0)
        self.lstm = nn.LSTM(embedding, hidden, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.skill_weights = nn.Embedding(skills, hidden)
        self.skill_bias = nn.Embedding(skills, 1)
        nn.init.zeros_(self.skill_bias.weight)

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        skill, correct, query = (inputs[k].long() for k in ("skill", "correct", "query"))
        x = self.answers(skill * 2 + correct) * (skill > 0).unsqueeze(-1)
        states, _ = self.lstm(self.dropout(x))
        used = self.dropout(state_before(states, skill))
        return (used * self.skill_weights(query)).sum(-1) + self.skill_bias(query).squeeze(-1)


def build(spec: ModelSpec, params: dict[str, Any]) -> DKT:
    return DKT(int(spec.hints["skills"]), int(params.get("embedding", 64)), int(params.get("hidden", 128)), float(params.get("dropout", 0.2)))
