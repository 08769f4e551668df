"""Notebook 01 (stage compute ratio): its exercises and their checkers."""

from __future__ import annotations

from ..measure import stage_costs
from ..steps import step00_resnet50
from .core import BuildIt, Exercise, check_config, meta_model

# 01.1 -- build it: step 01's config ----------------------------------------------------------------------------


def _explain(mine, ours) -> str | None:
    blocks = tuple(len(s.blocks) for s in mine.stages)
    if blocks == tuple(len(s.blocks) for s in ours.stages):
        return None
    if len(blocks) != 4:
        return f"your network has {len(blocks)} stages; keep ResNet's four (56, 28, 14 and 7 pixels at 224)"
    if sum(blocks) != 18:
        return (
            f"your stages hold {blocks}, {sum(blocks)} blocks in all; step 01 has 18: Swin-T's ratio 1:1:3:1 with "
            "stage 1's 3 blocks"
        )
    return f"your stages hold {blocks}: Swin-T's ratio 1:1:3:1 puts three times stage 1's blocks into stage 3"


def _judge(candidate):
    return check_config(candidate, "01", _explain)


EXERCISES = (
    BuildIt(
        "01.1",
        "Write step 01's config: step 00's, changed with .replace(...) to Swin-T's 1:1:3:1 blocks per stage.",
        _judge,
        lambda: step00_resnet50.CONFIG.replace(depths=(3, 3, 9, 3)),
        "your config builds step 01's network: ResNet-50's blocks, shapes and widths, with 18 blocks in Swin-T's "
        "ratio 1:1:3:1 instead of 16 in 3:4:6:3; not one line of model code changed.",
        kind="config",
        step="01",
        field=None,
    ),
)


# 01.2 -- predict: where the compute goes -----------------------------------------------------------------------


def _stage_share(step: str, stage: int) -> int:
    rows = stage_costs(meta_model(step))
    return round(100 * rows[stage]["macs"] / sum(r["macs"] for r in rows))


EXERCISES += (
    Exercise(
        "01.2",
        "What share of step 01's multiply-adds (in %, rounded) does stage 3 spend?",
        lambda: _stage_share("01", 3),
        "A block costs about the same in every stage (a sixteenth of the pixels, four times the width: 16x the "
        "multiply-adds per pixel), so the share follows the block count: nine of 18 blocks, almost half.",
        "how does a block's cost change from stage 1 to stage 3 (pixels, and a dense conv's cost in its width)? "
        "ResNet-50's 36% from 6 of 16 blocks is a clue.",
        tolerance=0.1,  # a prediction: the reasoning (a block costs the same everywhere) gives 50, near enough
        unit="%",
    ),
)
