"""Notebook 04 (width 64 -> 96): its exercises and their checkers."""

from __future__ import annotations

from ..steps import step03_depthwise_conv
from .core import BuildIt, Exercise, check_config, meta_model

# 04.1 -- build it: step 04's config ----------------------------------------------------------------------------


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


EXERCISES = (
    BuildIt(
        "04.1",
        "Write step 04's config: step 03's, changed with .replace(...) to 1.5x the width everywhere (stem 96).",
        _judge,
        lambda: step03_depthwise_conv.CONFIG.replace(stem_dim=96, dims=(384, 768, 1536, 3072)),
        "your config builds step 04's network: the stem and every stage 1.5x wider, Swin-T's base width 96, with "
        "not one line of model code changed.",
        kind="config",
        step="04",
        field=None,
    ),
)


# 04.2 -- predict: what 1.5x the width costs ---------------------------------------------------------------


def _growth(a: str, b: str) -> tuple[float, float]:
    """(dense 1x1, depthwise) MACs ratio in a stage-1 block, b over a: same pixels, so the weight counts' ratio."""
    before, after = (meta_model(s).stages[0].blocks[1] for s in (a, b))
    return tuple(
        after_conv.weight.numel() / before_conv.weight.numel()
        for before_conv, after_conv in ((before.pwconv1, after.pwconv1), (before.dwconv, after.dwconv))
    )


EXERCISES += (
    Exercise(
        "04.2",
        "Step 04 widens every layer 1.5x. By what factor grow the MACs of a dense 1x1 conv and of a "
        "depthwise conv? Give (dense, depthwise).",
        lambda: _growth("03", "04"),
        "A dense conv's cost scales with C_in * C_out, a depthwise conv's with C only.",
        "write each conv's MACs per pixel in terms of the channel count C.",
        tolerance=1e-9,
    ),
)
