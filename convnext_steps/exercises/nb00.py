"""Notebook 00 (ResNet-50, the starting point): its exercises and their checkers."""

from __future__ import annotations

from ..measure import count_params
from .core import Exercise, meta_model

EXERCISES = (
    Exercise(
        "00.1",
        "How many parameters does the second bottleneck of stage 1 have (256 -> 64 -> 64 -> 256, identity shortcut)?",
        lambda: count_params(meta_model("00").stages[0].blocks[1]),
        "Three convs without bias (256*64 + 64*64*3*3 + 64*256 weights) and three BNs (2 per channel).",
        "a 1x1 conv from C_in to C_out has C_in*C_out weights, a 3x3 one nine times as many; each BN learns a "
        "scale and a shift per channel; the convs have no bias.",
        unit="parameters",
    ),
    Exercise(
        "00.2",
        "Which square input size, a multiple of ResNet-50's total downsampling, gives a 10x10 last feature map?",
        lambda: 10 * meta_model("00").config.reduction,
        "The network downsamples by 32 in all (4 in the stem, 2 in each of stages 2-4): 10 x 32.",
        "count the stride-2 layers from the image to stage 4, then multiply by 10.",
        unit="pixels",
    ),
)
