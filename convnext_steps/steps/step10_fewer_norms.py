"""Step 10 - fewer normalisation layers: one BN per block, after the depthwise conv.

A pre-norm Transformer block normalises twice (before attention and before the MLP); the ResNet block
so far normalises after every conv. Removing the BNs after the two 1x1 convs leaves one per block,
*fewer* norms than a Transformer. The kept BN takes ConvNeXt's name, `norm`. With no BN after them,
the 1x1 convs get their bias back (a BN's shift used to make it redundant).
"""

from __future__ import annotations

from torch import nn

from ..layers import DropPath
from . import step09_fewer_activations as previous
from .step00_resnet50 import Shortcut

__all__ = ["InvertedBottleneck", "CONFIG", "TITLE", "CHANGE", "PAPER_GFLOPS", "PAPER_TOP1", "PAPER_TOP1_STD"]

TITLE = "Fewer norms"
CHANGE = "Only one norm is left per block, after the depthwise conv."
PAPER_GFLOPS = 4.15  # Liu et al. 2022, Table 10 (one multiply-add = one FLOP, 224x224)
PAPER_TOP1 = 81.41  # ImageNet-1K, the paper's 300-epoch recipe
PAPER_TOP1_STD = 0.09  # standard deviation of PAPER_TOP1's three seeds (Table 10)


class InvertedBottleneck(nn.Module):
    expansion = 4  # hidden width = 4 x the block's output width

    def __init__(self, in_dim: int, dim: int, kernel_size: int, stride: int = 1, drop_path: float = 0.0):
        super().__init__()
        hidden = self.expansion * dim
        self.dwconv = nn.Conv2d(
            in_dim, in_dim, kernel_size, stride=stride, padding=kernel_size // 2, groups=in_dim, bias=False
        )  # first, on the narrow input
        self.norm = nn.BatchNorm2d(in_dim)  # the one norm left, before the 1x1 "MLP", as in a Transformer
        self.pwconv1 = nn.Conv2d(in_dim, hidden, kernel_size=1)  # a bias again: no BN after it to shift
        self.pwconv2 = nn.Conv2d(hidden, dim, kernel_size=1)
        self.act = nn.GELU()  # smooth ReLU, as in BERT, GPT-2 and ViT
        # A projection where the block changes width or resolution, the identity elsewhere.
        self.shortcut = Shortcut(in_dim, dim, stride) if stride != 1 or in_dim != dim else nn.Identity()
        self.drop_path = DropPath(drop_path)

    def forward(self, x):
        out = self.norm(self.dwconv(x))  # no activation here
        out = self.pwconv2(self.act(self.pwconv1(out)))
        return self.shortcut(x) + self.drop_path(out)  # nor after the sum


CONFIG = previous.CONFIG.replace(block=InvertedBottleneck)
