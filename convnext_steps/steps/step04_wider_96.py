"""Step 04 - widen the network from 64 to 96 channels (Swin-T's width).

ResNeXt's recipe: spend the FLOPs saved by the depthwise conv on more channels. The stem and the
depthwise width of stage 1 go 64 -> 96; every stage scales by 1.5 (outputs 384, 768, 1536, 3072).
Paper: 2.35 -> 5.27 GFLOPs, 78.28 -> 80.50% top-1.
"""

from __future__ import annotations

from . import step03_depthwise_conv as previous

__all__ = ["CONFIG"]

CONFIG = previous.CONFIG.replace(stem_dim=96, dims=(384, 768, 1536, 3072))
