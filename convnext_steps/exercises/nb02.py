"""Notebook 02 (patchify stem): its exercises and their checkers."""

from __future__ import annotations

import torch

from .core import Exercise, meta_model


def _stem_shape(step: str, size: int) -> tuple[int, ...]:
    stem = meta_model(step).stem  # shapes only
    return tuple(stem(torch.zeros(1, 3, size, size, device="meta")).shape[1:])


EXERCISES = (
    Exercise(
        "02.1",
        "How many weights has step 02's stem conv (4x4, stride 4, 3 -> 64 channels, no bias)?",
        lambda: meta_model("02").stem.conv.weight.numel(),
        "One 4x4 filter per input channel per output channel: 3 * 64 * 16.",
        "a conv's weight has shape (C_out, C_in, k, k).",
        unit="weights",
    ),
    Exercise(
        "02.2",
        "What (C, H, W) does step 02's stem give for a 256x256 image?",
        lambda: _stem_shape("02", 256),
        "Non-overlapping 4x4 patches: 256 / 4 = 64 per side, one 64-vector per patch.",
        "the stem cuts the image into 4x4 patches; give a tuple (C, H, W).",
    ),
)
