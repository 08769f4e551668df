"""Step 08 - replace ReLU with GELU.

GELU, a smooth ReLU, is what BERT, GPT-2 and ViT use. In the ConvNet it is a drop-in swap in every
block (the patchify stem has no activation). Accuracy barely moves; the next steps make the swap pay.
"""

from __future__ import annotations

from torch import nn

from ..layers import DropPath
from . import step07_kernel_7x7 as previous
from .step00_resnet50 import Shortcut

__all__ = ["InvertedBottleneck", "CONFIG", "TITLE", "CHANGE", "PAPER_GFLOPS", "PAPER_TOP1", "PAPER_TOP1_STD"]

TITLE = "ReLU -> GELU"
CHANGE = "Every ReLU becomes a GELU."
PAPER_GFLOPS = 4.15  # Liu et al. 2022, Table 10 (one multiply-add = one FLOP, 224x224)
PAPER_TOP1 = 80.62  # ImageNet-1K, the paper's 300-epoch recipe
PAPER_TOP1_STD = 0.14  # standard deviation of PAPER_TOP1's three seeds (Table 10)


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
        self.act = nn.GELU()  # smooth ReLU, as in BERT, GPT-2 and ViT
        # A projection where the block changes width or resolution, the identity elsewhere.
        self.shortcut = Shortcut(in_dim, dim, stride) if stride != 1 or in_dim != dim else nn.Identity()
        self.drop_path = DropPath(drop_path)

    def forward(self, x):
        out = self.act(self.bn2(self.dwconv(x)))
        out = self.act(self.bn1(self.pwconv1(out)))
        out = self.bn3(self.pwconv2(out))
        return self.act(self.shortcut(x) + self.drop_path(out))


CONFIG = previous.CONFIG.replace(block=InvertedBottleneck)
