"""Self-attentive knowledge tracing (Pandey and Karypis, 2019) on PyTorch: the question
at each step attends to the learner's earlier answers (and a start token, so a first
question has something to attend to), then a feed-forward block gives its logit.

Steps with a query but no answer of their own sit after the whole history: they attend
to every answer and take the position after the last one."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from aiaas import ModelSpec


class SAKT(nn.Module):
    def __init__(self, skills: int, window: int, dimension: int = 64, heads: int = 4, dropout: float = 0.2) -> None:
        super().__init__()
        self.window = window
        self.answers = nn.Embedding(2 * skills + 1, dimension)  # the last id is the start token
        self.questions = nn.Embedding(skills, dimension)
        self.positions = nn.Embedding(window + 2, dimension)
        self.attention = nn.MultiheadAttention(dimension, heads, dropout=dropout, batch_first=True)
        self.norm1, self.norm2 = nn.LayerNorm(dimension), nn.LayerNorm(dimension)
        self.feed_forward = nn.Sequential(nn.Linear(dimension, dimension), nn.ReLU(), nn.Dropout(dropout), nn.Linear(dimension, dimension))
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(dimension, 1)
        self.start = 2 * skills

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        skill, correct, query = (inputs[k].long() for k in ("skill", "correct", "query"))
        batch, steps = skill.shape
        real = skill > 0
        answers = real.sum(1, keepdim=True)
        step = torch.arange(steps, device=skill.device).unsqueeze(0)
        start = torch.full((batch, 1), self.start, device=skill.device, dtype=torch.long)
        keys = torch.cat([start, skill * 2 + correct], dim=1)  # key k + 1 is answer k
        key_positions = torch.cat([torch.zeros_like(start), torch.minimum(step + 1, answers).clamp(max=self.window + 1)], dim=1)
        values = self.answers(keys) + self.positions(key_positions)
        questions = self.questions(query) + self.positions(torch.minimum(step, answers).clamp(max=self.window + 1))
        # step t sees the start token and the answers before it (never its own or later ones, never padding)
        key_index = torch.arange(steps + 1, device=skill.device)
        visible = (key_index.view(1, 1, -1) <= step.unsqueeze(-1)) & torch.cat([torch.ones_like(start, dtype=torch.bool), real], 1).unsqueeze(1)
        mask = ~visible.repeat_interleave(self.attention.num_heads, dim=0)
        attended, _ = self.attention(questions, values, values, attn_mask=mask, need_weights=False)
        x = self.norm1(questions + self.dropout(attended))
        x = self.norm2(x + self.dropout(self.feed_forward(x)))
        return self.out(x).squeeze(-1)


def build(spec: ModelSpec, params: dict[str, Any]) -> SAKT:
    return SAKT(int(spec.hints["skills"]), int(spec.hints["window"]), int(params.get("dimension", 64)), int(params.get("heads", 4)),
                float(params.get("dropout", 0.2)))
