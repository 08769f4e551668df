"""Notebook 13 (the roadmap compared): its exercise and its checker."""

from __future__ import annotations

from ..roadmap import ROADMAP
from .core import Exercise


def _steps_that_lose() -> tuple[int, ...]:
    """The steps whose paper top-1 is below the step before theirs (Table 10), by number."""
    return tuple(int(s.id[:2]) for before, s in zip(ROADMAP, ROADMAP[1:]) if s.paper_top1 < before.paper_top1)


EXERCISES = (
    Exercise(
        "13.1",
        "Which two of the paper's thirteen steps lose top-1 against the step before them? Give their numbers, "
        "smaller first: (a, b).",
        _steps_that_lose,
        "Step 03 (depthwise conv) and step 06 (the depthwise conv moved up) both cut compute, and each makes room "
        "for the step after it: 03's savings pay for step 04's width, 06's for step 07's 7x7 kernel.",
        "both steps cut the multiply-adds; look for the changes that make the network cheaper, not better.",
    ),
)
