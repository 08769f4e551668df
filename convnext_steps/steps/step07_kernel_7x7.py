"""Step 07 - larger kernel: the depthwise conv grows from 3x3 to 7x7.

Swin's attention windows are 7x7; VGG-era ConvNets stacked 3x3s because large dense kernels were
expensive. With the depthwise conv moved up to the narrow tensor, a 7x7 kernel costs little.
The paper swept k = 3, 5, 7, 9, 11 and saw the benefit saturate at 7. The sweep is this step with
`kernel_size=k`, not separate copies.
"""

from __future__ import annotations

from . import step06_dwconv_up as previous

__all__ = ["CONFIG", "KERNEL_SWEEP", "TITLE", "CHANGE", "PAPER_GFLOPS", "PAPER_TOP1", "PAPER_TOP1_STD"]

TITLE = "Kernel 7x7"
CHANGE = "The depthwise kernel grows from 3x3 to 7x7."
PAPER_GFLOPS = 4.15  # Liu et al. 2022, Table 10 (one multiply-add = one FLOP, 224x224)
PAPER_TOP1 = 80.57  # ImageNet-1K, the paper's 300-epoch recipe
PAPER_TOP1_STD = 0.14  # standard deviation of PAPER_TOP1's three seeds (Table 10)

# The paper's kernel-size sweep (Section 2.5): kernel size -> (GFLOPs, top-1).
KERNEL_SWEEP = {3: (4.07, 79.92), 5: (4.10, 80.35), 7: (4.15, 80.57), 9: (4.21, 80.57), 11: (4.29, 80.47)}

CONFIG = previous.CONFIG.replace(kernel_size=7)
