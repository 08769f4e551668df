"""Notebook 04 (width 64 -> 96): its exercises and their checkers."""

from __future__ import annotations

from ..steps import step03_depthwise_conv
from .core import BuildIt, Exercise, check_config

EXERCISES = (
    Exercise(
        "04.1",
        "Step 04 widens every layer 1.5x. By what factor grow the MACs of a dense 1x1 conv and of a "
        "depthwise conv? Give (dense, depthwise).",
        lambda: (1.5**2, 1.5),
        "A dense conv's cost scales with C_in * C_out, a depthwise conv's with C only.",
        "write each conv's MACs per pixel in terms of the channel count C.",
        tolerance=1e-9,
    ),
)


# 04.2 -- build it: step 04's config ----------------------------------------------------------------------------


def _explain(mine, ours) -> str | None:
    stem, want = mine.stem.conv.out_channels, ours.stem.conv.out_channels
    if stem != want:
        return f"your stem outputs {stem} channels; step 04 widens it like every layer, 1.5 x step 03's 64"
    widths = tuple(s.blocks[-1].pwconv2.out_channels for s in mine.stages)
    if widths != tuple(s.blocks[-1].pwconv2.out_channels for s in ours.stages):
        return f"your stages output {widths} channels; step 04's are 1.5 x step 03's (256, 512, 1024, 2048)"
    return None


def _judge(candidate):
    return check_config(candidate, "04", _explain)


EXERCISES += (
    BuildIt(
        "04.2",
        "Write step 04's config: step 03's, changed with .replace(...) to 1.5x the width everywhere (stem 96).",
        _judge,
        lambda: step03_depthwise_conv.CONFIG.replace(stem_dim=96, dims=(384, 768, 1536, 3072)),
        "your config builds step 04's network: every width 1.5x, so the dense 1x1 convs cost 2.25x and hold 2.25x "
        "the parameters, while the depthwise convs grow only 1.5x.",
        kind="config",
        step="04",
        field=None,
    ),
)
