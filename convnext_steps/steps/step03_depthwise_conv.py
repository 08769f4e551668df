"""Step 03 - ResNeXt-ify: the bottleneck's 3x3 conv becomes depthwise (groups = channels).

A depthwise conv mixes information only spatially, within each channel, like the weighted sum in
self-attention; the 1x1 convs do all the channel mixing. FLOPs drop sharply (and accuracy with them,
which the next step buys back with width). Depthwise means groups == channels: a grouped conv with
32 groups (ResNeXt's cardinality) is a different layer. The conv takes its ConvNeXt name, `dwconv`, here.
"""

from __future__ import annotations

from torch import nn

from ..layers import DropPath
from . import step02_patchify_stem as previous
from .step00_resnet50 import Shortcut

__all__ = ["Bottleneck", "CONFIG", "TITLE", "CHANGE", "PAPER_GFLOPS", "PAPER_TOP1", "PAPER_TOP1_STD"]

TITLE = "Depthwise conv"
CHANGE = "The bottleneck's 3x3 conv becomes depthwise (groups = channels)."
PAPER_GFLOPS = 2.35  # Liu et al. 2022, Table 10 (one multiply-add = one FLOP, 224x224)
PAPER_TOP1 = 78.28  # ImageNet-1K, the paper's 300-epoch recipe
PAPER_TOP1_STD = 0.08  # standard deviation of PAPER_TOP1's three seeds (Table 10)


class Bottleneck(nn.Module):
    expansion = 4  # output width = 4 x the width of the kxk conv

    def __init__(self, in_dim: int, dim: int, kernel_size: int, stride: int = 1, drop_path: float = 0.0):
        super().__init__()
        mid = dim // self.expansion
        self.pwconv1 = nn.Conv2d(in_dim, mid, kernel_size=1, bias=False)  # no bias: the BN after it shifts
        self.bn1 = nn.BatchNorm2d(mid)
        self.dwconv = nn.Conv2d(mid, mid, kernel_size, stride=stride, padding=kernel_size // 2, groups=mid, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.pwconv2 = nn.Conv2d(mid, dim, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(dim)
        self.act = nn.ReLU(inplace=True)
        # A projection where the block changes width or resolution, the identity elsewhere.
        self.shortcut = Shortcut(in_dim, dim, stride) if stride != 1 or in_dim != dim else nn.Identity()
        self.drop_path = DropPath(drop_path)

    def forward(self, x):
        out = self.act(self.bn1(self.pwconv1(x)))
        out = self.act(self.bn2(self.dwconv(out)))
        out = self.bn3(self.pwconv2(out))
        return self.act(self.shortcut(x) + self.drop_path(out))


CONFIG = previous.CONFIG.replace(block=Bottleneck)
