"""What the image architectures share: training-only augmentation and the wrapper
that takes the runtime's dict of inputs and names the Grad-CAM layer."""

from __future__ import annotations

import math

import torch
from torch import nn


class Augment(nn.Module):
    """Light, radiograph-safe augmentation, active only in training mode: a small
    rotation, zoom and shift, and a little brightness and contrast jitter. No flips:
    left and right carry anatomical meaning (the heart is on the left)."""

    def __init__(self, degrees: float = 7.0, zoom: float = 0.07, shift: float = 0.05, jitter: float = 0.1) -> None:
        super().__init__()
        self.degrees, self.zoom, self.shift, self.jitter = degrees, zoom, shift, jitter

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        n = x.shape[0]
        angle = (torch.rand(n, device=x.device) * 2 - 1) * math.radians(self.degrees)
        scale = 1 + (torch.rand(n, device=x.device) * 2 - 1) * self.zoom
        shift = (torch.rand(n, 2, device=x.device) * 2 - 1) * self.shift * 2
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
        grid = nn.functional.affine_grid(theta, list(x.shape), align_corners=False)
        x = nn.functional.grid_sample(x, grid, padding_mode="border", align_corners=False)
        contrast = 1 + (torch.rand(n, 1, 1, 1, device=x.device) * 2 - 1) * self.jitter
        brightness = (torch.rand(n, 1, 1, 1, device=x.device) * 2 - 1) * self.jitter
        return x * contrast + brightness


class ImageClassifier(nn.Module):
    """``net`` maps (n, 3, h, w) to logits; ``cam_layer`` is the stage Grad-CAM explains."""

    def __init__(self, net: nn.Module, cam_layer: nn.Module, augment: bool = True, column: str = "image") -> None:
        super().__init__()
        self.net = net
        self.augment = Augment() if augment else nn.Identity()
        self.column = column
        self._cam = [cam_layer]  # a list, so the layer is not registered twice in the state dict

    @property
    def cam_layer(self) -> nn.Module:
        return self._cam[0]

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.net(self.augment(inputs[self.column]))
