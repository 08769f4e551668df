"""Step 06 - move the depthwise conv up: depthwise kxk first, then the two 1x1 convs.

In a Transformer block the spatial mixer (self-attention) comes before the MLP. Moving the
depthwise conv (with its BN) to the top of the inverted bottleneck does the same: the wide 1x1 convs do
the channel mixing, and the depthwise conv runs on the narrow input (96 channels, not 384), which frees
compute for a larger kernel in the next step.
"""

from __future__ import annotations

from torch import nn

from ..layers import DropPath
from . import step05_inverted_bottleneck as previous
from .step00_resnet50 import Shortcut

__all__ = ["InvertedBottleneck", "CONFIG", "TITLE", "CHANGE", "PAPER_GFLOPS", "PAPER_TOP1", "PAPER_TOP1_STD"]

TITLE = "Move the depthwise conv up"
CHANGE = "The depthwise conv moves to the top of the block, before the two 1x1 convs."
PAPER_GFLOPS = 4.07  # Liu et al. 2022, Table 10 (one multiply-add = one FLOP, 224x224)
PAPER_TOP1 = 79.92  # temporarily worse
PAPER_TOP1_STD = 0.08  # standard deviation of PAPER_TOP1's three seeds (Table 10)


class InvertedBottleneck(nn.Module):
    expansion = 4  # hidden width = 4 x the block's output width

    def __init__(self, in_dim: int, dim: int, kernel_size: int, stride: int = 1, drop_path: float = 0.0):
        super().__init__()
        hidden = self.expansion * dim
        self.dwconv = nn.Conv2d(
            in_dim, in_dim, kernel_size, stride=stride, padding=kernel_size // 2, groups=in_dim, bias=False
        )  # first, on the narrow input
        self.bn2 = nn.BatchNorm2d(in_dim)
        self.pwconv1 = nn.Conv2d(in_dim, hidden, kernel_size=1, bias=False)  # no bias: the BN after it shifts
        self.bn1 = nn.BatchNorm2d(hidden)
        self.pwconv2 = nn.Conv2d(hidden, dim, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(dim)
        self.act = nn.ReLU(inplace=True)
        # A projection where the block changes width or resolution, the identity elsewhere.
        self.shortcut = Shortcut(in_dim, dim, stride) if stride != 1 or in_dim != dim else nn.Identity()
        self.drop_path = DropPath(drop_path)

    def forward(self, x):
        out = self.act(self.bn2(self.dwconv(x)))
        out = self.act(self.bn1(self.pwconv1(out)))
        out = self.bn3(self.pwconv2(out))
        return self.act(self.shortcut(x) + self.drop_path(out))


CONFIG = previous.CONFIG.replace(block=InvertedBottleneck)
