"""Step 01 - stage compute ratio: blocks per stage (3, 4, 6, 3) -> (3, 3, 9, 3).

Swin-T spends its compute 1:1:3:1 over the four stages; ResNet-50 spends it 3:4:6:3.
Moving blocks into stage 3 (the 14x14 stage) follows Swin. Nothing else changes.
"""

from __future__ import annotations

from . import step00_resnet50 as previous

__all__ = ["CONFIG", "TITLE", "CHANGE", "PAPER_GFLOPS", "PAPER_TOP1", "PAPER_TOP1_STD"]

TITLE = "Stage compute ratio"
CHANGE = "Blocks per stage (3, 4, 6, 3) -> (3, 3, 9, 3), Swin-T's 1:1:3:1."
PAPER_GFLOPS = 4.53  # Liu et al. 2022, Table 10 (one multiply-add = one FLOP, 224x224)
PAPER_TOP1 = 79.36  # ImageNet-1K, the paper's 300-epoch recipe
PAPER_TOP1_STD = 0.07  # standard deviation of PAPER_TOP1's three seeds (Table 10)

CONFIG = previous.CONFIG.replace(depths=(3, 3, 9, 3))
