"""Notebook 05 (inverted bottleneck): its exercises and their checkers."""

from __future__ import annotations

from ..measure import cost_breakdown
from .core import Exercise, meta_model


def _largest_drop(a: str, b: str) -> str:
    totals: dict[str, int] = {}
    for sign, step in ((1, a), (-1, b)):
        for r in cost_breakdown(meta_model(step)):
            totals[r["component"]] = totals.get(r["component"], 0) + sign * r["macs"]
    return max(totals, key=totals.get)


EXERCISES = (
    Exercise(
        "05.1",
        "What is the hidden (widest) width inside a stage-3 block of step 05?",
        lambda: meta_model("05").stages[2].blocks[1].pwconv1.out_channels,
        "The inverted bottleneck expands its 384-channel input 4x inside.",
        "stage 3 is 384 wide at the block's ends; look at `expansion`.",
        unit="channels",
    ),
    Exercise(
        "05.2",
        "Step 05 has fewer multiply-adds than step 04 although its depthwise conv runs 4x wider. Which "
        "component lost the most: 'stem', 'blocks', 'downsampling' or 'head'?",
        lambda: _largest_drop("04", "05"),
        "The projection shortcuts of the downsampling blocks now map 96->192 (not 384->768) channels.",
        "compare measure.cost_breakdown of both steps, component by component.",
    ),
)
