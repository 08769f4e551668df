"""Step 12 - separate downsampling layers: this is ConvNeXt-T.

ResNet downsamples inside the first block of a stage (stride-2 conv, projection shortcut); Swin uses a
separate patch-merging layer. ConvNeXt does the same with a 2x2 stride-2 conv between stages, with an LN
before it to keep training stable; every block now keeps its width and resolution, so its shortcut is the
identity. There is an LN after the stem (step 11's) and one on the pooled features before the classifier.
The final model also has layer scale (a learned per-channel gain, initialised to 1e-6, on each block's
branch) and stochastic depth (drop-path rate rising linearly per block, 0.1 at the end for T).

Multiply-adds: we count 4.456 G (4,455,531,264) at 224x224 (conv and linear layers; torchvision's ConvNeXt-T is listed
as 4.456 GFLOPs, the same count). The paper prints 4.49 here (and 4.5 in Table 1); normalisation,
GELU and the layer-scale multiply are elementwise, not multiply-adds, and are not in our count.
Paper: 81.47 -> 81.97% top-1 (82.1 in Table 1).
"""
from __future__ import annotations

from functools import partial

import torch
from torch import nn

from . import step11_layernorm as previous
from .network import DropPath
from .step11_layernorm import LN_EPS, LayerNorm2d

__all__ = ["Downsample", "InPlaceGELU", "Block", "CONFIG"]


class Downsample(nn.Sequential):
    """LN, then a 2x2 stride-2 conv: halves the resolution and changes the width between stages."""

    def __init__(self, in_dim: int, dim: int):
        super().__init__()
        self.norm = LayerNorm2d(in_dim)
        self.conv = nn.Conv2d(in_dim, dim, kernel_size=2, stride=2)


class InPlaceGELU(nn.GELU):
    """nn.GELU that overwrites its input when no autograd graph is recorded, like nn.ReLU(inplace=True).

    Inference only: GELU's gradient needs its input, so with autograd this is plain nn.GELU. In the block
    the input is pwconv1's fresh 4x-wide output; not allocating a second one saves more time on CPU
    (page faults on the new memory) than the GELU itself takes (docs/benchmarks.md). As with an in-place
    ReLU, a forward hook that keeps pwconv1's output sees it after the GELU.
    """

    def forward(self, x):
        if torch.is_grad_enabled():
            return super().forward(x)
        return torch.ops.aten.gelu_(x, approximate=self.approximate)


class Block(nn.Module):
    expansion = 4

    def __init__(
        self,
        in_dim: int,
        dim: int,
        stride: int = 1,
        drop_path: float = 0.0,
        kernel_size: int = 7,
        layer_scale_init_value: float = 1e-6,
    ):
        super().__init__()
        if in_dim != dim or stride != 1:
            raise ValueError(f"this block keeps width and resolution (got {in_dim}->{dim}, stride {stride})")
        hidden = self.expansion * dim
        self.dwconv = nn.Conv2d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=LN_EPS)
        self.pwconv1 = nn.Linear(dim, hidden)
        self.act = InPlaceGELU()  # nn.GELU's numbers; in place at inference
        self.pwconv2 = nn.Linear(hidden, dim)
        # Layer scale: the branch starts near zero, so each block starts close to the identity.
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale_init_value)) if layer_scale_init_value > 0 else None
        self.drop_path = DropPath(drop_path)

    def forward(self, x):
        out = self.dwconv(x).permute(0, 2, 3, 1)  # (N, C, H, W) -> (N, H, W, C)
        out = self.pwconv2(self.act(self.pwconv1(self.norm(out))))
        if self._can_add_in_place(x, out):
            return self._add_branch_in_place(x, out)  # inference: the same numbers, two fresh tensors fewer
        if self.gamma is not None:
            out = self.gamma * out
        out = out.permute(0, 3, 1, 2)
        return x + self.drop_path(out)  # identity shortcut: downsampling is a separate layer

    def _can_add_in_place(self, x, out) -> bool:
        # No autograd graph, and no type promotion (under autocast `out` is bf16/fp16 while x is float32).
        same_dtype = out.dtype == x.dtype and (self.gamma is None or self.gamma.dtype == x.dtype)
        return same_dtype and not torch.is_grad_enabled()

    def _add_branch_in_place(self, x, out):
        """x + drop_path(gamma * out), computed in `out`, the branch's own fresh tensor (bit-identical)."""
        if self.gamma is not None:
            out.mul_(self.gamma)
        return self.drop_path(out.permute(0, 3, 1, 2)).add_(x)


CONFIG = previous.CONFIG.replace(
    block=Block,
    downsample=Downsample,
    head_norm=partial(nn.LayerNorm, eps=LN_EPS),  # on the pooled features, before the classifier
    layer_scale_init_value=1e-6,
)
