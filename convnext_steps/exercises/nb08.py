"""Notebook 08 (ReLU -> GELU): its exercises and their checkers."""

from __future__ import annotations

import torch
from torch import nn

from .core import Exercise


def _gelu_min() -> float:
    x = torch.linspace(-3, 0, 300_001, dtype=torch.float64)
    return round(x[nn.functional.gelu(x).argmin()].item(), 2)


EXERCISES = (
    Exercise(
        "08.1",
        "What is GELU(-1), to 3 decimals? (GELU(x) = x * Phi(x), Phi the standard normal CDF.)",
        lambda: round(nn.functional.gelu(torch.tensor(-1.0, dtype=torch.float64)).item(), 3),
        "-1 * Phi(-1) = -0.1587: unlike ReLU, GELU lets a little of a negative input through.",
        "Phi(-1) is about 0.159.",
        tolerance=0.004,
    ),
    Exercise(
        "08.2",
        "Where is GELU smallest (x to 2 decimals)?",
        _gelu_min,
        "GELU dips to about -0.17 near x = -0.75, then rises back to 0: it is not monotonic.",
        "plot it, or look for the zero of its derivative Phi(x) + x * phi(x).",
        tolerance=0.02,
        digits=2,
    ),
)
