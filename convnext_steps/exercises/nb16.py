"""Notebook 16 (isotropic ConvNeXt): its exercises and their checkers."""

from __future__ import annotations

from ..measure import count_params, stage_shapes
from .core import Exercise, meta_model

EXERCISES = (
    Exercise(
        "16.1",
        "What (C, H, W) does isotropic ConvNeXt-S carry through all of its 18 blocks, for a 224x224 image?",
        lambda: stage_shapes(meta_model("isotropic_s"))[-1],
        "A 16x16 stride-16 stem cuts 224x224 into 14 x 14 = 196 patches, ViT-S's tokens, each a 384-vector; "
        "no layer after it changes the resolution or the width.",
        "the stem's stride gives H and W; the width is ViT-S's; give a tuple (C, H, W).",
    ),
    Exercise(
        "16.2",
        "How many parameters does one block of isotropic ConvNeXt-S have (width 384, no layer scale)?",
        lambda: count_params(meta_model("isotropic_s").stages[0].blocks[0]),
        "8C^2 + 57C with C = 384: the two linear layers (C x 4C each, with biases 4C and C), the 7x7 "
        "depthwise conv (49C + C) and the LayerNorm (2C).",
        "count the depthwise conv (with bias), the LayerNorm's scale and shift and the two linear layers "
        "384 -> 1536 -> 384 (with biases).",
        unit="parameters",
    ),
)
