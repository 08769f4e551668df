"""The notebooks' exercises, each with a checker that says right or wrong, and why.

    from convnext_steps import exercises
    exercises.check("07.2", 4.1)                   # a prediction: "07.2 right: ..." or "07.2 not yet: ..."
    exercises.check("05.3", InvertedBottleneck)    # a build-it: the learner's class, judged by behaviour

Each notebook's exercises, their data and their checkers live side by side in `nbNN.py`; `core.py` holds what they
share (`Verdict`, `Exercise`, `BuildIt`, `check_module`). This file builds the one registry. Every expected answer is
computed from the package when a check runs, never typed in. `None` means "not answered yet", so a notebook runs
top to bottom before the reader has answered.
"""

from __future__ import annotations

from typing import Any

from . import (
    core,
    nb00,
    nb01,
    nb02,
    nb03,
    nb04,
    nb05,
    nb06,
    nb07,
    nb08,
    nb09,
    nb10,
    nb11,
    nb12,
    nb13,
    nb14,
    nb15,
    nb16,
    nb17,
    nb18,
    nb19,
)
from .core import BuildIt, Exercise, Verdict, check_module

__all__ = ["Exercise", "BuildIt", "Verdict", "check_module", "EXERCISES", "check", "expected", "ask", "in_network"]

MODULES = (
    nb00,
    nb01,
    nb02,
    nb03,
    nb04,
    nb05,
    nb06,
    nb07,
    nb08,
    nb09,
    nb10,
    nb11,
    nb12,
    nb13,
    nb14,
    nb15,
    nb16,
    nb17,
    nb18,
    nb19,
)

EXERCISES: dict[str, Exercise | BuildIt] = {e.id: e for m in MODULES for e in m.EXERCISES}


def check(exercise_id: str, answer: Any) -> Verdict:
    """Check `answer` (a number, a tuple, a word, or the learner's class) for exercise `exercise_id` ("07.1")."""
    return _get(exercise_id).check(answer)


def expected(exercise_id: str) -> Any:
    """The right answer (computed), or for a build-it our reference solution: for tests and readers who give up."""
    return _get(exercise_id).expected()


def in_network(exercise_id: str, candidate: Any) -> Verdict:
    """Once build-it `exercise_id` is solved, the learner's class in its step's network, compared with the step's."""
    exercise = _get(exercise_id)
    if not isinstance(exercise, BuildIt):
        raise ValueError(f"exercise {exercise_id} is a prediction, not a build-it: nothing goes into a network")
    return core.in_network(exercise, candidate)


def ask(exercise_id: str) -> str:
    """The question's text."""
    return _get(exercise_id).question


def _get(exercise_id: str) -> Exercise | BuildIt:
    if exercise_id not in EXERCISES:
        raise ValueError(f"unknown exercise {exercise_id!r}; known: {', '.join(EXERCISES)}")
    return EXERCISES[exercise_id]
