"""Notebook 01 (stage compute ratio): its exercises and their checkers."""

from __future__ import annotations

from ..measure import stage_costs
from .core import Exercise, meta_model


def _stage_share(step: str, stage: int) -> int:
    rows = stage_costs(meta_model(step))
    return round(100 * rows[stage]["macs"] / sum(r["macs"] for r in rows))


EXERCISES = (
    Exercise(
        "01.1",
        "What share of step 01's multiply-adds (in %, rounded) does stage 3 spend?",
        lambda: _stage_share("01", 3),
        "Nine of its 18 blocks sit in stage 3 (14x14): almost half the compute.",
        "use measure.stage_costs(model) and divide stage 3's macs by the total.",
        tolerance=0.03,
        unit="%",
    ),
)
