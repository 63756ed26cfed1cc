"""torchvision ResNets, sized for the input resolution.

ImageNet's stem (7x7 stride-2 convolution and max-pool) shrinks an image 4x before
the first stage, which leaves nothing of a 28-pixel image. The stem follows the
input instead: under 48 px a 3x3 stride-1 convolution and no pool (as MedMNIST's
ResNets), under 128 px a 3x3 stride-2 convolution, else ImageNet's. The last stage
then still has a 4x4 or larger map for Grad-CAM. Pretrained weights come only from
a file the user names (``aiaas train --weights``); tensors that do not fit the
resized stem or the new head keep their fresh initialisation.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from aiaas import ModelSpec
from aiaas_healthcare.models.common import ImageClassifier


def _build(depth: int, spec: ModelSpec, params: dict[str, Any]) -> ImageClassifier:
    from torchvision.models import resnet18, resnet50

    net = (resnet18 if depth == 18 else resnet50)(weights=None)
    size = min(spec.inputs["image"][-2:])
    if size < 128:
        net.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1 if size < 48 else 2, padding=1, bias=False)
        net.maxpool = nn.Identity()
    net.fc = nn.Sequential(nn.Dropout(float(params.get("dropout", 0.2))), nn.Linear(net.fc.in_features, spec.outputs))
    return ImageClassifier(net, net.layer4, augment=bool(params.get("augment", True)))


def resnet18(spec: ModelSpec, params: dict[str, Any]) -> ImageClassifier:
    return _build(18, spec, params)


def resnet50(spec: ModelSpec, params: dict[str, Any]) -> ImageClassifier:
    return _build(50, spec, params)
