"""Notebook 12 (separate downsampling, ConvNeXt-T): its exercises and their checkers."""

from __future__ import annotations

from ..measure import cost_breakdown
from .core import Exercise, meta_model


def _downsampling_macs() -> int:
    return sum(r["macs"] for r in cost_breakdown(meta_model("12")) if r["component"] == "downsampling")


EXERCISES = (
    Exercise(
        "12.1",
        "How many parameters does layer scale add to ConvNeXt-T?",
        lambda: sum(p.numel() for n, p in meta_model("12").named_parameters() if n.endswith("gamma")),
        "One gain per channel per block: 3*96 + 3*192 + 9*384 + 3*768.",
        "gamma has one entry per channel of each of the 18 blocks.",
        unit="parameters",
    ),
    Exercise(
        "12.2",
        "How many multiply-adds do ConvNeXt-T's three downsampling layers cost at 224x224?",
        _downsampling_macs,
        "Each 2x2 stride-2 conv costs H*W*4*C_in*C; halving H and W while doubling C keeps each at 57.8 M.",
        "a 2x2 conv from C_in to C at output size H x W costs H*W*2*2*C_in*C.",
        tolerance=0.01,
        unit="MACs",
    ),
)
