"""Step 10 - fewer normalisation layers: one BN, after the depthwise conv (before the 1x1 convs).

Transformers normalise once per block, before the MLP. Removing the BNs after the two 1x1 convs
leaves one per block. With no BN after them, the 1x1 convs get their bias back (a BN's shift used to
absorb it). Paper: 4.15 GFLOPs, 81.27 -> 81.41% top-1.
"""
from __future__ import annotations

from torch import nn

from . import step09_fewer_activations as previous
from .network import DropPath
from .step00_resnet50 import Shortcut

__all__ = ["Block", "CONFIG"]


class Block(nn.Module):
    expansion = 4

    def __init__(self, in_dim: int, dim: int, stride: int = 1, drop_path: float = 0.0, kernel_size: int = 7):
        super().__init__()
        hidden = self.expansion * dim
        self.dwconv = nn.Conv2d(
            in_dim, in_dim, kernel_size, stride=stride, padding=kernel_size // 2, groups=in_dim, bias=False
        )
        self.norm = nn.BatchNorm2d(in_dim)
        self.pwconv1 = nn.Conv2d(in_dim, hidden, kernel_size=1)
        self.act = nn.GELU()
        self.pwconv2 = nn.Conv2d(hidden, dim, kernel_size=1)
        self.shortcut = Shortcut(in_dim, dim, stride) if stride != 1 or in_dim != dim else nn.Identity()
        self.drop_path = DropPath(drop_path)

    def forward(self, x):
        out = self.norm(self.dwconv(x))
        out = self.pwconv2(self.act(self.pwconv1(out)))
        return self.shortcut(x) + self.drop_path(out)


CONFIG = previous.CONFIG.replace(block=Block)
