"""Step 00 - ResNet-50, the starting point (torchvision's layout, "ResNet v1.5").

Stem: 7x7 conv stride 2 + BN + ReLU, then 3x3 max-pool stride 2 (4x downsampling in all).
Stages: bottleneck blocks (1x1 reduce -> 3x3 -> 1x1 expand, 4x expansion), depths (3, 4, 6, 3);
the first block of stages 2-4 downsamples with stride 2 in its 3x3 conv and a 1x1 stride-2
projection shortcut. The 1x1 convs carry ConvNeXt's names (`pwconv1`, `pwconv2`) from the start,
so every later step can be read as an edit of this block.
"""

from __future__ import annotations

from torch import nn

from ..layers import DropPath
from ..network import NetConfig

__all__ = [
    "ResNetStem",
    "Shortcut",
    "Bottleneck",
    "CONFIG",
    "TITLE",
    "CHANGE",
    "PAPER_GFLOPS",
    "PAPER_TOP1",
    "PAPER_TOP1_STD",
]

TITLE = "ResNet-50"
CHANGE = (
    "The starting point: torchvision's ResNet-50 (7x7 stem + max-pool, bottlenecks (3, 4, 6, 3), stride in the 3x3)."
)
PAPER_GFLOPS = 4.09  # Liu et al. 2022, Table 10 (one multiply-add = one FLOP, 224x224)
PAPER_TOP1 = 78.82  # with the modern training recipe (76.13% with torchvision's original one)
PAPER_TOP1_STD = 0.07  # standard deviation of PAPER_TOP1's three seeds (Table 10)


class ResNetStem(nn.Module):
    def __init__(self, in_chans: int, dim: int):
        super().__init__()
        self.conv = nn.Conv2d(in_chans, dim, kernel_size=7, stride=2, padding=3, bias=False)
        self.norm = nn.BatchNorm2d(dim)
        self.act = nn.ReLU(inplace=True)
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

    def forward(self, x):
        return self.pool(self.act(self.norm(self.conv(x))))


class Shortcut(nn.Sequential):
    def __init__(self, in_dim: int, dim: int, stride: int):
        super().__init__(nn.Conv2d(in_dim, dim, kernel_size=1, stride=stride, bias=False), nn.BatchNorm2d(dim))


class Bottleneck(nn.Module):
    expansion = 4  # output width = 4 x the width of the kxk conv

    def __init__(self, in_dim: int, dim: int, kernel_size: int, stride: int = 1, drop_path: float = 0.0):
        super().__init__()
        mid = dim // self.expansion
        self.pwconv1 = nn.Conv2d(in_dim, mid, kernel_size=1, bias=False)  # no bias: the BN after it shifts
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv = nn.Conv2d(mid, mid, kernel_size, stride=stride, padding=kernel_size // 2, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.pwconv2 = nn.Conv2d(mid, dim, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(dim)
        self.act = nn.ReLU(inplace=True)
        # A projection where the block changes width or resolution, the identity elsewhere.
        self.shortcut = Shortcut(in_dim, dim, stride) if stride != 1 or in_dim != dim else nn.Identity()
        self.drop_path = DropPath(drop_path)

    def forward(self, x):
        out = self.act(self.bn1(self.pwconv1(x)))
        out = self.act(self.bn2(self.conv(out)))
        out = self.bn3(self.pwconv2(out))
        return self.act(self.shortcut(x) + self.drop_path(out))


CONFIG = NetConfig(
    stem=ResNetStem,
    block=Bottleneck,
    depths=(3, 4, 6, 3),
    dims=(256, 512, 1024, 2048),
    stem_dim=64,
    kernel_size=3,
    drop_path_rate=0.1,  # the paper trains every roadmap step with stochastic depth
)
