"""Notebook 10 (fewer norms): its exercises and their checkers."""

from __future__ import annotations

from torch import nn

from .core import Exercise, meta_model


def _branch_norms(step: str) -> int:
    return sum(
        isinstance(m, (nn.BatchNorm2d, nn.LayerNorm))
        for name, m in meta_model(step).named_modules()
        if ".blocks." in name and "shortcut" not in name
    )


EXERCISES = (
    Exercise(
        "10.1",
        "A pre-norm Transformer block normalises twice (before attention, before the MLP). How many "
        "norm calls would 18 such blocks make, and how many do step 10's 18 blocks make in their residual "
        "branches? Give (transformer, step 10).",
        lambda: (2 * sum(meta_model("10").config.depths), _branch_norms("10")),
        "One norm per block: ConvNeXt ends up with fewer norms than a Transformer, not the same number.",
        "count the norms inside one block's branch (not its shortcut), times the blocks.",
    ),
)
