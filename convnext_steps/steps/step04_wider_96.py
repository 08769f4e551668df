"""Step 04 - widen the network from 64 to 96 channels (Swin-T's width).

ResNeXt's recipe: spend the FLOPs saved by the depthwise conv on more channels. The stem and the
depthwise width of stage 1 go 64 -> 96; every stage scales by 1.5 (outputs 384, 768, 1536, 3072).
"""

from __future__ import annotations

from . import step03_depthwise_conv as previous

__all__ = ["CONFIG", "TITLE", "CHANGE", "PAPER_GFLOPS", "PAPER_TOP1", "PAPER_TOP1_STD"]

TITLE = "Width 64 -> 96"
CHANGE = "The network widens from 64 to 96 base channels, Swin-T's width."
PAPER_GFLOPS = 5.27  # Liu et al. 2022, Table 10 (one multiply-add = one FLOP, 224x224)
PAPER_TOP1 = 80.5  # ImageNet-1K, the paper's 300-epoch recipe
PAPER_TOP1_STD = 0.02  # standard deviation of PAPER_TOP1's three seeds (Table 10)

CONFIG = previous.CONFIG.replace(stem_dim=96, dims=(384, 768, 1536, 3072))
