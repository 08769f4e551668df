"""Layers written out by hand, in one place; each says in one line why it is not imported."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["LN_EPS", "LayerNorm2d", "DropPath"]

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


class DropPath(nn.Module):
    """Stochastic depth: in training, zero a residual branch for a random p of the samples, scale the rest by 1/(1-p).

    The same numbers as torchvision's `StochasticDepth(p, "row")` (tests/test_fidelity.py), whose import would cost
    every process that builds a model about 1.5 s of loading torchvision.
    """

    def __init__(self, p: float = 0.0):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"drop-path probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)  # one draw per sample
        return x * mask.div_(keep)

    def extra_repr(self) -> str:
        return f"p={self.p:.4f}"
