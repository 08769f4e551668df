"""Step 11 - BatchNorm -> LayerNorm, over the channels of each position only.

Transformers use LayerNorm; BN's batch statistics complicate training and inference. ConvNeXt's LN
normalises each pixel's C-vector (mean and variance over channels, one pair per (n, h, w)), with a
learned per-channel scale and shift. GroupNorm(1, C) is *not* this: it normalises over (C, H, W) at once.
The block runs its 1x1 convs as `nn.Linear` on a channels-last tensor, as the official code does, so the
LN is a plain `nn.LayerNorm(C)`; the stem and the shortcut use the same LN on channels-first maps.

Multiply-adds: 4.15 G, as in step 10 - a norm swap changes no conv or linear layer, and a LayerNorm
does no multiply-adds. The paper's table prints 4.46 for this step; we cannot reproduce that figure from
this model. 4.46 is what we count for the *final* ConvNeXt-T (step 12, whose separate downsampling
layers add 0.31 G), so the paper's entry looks carried over from there.
Paper: 81.41 -> 81.47% top-1.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import step10_fewer_norms as previous
from .network import DropPath

__all__ = ["LayerNorm2d", "LayerNormStem", "Shortcut", "Block", "CONFIG"]

LN_EPS = 1e-6  # ConvNeXt's epsilon (PyTorch's default is 1e-5)


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channel dim of an (N, C, H, W) map: each pixel's C-vector is normalised."""

    def __init__(self, num_channels: int, eps: float = LN_EPS):
        super().__init__(num_channels, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)  # (N, C, H, W) -> (N, H, W, C)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class LayerNormStem(nn.Module):
    def __init__(self, in_chans: int, dim: int):
        super().__init__()
        self.conv = nn.Conv2d(in_chans, dim, kernel_size=4, stride=4)  # bias: LN over channels keeps it
        self.norm = LayerNorm2d(dim)

    def forward(self, x):
        return self.norm(self.conv(x))


class Shortcut(nn.Sequential):
    def __init__(self, in_dim: int, dim: int, stride: int):
        super().__init__(nn.Conv2d(in_dim, dim, kernel_size=1, stride=stride), LayerNorm2d(dim))


class Block(nn.Module):
    expansion = 4

    def __init__(self, in_dim: int, dim: int, stride: int = 1, drop_path: float = 0.0, kernel_size: int = 7):
        super().__init__()
        hidden = self.expansion * dim
        self.dwconv = nn.Conv2d(in_dim, in_dim, kernel_size, stride=stride, padding=kernel_size // 2, groups=in_dim)
        self.norm = nn.LayerNorm(in_dim, eps=LN_EPS)  # over channels, on (N, H, W, C)
        self.pwconv1 = nn.Linear(in_dim, hidden)  # a 1x1 conv, on channels-last
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(hidden, dim)
        self.shortcut = Shortcut(in_dim, dim, stride) if stride != 1 or in_dim != dim else nn.Identity()
        self.drop_path = DropPath(drop_path)

    def forward(self, x):
        out = self.dwconv(x).permute(0, 2, 3, 1)  # (N, C, H, W) -> (N, H, W, C)
        out = self.pwconv2(self.act(self.pwconv1(self.norm(out))))
        out = out.permute(0, 3, 1, 2)
        return self.shortcut(x) + self.drop_path(out)


CONFIG = previous.CONFIG.replace(stem=LayerNormStem, block=Block)
