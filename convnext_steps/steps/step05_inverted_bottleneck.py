"""Step 05 - inverted bottleneck: narrow -> wide -> narrow (1x1 96->384, depthwise 3x3 on 384, 1x1 384->96).

A Transformer's MLP block is 4x wider inside than at its ends; MobileNetV2's inverted bottleneck is the
ConvNet version. The block now keeps the stage width (96, 192, 384, 768) at its ends and expands 4x inside.
The depthwise conv costs more (it runs on the wide tensor), but the whole network costs less: the
downsampling blocks' 1x1 shortcut convs now map 96->192 instead of 384->768 channels.
"""

from __future__ import annotations

from torch import nn

from ..layers import DropPath
from . import step04_wider_96 as previous
from .step00_resnet50 import Shortcut

__all__ = ["InvertedBottleneck", "CONFIG", "TITLE", "CHANGE", "PAPER_GFLOPS", "PAPER_TOP1", "PAPER_TOP1_STD"]

TITLE = "Inverted bottleneck"
CHANGE = "The block becomes narrow-wide-narrow: 1x1 96->384, depthwise 3x3 on 384, 1x1 384->96."
PAPER_GFLOPS = 4.64  # Liu et al. 2022, Table 10 (one multiply-add = one FLOP, 224x224)
PAPER_TOP1 = 80.64  # ImageNet-1K, the paper's 300-epoch recipe
PAPER_TOP1_STD = 0.03  # standard deviation of PAPER_TOP1's three seeds (Table 10)


class InvertedBottleneck(nn.Module):
    expansion = 4  # hidden width = 4 x the block's output width

    def __init__(self, in_dim: int, dim: int, kernel_size: int, stride: int = 1, drop_path: float = 0.0):
        super().__init__()
        hidden = self.expansion * dim
        self.pwconv1 = nn.Conv2d(in_dim, hidden, kernel_size=1, bias=False)  # no bias: the BN after it shifts
        self.bn1 = nn.BatchNorm2d(hidden)
        self.dwconv = nn.Conv2d(
            hidden, hidden, kernel_size, stride=stride, padding=kernel_size // 2, groups=hidden, bias=False
        )
        self.bn2 = nn.BatchNorm2d(hidden)
        self.pwconv2 = nn.Conv2d(hidden, dim, kernel_size=1, bias=False)
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


CONFIG = previous.CONFIG.replace(block=InvertedBottleneck, dims=(96, 192, 384, 768))
