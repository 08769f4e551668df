"""Notebook 09 (fewer activations): its exercises and their checkers."""

from __future__ import annotations

import torch
from torch import nn

from .core import Exercise


def _calls_family(size: str, kind: type) -> int:
    from ..family import convnext
    from ..notebook import count_calls

    with torch.device("meta"):  # calls are counted on shapes alone
        model = convnext(size)
    return count_calls(model, kind)


EXERCISES = (
    Exercise(
        "09.1",
        "ConvNeXt-S has 36 blocks (3, 3, 27, 3). How many GELU calls does one forward pass of it make?",
        lambda: _calls_family("small", nn.GELU),
        "One GELU per block, between the two 1x1 convs, and none anywhere else: 36.",
        "count the activations in one block (notebook.count_calls(model, nn.GELU) measures a whole network).",
    ),
)
