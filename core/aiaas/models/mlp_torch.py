"""A regularised MLP on PyTorch (outputs logits; the runtime adds the activation)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from aiaas.runtimes.base import ModelSpec


class MLP(nn.Module):
    def __init__(self, width_in: int, hidden: list[int], dropout: float, outputs: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for width in hidden:
            layers += [nn.Linear(width_in, width), nn.ReLU(), nn.Dropout(dropout)]
            width_in = width
        layers.append(nn.Linear(width_in, outputs))
        self.net = nn.Sequential(*layers)

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.net(inputs["features"])


def build(spec: ModelSpec, params: dict[str, Any]) -> MLP:
    return MLP(spec.inputs["features"][0], list(params.get("hidden", [64, 32])), float(params.get("dropout", 0.2)), spec.outputs)
