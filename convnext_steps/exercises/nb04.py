"""Notebook 04 (width 64 -> 96): its exercises and their checkers."""

from __future__ import annotations

from .core import Exercise

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
