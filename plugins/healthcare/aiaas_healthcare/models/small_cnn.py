"""A small CNN for tiny images (28-64 px): three conv blocks, global pooling, a linear head.
About 100k parameters; trains in seconds on a CPU, which suits quick experiments and tests."""

from __future__ import annotations

from typing import Any

from torch import nn

from aiaas import ModelSpec
from aiaas_healthcare.models.common import ImageClassifier


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
                         nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


def build(spec: ModelSpec, params: dict[str, Any]) -> ImageClassifier:
    width = int(params.get("width", 24))
    last = _block(width * 2, width * 4)
    net = nn.Sequential(
        _block(3, width), nn.MaxPool2d(2),
        _block(width, width * 2), nn.MaxPool2d(2),
        last,
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(float(params.get("dropout", 0.2))),
        nn.Linear(width * 4, spec.outputs),
    )
    return ImageClassifier(net, last, augment=bool(params.get("augment", True)))
