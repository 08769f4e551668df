"""Notebook 19 (backbone and export): its exercise and its checker."""

from __future__ import annotations

from collections import OrderedDict
from functools import cache

import torch

from .core import Exercise


@cache  # a fixed network and size: built once (0.3 s on the meta device), not at every check
def _coarsest_pyramid_map() -> tuple[int, ...]:
    """The shape of the FPN's coarsest map over step 12's backbone, for 2 images of 128x96 (run on the meta device)."""
    from torchvision.ops import FeaturePyramidNetwork  # only when asked: the registry imports every notebook's module

    from ..backbone import Backbone
    from ..roadmap import get_step

    with torch.device("meta"):
        backbone = Backbone(get_step("12").build())
        fpn = FeaturePyramidNetwork(backbone.feature_info.channels(), out_channels=256)
        maps = backbone(torch.empty(2, 3, 128, 96))
        pyramid = fpn(OrderedDict(zip(backbone.feature_info.module_name(), maps)))
    return tuple(list(pyramid.values())[-1].shape)


EXERCISES = (
    Exercise(
        "19.1",
        "Step 12's backbone under a FeaturePyramidNetwork with out_channels=256, on a batch of 2 images of 128x96 "
        "(height x width): what shape has the pyramid's coarsest map, the one from stages.3? Give (N, C, H, W).",
        _coarsest_pyramid_map,
        "stages.3 sits at stride 32, so 128/32 x 96/32 = 4 x 3, and the pyramid gives every scale the same width, "
        "its out_channels: 256 (a 1x1 conv projects the stage's 768). The finest map, at stride 4, is 32 x 24.",
        "read the reduction of stages.3 in the table above; the pyramid's width is its out_channels, not the stage's.",
    ),
)
