"""Notebook 11 (BN -> LN): its exercises and their checkers."""

from __future__ import annotations

import torch
from torch import nn

from .core import Exercise


def _norm_agreement_size() -> int:
    from ..layers import LayerNorm2d

    torch.manual_seed(0)
    for size in range(1, 5):  # the sizes where GroupNorm(1, C) equals ConvNeXt's LayerNorm
        x = torch.randn(2, 8, size, size) * 3 + 1
        if torch.allclose(nn.GroupNorm(1, 8, eps=1e-6)(x), LayerNorm2d(8)(x), atol=1e-5):
            return size
    raise AssertionError("GroupNorm(1, C) and LayerNorm2d never agree")


EXERCISES = (
    Exercise(
        "11.1",
        "On which square map size do GroupNorm(1, C) and ConvNeXt's LayerNorm give the same output? Give the "
        "side length (an int), and think about why they can.",
        _norm_agreement_size,
        "With one pixel, 'over C, H and W' is 'over C': the two normalise the same numbers.",
        "look at norm_axes: when do 'one sample' and 'one pixel' cover the same cells?",
        unit="pixel(s)",
    ),
)
