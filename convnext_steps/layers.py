"""Layers written out by hand, in one place; each says in one line why it is not imported.

Stochastic depth is not here: every block uses torchvision's `StochasticDepth(p, "row")`, which drops the whole
residual branch per sample exactly as the official code's `DropPath` does.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["LN_EPS", "LayerNorm2d"]

LN_EPS = 1e-6  # ConvNeXt's epsilon (PyTorch's default is 1e-5)


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an (N, C, H, W) map: each pixel's C-vector is normalised on its own."""

    # torchvision has this layer too, but only inside its ConvNeXt model file, not in its public API.
    def __init__(self, num_channels: int, eps: float = LN_EPS):
        super().__init__(num_channels, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)  # (N, C, H, W) -> (N, H, W, C): normalise the last dim
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)
