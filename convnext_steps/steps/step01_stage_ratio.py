"""Step 01 - stage compute ratio: blocks per stage (3, 4, 6, 3) -> (3, 3, 9, 3).

Swin-T spends its compute 1:1:3:1 over the four stages; ResNet-50 spends it 3:4:6:3.
Moving blocks into stage 3 (the 14x14 stage) follows Swin. Nothing else changes.
Paper: 4.09 -> 4.53 GFLOPs, 78.82 -> 79.36% top-1.
"""

from __future__ import annotations

from . import step00_resnet50 as previous

__all__ = ["CONFIG"]

CONFIG = previous.CONFIG.replace(depths=(3, 3, 9, 3))
