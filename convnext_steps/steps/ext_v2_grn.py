"""Extension - the ConvNeXt V2 block: Global Response Normalization (GRN) after the GELU, no layer scale.

ConvNeXt V2 (Woo et al. 2023, https://arxiv.org/abs/2301.00808, Section 3) finds "feature collapse" in V1's MLP
layers: many of the 4C hidden channels are dead or saturated, or copy one another. GRN makes the channels
compete. For each sample it takes every channel's L2 norm over all pixels, Gx (a C-vector: the channel's total
response), divides it by the mean over channels, Nx = Gx / (mean(Gx) + eps), and rescales each channel by that
relative response: GRN(x) = gamma * (x * Nx) + beta + x. gamma and beta are learned per channel and start at
zero, so a fresh GRN is the identity (the "+ x" is a residual inside the layer). The V2 block drops layer
scale, which the V2 paper finds redundant once GRN is there; the rest of the block is step 12's.

The official code (facebookresearch/ConvNeXt-V2, `models/convnextv2.py` and `models/utils.py`) and timm's
`convnextv2_*` build this network; ours equals timm's `convnextv2_tiny` (tests/test_extensions.py). GRN's
parameters are (C,) here, as timm has them; the official code's are (1, 1, 1, C), which `convert` reshapes.

Parameters: 28,635,496, 46,368 more than ConvNeXt-T: GRN's 2 x 4C per block (52,992) minus layer scale's C
(6,624). Multiply-adds: 4.456 G, exactly step 12's: GRN is elementwise work, and a multiply-add count holds
only the convs and linear layers. The official README prints 4.47 G for ConvNeXt V2-T, which is what fvcore
(a widely used FLOP counter) gives: it also counts 5 FLOPs per LayerNorm element and one per element of the
global average pool, 14,906,112 more, 4,470,437,376 in all for timm's `convnextv2_tiny` (checked by hand; fvcore
is not a dependency here).
Published (official README): 28.6 M parameters, 4.47 GFLOPs, 83.0% ImageNet-1K top-1 after FCMAE
pre-training and fine-tuning (not the roadmap's supervised 300-epoch recipe).
"""

from __future__ import annotations

import torch
from torch import nn

from ..layers import LN_EPS, DropPath
from . import step12_separate_downsampling as previous

__all__ = ["GRN", "Block", "CONFIG", "TITLE", "CHANGE", "README", "SOURCE"]

TITLE = "ConvNeXt V2-T block"
CHANGE = "Each block normalises its hidden channels' responses with GRN after the GELU and drops layer scale."
# Published (parameters in millions, GFLOPs at 224x224, ImageNet-1K top-1 %): facebookresearch/ConvNeXt-V2 README.
README = {"T": (28.6, 4.47, 83.0)}
SOURCE = "official ConvNeXt-V2 README (top-1 after FCMAE pre-training and fine-tuning)"


class GRN(nn.Module):
    """Global Response Normalization on channels-last (N, H, W, C) maps, as the official code has it."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(dim))  # zero: a fresh GRN is the identity
        self.beta = nn.Parameter(torch.zeros(dim))
        self.eps = eps

    def forward(self, x):
        gx = torch.norm(x, p=2, dim=(1, 2), keepdim=True)  # each channel's L2 norm over all pixels: (N, 1, 1, C)
        nx = gx / (gx.mean(dim=-1, keepdim=True) + self.eps)  # relative to the mean channel
        return self.gamma * (x * nx) + self.beta + x


class Block(nn.Module):
    expansion = 4  # hidden width = 4 x the block's output width

    def __init__(self, in_dim: int, dim: int, kernel_size: int, stride: int = 1, drop_path: float = 0.0):
        super().__init__()
        if in_dim != dim or stride != 1:  # Downsample layers change width and resolution now
            raise ValueError(f"this block keeps width and resolution, got {in_dim} -> {dim} channels, stride {stride}")
        hidden = self.expansion * dim
        self.dwconv = nn.Conv2d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=LN_EPS)  # over the last dim: channels, on (N, H, W, C)
        self.pwconv1 = nn.Linear(dim, hidden)  # a 1x1 conv, on channels-last
        self.act = nn.GELU()  # smooth ReLU, as in BERT, GPT-2 and ViT
        self.grn = GRN(hidden)  # the hidden channels compete: against feature collapse
        self.pwconv2 = nn.Linear(hidden, dim)
        self.drop_path = DropPath(drop_path)

    def forward(self, x):
        out = self.dwconv(x).permute(0, 2, 3, 1)  # (N, C, H, W) -> (N, H, W, C)
        out = self.pwconv2(self.grn(self.act(self.pwconv1(self.norm(out)))))
        out = out.permute(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)
        return x + self.drop_path(out)  # identity shortcut


CONFIG = previous.CONFIG.replace(block=Block, layer_scale_init_value=None)  # GRN instead of layer scale
