"""Equivalent rewrites: a step's class written another way, with the same parameters and the same outputs.

They are not design changes, so no roadmap step makes them; `design_diff` shows each one as its own,
labelled part of the diff of the step that is written on top of it, and tests/test_design.py proves that
each rewrite computes what the class it rewrites computes.

- `Block`: step 11's InvertedBottleneck written as the official ConvNeXt code writes its block, and named
  as it does: the depthwise conv on (N, C, H, W), then a permute to channels-last (N, H, W, C), so that the
  LayerNorm over channels is a plain `nn.LayerNorm` and the 1x1 convs are `nn.Linear` layers (a 1x1 conv
  is a linear map of each pixel's C-vector). Step 12's Block is written as an edit of this one.
"""

from __future__ import annotations

from torch import nn

from ..layers import LN_EPS, DropPath
from . import step11_layernorm
from .step11_layernorm import Shortcut

__all__ = ["Block", "REWRITES"]


class Block(nn.Module):
    expansion = 4  # hidden width = 4 x the block's output width

    def __init__(self, in_dim: int, dim: int, kernel_size: int, stride: int = 1, drop_path: float = 0.0):
        super().__init__()
        hidden = self.expansion * dim
        self.dwconv = nn.Conv2d(
            in_dim, in_dim, kernel_size, stride=stride, padding=kernel_size // 2, groups=in_dim, bias=True
        )  # a bias now: LN does not make it redundant as BN did
        self.norm = nn.LayerNorm(in_dim, eps=LN_EPS)  # over the last dim: channels, on (N, H, W, C)
        self.pwconv1 = nn.Linear(in_dim, hidden)  # a 1x1 conv, on channels-last
        self.act = nn.GELU()  # smooth ReLU, as in BERT, GPT-2 and ViT
        self.pwconv2 = nn.Linear(hidden, dim)
        # A projection where the block changes width or resolution, the identity elsewhere.
        self.shortcut = Shortcut(in_dim, dim, stride) if stride != 1 or in_dim != dim else nn.Identity()
        self.drop_path = DropPath(drop_path)

    def forward(self, x):
        out = self.dwconv(x).permute(0, 2, 3, 1)  # (N, C, H, W) -> (N, H, W, C)
        out = self.pwconv2(self.act(self.pwconv1(self.norm(out))))
        out = out.permute(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)
        return self.shortcut(x) + self.drop_path(out)  # nor after the sum


# class -> its equivalent rewrite
REWRITES: dict[type, type] = {step11_layernorm.InvertedBottleneck: Block}
