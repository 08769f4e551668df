"""Notebook 03 (depthwise conv): its exercises and their checkers."""

from __future__ import annotations

from torch import nn

from .core import Exercise, meta_model

EXERCISES = (
    Exercise(
        "03.1",
        "How many weights have a depthwise 3x3 conv and a dense 3x3 conv on 128 channels (no bias)? "
        "Give (depthwise, dense).",
        lambda: (
            nn.Conv2d(128, 128, 3, groups=128, bias=False).weight.numel(),
            nn.Conv2d(128, 128, 3, bias=False).weight.numel(),
        ),
        "Depthwise: one 3x3 filter per channel (128 * 9); dense: one per channel pair (128 * 128 * 9).",
        "depthwise means groups = channels: each output channel sees one input channel.",
    ),
    Exercise(
        "03.2",
        "By what factor does making it depthwise cut the MACs of the 3x3 conv in step 03's stage 3?",
        lambda: (
            meta_model("02").stages[2].blocks[1].conv.weight.numel()
            // meta_model("03").stages[2].blocks[1].dwconv.weight.numel()
        ),
        "By the channel count (256 there): each output channel now sums over 1 input channel instead of 256.",
        "compare the two convs' weight counts: MACs per pixel equal the weight count.",
    ),
)
