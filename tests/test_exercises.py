"""The exercises' machinery: verdicts, the registry, and the behavioural module checker.

`check_module` must accept any correct implementation, whatever its style, and refuse plausible wrong ones with a
line that names what is wrong. These tests use a tiny reference block so they run in milliseconds; the build-it
exercises of the notebooks are tested below with written-out correct and wrong versions of the learner's code.
"""

import inspect

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from convnext_steps import exercises
from convnext_steps.exercises import BuildIt, Verdict, check_module
from convnext_steps.exercises.core import Case, Mistake, NotAttempted

# The machinery, on a tiny block -----------------------------------------------------------------------------------


class Tiny(nn.Module):
    def __init__(self, dim: int, stride: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(dim, dim, 3, stride=stride, padding=1, groups=dim, bias=False)
        self.norm = nn.BatchNorm2d(dim)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.norm(self.conv(x)))


CASES = [Case(dict(dim=4), ((1, 4, 5, 7), (2, 4, 6, 6))), Case(dict(dim=6, stride=2), ((1, 6, 9, 5),))]
ACT_FIRST = Mistake("the ReLU runs before the norm", lambda m, x: m.norm(m.act(m.conv(x))))


def judge(candidate):
    return check_module(candidate, Tiny, CASES, mistakes=[ACT_FIRST])


def test_reference_and_a_differently_written_version_pass():
    assert judge(Tiny) is None

    class Functional(nn.Module):  # same layers, declared in another order, forward with functional calls
        def __init__(self, dim, stride=1):
            super().__init__()
            self.norm = nn.BatchNorm2d(dim)
            self.conv = nn.Conv2d(dim, dim, kernel_size=(3, 3), stride=stride, padding=1, groups=dim, bias=False)
            self.stride = stride

        def forward(self, x):
            x = F.conv2d(x, self.conv.weight, stride=self.stride, padding=1, groups=x.shape[1])
            return torch.clamp(self.norm(x), min=0)

    assert judge(Functional) is None


def test_structure_mistakes_are_named():
    class Dense(Tiny):
        def __init__(self, dim, stride=1):
            super().__init__(dim, stride)
            self.conv = nn.Conv2d(dim, dim, 3, stride=stride, padding=1, bias=False)

    message = judge(Dense)
    assert (
        message.startswith("`conv.weight` has shape (4, 4, 3, 3), ours (4, 1, 3, 3)") and "groups = channels" in message
    )

    class Biased(Tiny):
        def __init__(self, dim, stride=1):
            super().__init__(dim, stride)
            self.conv = nn.Conv2d(dim, dim, 3, stride=stride, padding=1, groups=dim)

    assert judge(Biased).startswith("`conv` has a bias; ours has none") and "(48 parameters, ours 44)" in judge(Biased)

    class Renamed(Tiny):
        def __init__(self, dim, stride=1):
            super().__init__(dim, stride)
            self.bn = self.norm
            del self.norm

        def forward(self, x):
            return self.act(self.bn(self.conv(x)))

    assert judge(Renamed).startswith(
        "missing parameter `norm.weight` (shape (4,)) and 1 more; yours has `bn.weight`, `bn.bias`"
    )

    class Kernel5(Tiny):
        def __init__(self, dim, stride=1):
            super().__init__(dim, stride)
            self.conv = nn.Conv2d(dim, dim, 5, stride=stride, padding=2, groups=dim, bias=False)

    assert "its kernel is 5x5, ours 3x3" in judge(Kernel5)


def test_behaviour_mistakes_are_named():
    class ActFirst(Tiny):
        def forward(self, x):
            return self.norm(self.act(self.conv(x)))

    assert judge(ActFirst) == "the ReLU runs before the norm"

    class NoAct(Tiny):
        def forward(self, x):
            return self.norm(self.conv(x))

    assert judge(NoAct).startswith("output differs from ours by up to ")
    assert judge(NoAct).endswith("for an input (1, 4, 5, 7) (dim=4)")

    class IgnoresStride(Tiny):
        def forward(self, x):
            return self.act(self.norm(F.conv2d(x, self.conv.weight, padding=1, groups=x.shape[1])))

    assert (
        judge(IgnoresStride)
        == "for an input (1, 6, 9, 5) your block returns shape (1, 6, 9, 5), ours (1, 6, 5, 3) (dim=6, stride=2)"
    )

    class Tuple(Tiny):
        def forward(self, x):
            return (super().forward(x),)

    assert judge(Tuple).startswith("your block returned a tuple, expected a tensor")


