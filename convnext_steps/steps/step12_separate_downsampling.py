"""Step 12 - separate downsampling layers: this is ConvNeXt-T.

ResNet downsamples inside the first block of a stage (stride-2 conv, projection shortcut); Swin uses a
separate patch-merging layer. ConvNeXt does the same with a 2x2 stride-2 conv between stages, with an LN
before it to keep training stable; every block now keeps its width and resolution, so its shortcut is the
identity. An LN on the pooled features precedes the classifier, and each block gains layer scale (a learned
per-channel gain on its branch, initialised to 1e-6). The block is written on top of step 11's, rewritten
channels-last as the official code has it (`rewrites.Block`: same outputs).

Multiply-adds: we count 4.456 G (4,455,531,264) at 224x224, exactly what torchvision's ConvNeXt-T counts;
the paper prints 4.49 here (4.5 in Table 1). Normalisation, GELU and the layer-scale multiply are
elementwise, not multiply-adds, and are not in the count.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from ..layers import LN_EPS, DropPath, LayerNorm2d
from . import step11_layernorm as previous

__all__ = ["Downsample", "Block", "CONFIG", "TITLE", "CHANGE", "PAPER_GFLOPS", "PAPER_TOP1", "PAPER_TOP1_STD"]

TITLE = "Separate downsampling (ConvNeXt-T)"
CHANGE = (
    "Stages downsample with separate LN + 2x2 stride-2 convs, an LN precedes the head, and blocks gain layer scale."
)
PAPER_GFLOPS = 4.49  # Liu et al. 2022, Table 10 (one multiply-add = one FLOP, 224x224)
PAPER_TOP1 = 81.97  # 82.1 in Table 1
PAPER_TOP1_STD = 0.06  # standard deviation of PAPER_TOP1's three seeds (Table 10)


class Downsample(nn.Sequential):
    def __init__(self, in_dim: int, dim: int):
        super().__init__()
        self.norm = LayerNorm2d(in_dim)  # a norm where the resolution changes keeps training stable
        self.conv = nn.Conv2d(in_dim, dim, kernel_size=2, stride=2)


class Block(nn.Module):
    expansion = 4  # hidden width = 4 x the block's output width

    def __init__(
        self,
        in_dim: int,
        dim: int,
        kernel_size: int,
        stride: int = 1,
        drop_path: float = 0.0,
        layer_scale_init_value: float = 1e-6,
    ):
        super().__init__()
        if in_dim != dim or stride != 1:  # Downsample layers change width and resolution now
            raise ValueError(f"this block keeps width and resolution, got {in_dim} -> {dim} channels, stride {stride}")
        hidden = self.expansion * dim
        self.dwconv = nn.Conv2d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=LN_EPS)  # over the last dim: channels, on (N, H, W, C)
        self.pwconv1 = nn.Linear(dim, hidden)  # a 1x1 conv, on channels-last
        self.act = nn.GELU()  # smooth ReLU, as in BERT, GPT-2 and ViT
        self.pwconv2 = nn.Linear(hidden, dim)
        # Layer scale: the branch starts near zero, so each block starts close to the identity.
        self.gamma = nn.Parameter(layer_scale_init_value * torch.ones(dim)) if layer_scale_init_value > 0 else None
        self.drop_path = DropPath(drop_path)

    def forward(self, x):
        out = self.dwconv(x).permute(0, 2, 3, 1)  # (N, C, H, W) -> (N, H, W, C)
        out = self.pwconv2(self.act(self.pwconv1(self.norm(out))))
        if self.gamma is not None:
            out = self.gamma * out
        out = out.permute(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)
        return x + self.drop_path(out)  # identity shortcut


CONFIG = previous.CONFIG.replace(
    block=Block,
    downsample=Downsample,
    head_norm=partial(nn.LayerNorm, eps=LN_EPS),  # on the pooled features, before the classifier
    layer_scale_init_value=1e-6,
)
