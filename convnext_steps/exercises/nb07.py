"""Notebook 07 (kernel 7x7): its exercises and their checkers."""

from __future__ import annotations

from ..measure import count_macs, count_params
from .core import Exercise, meta_model

EXERCISES = (
    Exercise(
        "07.1",
        "Predict the GMACs of step 07 with a 5x5 kernel (build_model('07', kernel_size=5)), then measure.",
        lambda: count_macs(meta_model("07", kernel_size=5)) / 1e9,
        "Only the depthwise convs grow: 25 instead of 49 taps per channel, a few hundredths of a GMAC.",
        "start from step 07's 4.146 G; only the depthwise convs depend on the kernel.",
        tolerance=0.002,
        unit="GMACs",
    ),
    Exercise(
        "07.2",
        "How many parameters does going from 7x7 to 9x9 add to the whole network?",
        lambda: count_params(meta_model("07", kernel_size=9)) - count_params(meta_model("07")),
        "(81 - 49) taps for every channel of every depthwise conv: 32 * (3*96 + (96 + 2*192) + (192 + 8*384) + "
        "(384 + 2*768)) = 32 * 5,952; each stage's first block runs its depthwise conv on the previous stage's "
        "width (the stride-2 conv comes before the widening 1x1).",
        "only the depthwise convs change: count their channels over all blocks, and check each stage's first "
        "block (which width does its depthwise conv run on?).",
        unit="parameters",
    ),
)
