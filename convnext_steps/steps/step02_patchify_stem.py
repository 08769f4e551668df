"""Step 02 - "patchify" stem: a 4x4 conv with stride 4 (non-overlapping patches), then BN.

ResNet's stem (7x7 stride-2 conv + max-pool) downsamples by 4 with overlapping windows; a ViT/Swin
stem cuts the image into non-overlapping patches. A 4x4 stride-4 conv does exactly that and keeps the
same 4x reduction, so every later stage keeps its resolution (56, 28, 14, 7 at 224).
"""

from __future__ import annotations

from torch import nn

from . import step01_stage_ratio as previous

__all__ = ["PatchifyStem", "CONFIG", "TITLE", "CHANGE", "PAPER_GFLOPS", "PAPER_TOP1", "PAPER_TOP1_STD"]

TITLE = "Patchify stem"
CHANGE = "The 7x7/2 conv + max-pool stem becomes a 4x4 conv with stride 4."
PAPER_GFLOPS = 4.42  # Liu et al. 2022, Table 10 (one multiply-add = one FLOP, 224x224)
PAPER_TOP1 = 79.51  # ImageNet-1K, the paper's 300-epoch recipe
PAPER_TOP1_STD = 0.18  # standard deviation of PAPER_TOP1's three seeds (Table 10)


class PatchifyStem(nn.Module):
    def __init__(self, in_chans: int, dim: int):
        super().__init__()
        self.conv = nn.Conv2d(in_chans, dim, kernel_size=4, stride=4, bias=False)
        self.norm = nn.BatchNorm2d(dim)

    def forward(self, x):
        return self.norm(self.conv(x))


CONFIG = previous.CONFIG.replace(stem=PatchifyStem)
