"""Notebook 17 (ConvNeXt V2's GRN): its exercises and their checkers."""

from __future__ import annotations

import torch

from ..measure import count_params
from .core import Exercise, meta_model


def _grn_factors() -> tuple[float, float]:
    from ..steps.ext_v2_grn import GRN

    grn = GRN(4)
    with torch.no_grad():
        grn.gamma.fill_(1.0)
        x = torch.tensor([1.0, 1.0, 1.0, 5.0]).reshape(1, 1, 1, 4)  # one pixel: each channel's norm is |x|
        factors = (grn(x) / x).flatten()
    return round(factors[0].item(), 4), round(factors[3].item(), 4)


EXERCISES = (
    Exercise(
        "17.1",
        "How many more parameters does ConvNeXt V2-T have than ConvNeXt-T?",
        lambda: count_params(meta_model("v2_tiny")) - count_params(meta_model("12")),
        "GRN adds gamma and beta on the 4C hidden channels of each block (2 x 4 x 6,624 = 52,992) and layer "
        "scale's C per block goes (6,624): 46,368.",
        "per block, GRN has two parameters per hidden channel (4C of them); layer scale had one per channel "
        "(C); sum C over the 18 blocks (3*96 + 3*192 + 9*384 + 3*768).",
        unit="parameters",
    ),
    Exercise(
        "17.2",
        "GRN with gamma = 1 and beta = 0 on a one-pixel map whose four channels are 1, 1, 1 and 5: by "
        "what factor does it scale channel 0 and channel 3? Give (channel 0, channel 3).",
        _grn_factors,
        "With one pixel each channel's norm is |x|: 1, 1, 1, 5, mean 2. Nx = 0.5 and 2.5, and each channel "
        "is multiplied by 1 + gamma * Nx: the strong channel gains most.",
        "GRN(x) = gamma * x * Nx + beta + x with Nx = |x_c| / mean over channels of |x|.",
        tolerance=1e-4,
    ),
)