def test_learners_errors_are_one_line_with_their_line():
    class Broken(Tiny):
        def forward(self, x):
            return self.conv(x) @ x

    message = judge(Broken)
    assert message.startswith("your block's forward on an input (1, 4, 5, 7) raised RuntimeError: ")
    line = inspect.getsourcelines(Broken.forward)[1] + 1
    assert message.endswith(f"(line {line} in forward: return self.conv(x) @ x)") and "\n" not in message

    class BadInit(nn.Module):
        def __init__(self, dim, stride=1):
            super().__init__()
            self.conv = nn.Conv2d(dim, dim, 3, stride, groups=dim + 1)

    assert judge(BadInit).startswith("BadInit(dim=4) raised ValueError: in_channels must be divisible by groups")

    class NotAModule:
        def __init__(self, dim, stride=1):
            pass

    assert judge(NotAModule).startswith("NotAModule is not an nn.Module")
    assert judge(Tiny(4)).startswith("expected a class")


def test_an_untouched_skeleton_is_not_attempted():
    class Skeleton(nn.Module):
        def __init__(self, dim, stride=1):
            super().__init__()
            raise NotImplementedError  # your code here

    class HalfDone(Tiny):
        def forward(self, x):
            raise NotImplementedError  # your code here

    for skeleton in (Skeleton, HalfDone):
        with pytest.raises(NotAttempted):
            judge(skeleton)
    exercise = BuildIt("99.1", "write Tiny", judge, lambda: Tiny, "it normalises each channel, then clips.")
    for candidate in (Skeleton, HalfDone, None):
        verdict = exercise.check(candidate)
        assert verdict.ok is None and repr(verdict).startswith("99.1 not attempted yet: ") and not verdict
    assert repr(exercise.check(Tiny)) == "99.1 right: it normalises each channel, then clips."
    wrong = exercise.check(Tiny.__mro__[1])
    assert wrong.ok is False and repr(wrong).startswith("99.1 not yet: ")


def test_norms_are_given_statistics_so_their_place_shows():
    class NoNorm(Tiny):  # with BN's default statistics (mean 0, var 1, scale 1, shift 0) this would pass
        def forward(self, x):
            return self.act(self.conv(x)) + 0 * self.norm.weight.sum()

    assert judge(NoNorm).startswith("output differs")


# The registry ------------------------------------------------------------------------------------------------------


def test_registry_is_built_from_the_notebook_modules():
    ids = [e.id for m in exercises.MODULES for e in m.EXERCISES]
    assert list(exercises.EXERCISES) == ids and len(set(ids)) == len(ids)
    assert all(m.__name__.endswith(f"nb{i:02d}") for i, m in enumerate(exercises.MODULES))
    for id_, e in exercises.EXERCISES.items():
        module = exercises.MODULES[int(id_[:2])]
        assert e in module.EXERCISES, f"{id_} lives in {module.__name__}"
    with pytest.raises(ValueError, match="unknown exercise '99.9'; known: 00.1, "):
        exercises.check("99.9", 1)
    assert isinstance(exercises.check("00.1", None), Verdict) and exercises.ask("00.2").startswith("Which square")


def test_every_numeric_checker_accepts_its_answer_and_refuses_others():
    from convnext_steps.exercises import Exercise, check, expected

    numeric = [id_ for id_, e in exercises.EXERCISES.items() if isinstance(e, Exercise)]
    assert len(numeric) >= 24
    for exercise_id in numeric:
        right = expected(exercise_id)
        assert check(exercise_id, right), exercise_id
        assert check(exercise_id, None).ok is None
        assert repr(check(exercise_id, None)).startswith(f"{exercise_id} not answered yet: ")
        wrong = "nonsense" if isinstance(right, str) else right
        if isinstance(right, tuple):
            wrong = tuple(v * 2 + 1 for v in right)
        elif isinstance(right, (int, float)):
            wrong = right * 3 + 7
        verdict = check(exercise_id, wrong)
        assert not verdict and "Hint:" in repr(verdict), exercise_id
    assert "too high" in repr(check("07.1", 5.0)) and "too low" in repr(check("07.1", 4.0))
