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
    assert isinstance(exercises.check("00.2", None), Verdict) and exercises.ask("00.3").startswith("From the image")


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
    assert "too high" in repr(check("07.2", 5.0)) and "too low" in repr(check("07.2", 4.0))


# The build-it exercises of notebooks 00-06: our solutions, correct code written differently, plausible mistakes --

from convnext_steps.steps import step00_resnet50 as s00  # noqa: E402
from convnext_steps.steps import step02_patchify_stem as s02  # noqa: E402
from convnext_steps.steps import step03_depthwise_conv as s03  # noqa: E402
from convnext_steps.steps import step05_inverted_bottleneck as s05  # noqa: E402
from convnext_steps.steps import step06_dwconv_up as s06  # noqa: E402


@pytest.mark.parametrize("exercise_id", ["00.1", "01.1", "02.1", "03.1", "04.1", "05.1", "06.1"])
def test_our_solution_passes_and_the_skeleton_is_not_attempted(exercise_id):
    exercise = exercises.EXERCISES[exercise_id]
    assert isinstance(exercise, BuildIt)
    verdict = exercises.check(exercise_id, exercises.expected(exercise_id))
    assert verdict.ok is True and repr(verdict).startswith(f"{exercise_id} right: "), repr(verdict)
    assert repr(exercises.check(exercise_id, None)).startswith(f"{exercise_id} not attempted yet: ")
    assert repr(exercises.in_network(exercise_id, None)) == f"skipped: exercise {exercise_id} not solved yet"


def test_in_network_compares_the_whole_model():
    verdict = exercises.in_network("02.1", s02.PatchifyStem)
    assert verdict.ok and repr(verdict).startswith(
        "your PatchifyStem in step 02_patchify_stem's network: 28,622,184 parameters"
    )
    assert repr(verdict).endswith("the same logits as the step's model on a 64x64 image (max |diff| < 1e-4)")
    with pytest.raises(ValueError, match="00.2 is a prediction"):
        exercises.in_network("00.2", 3)


# 00.1: the bottleneck's forward (the learner writes forward only; __init__ is given)


class Forward00Functional(s00.Bottleneck):  # correct: functional calls, torch.add
    def forward(self, x):
        out = F.relu(self.bn1(self.pwconv1(x)))
        out = F.relu(self.bn2(self.conv(out)))
        branch = self.drop_path(self.bn3(self.pwconv2(out)))
        return F.relu(torch.add(branch, self.shortcut(x)))


class Forward00InPlace(s00.Bottleneck):  # correct: a loop over (conv, norm) pairs and in-place ops
    def forward(self, x):
        out = x
        for conv, norm in ((self.pwconv1, self.bn1), (self.conv, self.bn2)):
            out = norm(conv(out)).clamp_(min=0)
        out = self.drop_path(self.bn3(self.pwconv2(out)))
        out += self.shortcut(x)
        return out.relu_()


class Forward00NoReluAfterSum(s00.Bottleneck):
    def forward(self, x):
        out = self.act(self.bn1(self.pwconv1(x)))
        out = self.act(self.bn2(self.conv(out)))
        return self.shortcut(x) + self.drop_path(self.bn3(self.pwconv2(out)))


class Forward00ReluBeforeSum(s00.Bottleneck):
    def forward(self, x):
        out = self.act(self.bn1(self.pwconv1(x)))
        out = self.act(self.bn2(self.conv(out)))
        return self.shortcut(x) + self.act(self.drop_path(self.bn3(self.pwconv2(out))))


class Forward00NoShortcut(s00.Bottleneck):
    def forward(self, x):
        out = self.act(self.bn1(self.pwconv1(x)))
        out = self.act(self.bn2(self.conv(out)))
        return self.act(self.bn3(self.pwconv2(out)))


class Forward00NoDropPath(s00.Bottleneck):
    def forward(self, x):
        out = self.act(self.bn1(self.pwconv1(x)))
        out = self.act(self.bn2(self.conv(out)))
        return self.act(self.shortcut(x) + self.bn3(self.pwconv2(out)))


class Forward00AddsInput(s00.Bottleneck):  # x instead of shortcut(x): right where the block keeps its shape only
    def forward(self, x):
        out = self.act(self.bn1(self.pwconv1(x)))
        out = self.act(self.bn2(self.conv(out)))
        return self.act(x + self.drop_path(self.bn3(self.pwconv2(out))))


# 02.1: the patchify stem


class Stem02Reordered(nn.Module):  # correct: norm declared first, kernel and stride as tuples, functional conv
    def __init__(self, in_chans, dim):
        super().__init__()
        self.norm = nn.BatchNorm2d(dim)
        self.conv = nn.Conv2d(in_chans, dim, (4, 4), (4, 4), bias=False)

    def forward(self, x):
        return self.norm(F.conv2d(x, self.conv.weight, stride=4))


def _stem(kernel=4, stride=4, padding=0, bias=False, norm=True, relu=False):
    class Stem(nn.Module):
        def __init__(self, in_chans, dim):
            super().__init__()
            self.conv = nn.Conv2d(in_chans, dim, kernel, stride, padding, bias=bias)
            if norm:
                self.norm = nn.BatchNorm2d(dim)

        def forward(self, x):
            x = self.norm(self.conv(x)) if norm else self.conv(x)
            return x.relu() if relu else x

    return Stem


# 03.1 / 05.1 / 06.1: blocks written out in full


class Block03Sequential(nn.Module):  # correct: attributes in another order, nn.Sequential shortcut, F.relu
    expansion = 4

    def __init__(self, in_dim, dim, kernel_size, stride=1, drop_path=0.0):
        super().__init__()
        mid = dim // 4
        self.drop_path = s00.DropPath(drop_path)
        self.act = nn.ReLU()
        self.pwconv2 = nn.Conv2d(mid, dim, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(dim)
        self.pwconv1 = nn.Conv2d(in_dim, mid, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.dwconv = nn.Conv2d(mid, mid, kernel_size, stride, kernel_size // 2, groups=mid, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        if stride == 1 and in_dim == dim:
            self.shortcut = nn.Identity()
        else:
            self.shortcut = nn.Sequential(nn.Conv2d(in_dim, dim, 1, stride, bias=False), nn.BatchNorm2d(dim))

    def forward(self, x):
        y = F.relu(self.bn1(self.pwconv1(x)))
        y = F.relu(self.bn2(self.dwconv(y)))
        return F.relu(self.drop_path(self.bn3(self.pwconv2(y))) + self.shortcut(x))


def _block03(groups=None, stride_on_1x1=False, kernel=None, padding=True):
    class Block(s03.Bottleneck):
        def __init__(self, in_dim, dim, kernel_size, stride=1, drop_path=0.0):
            super().__init__(in_dim, dim, kernel_size, stride, drop_path)
            mid, k = dim // 4, kernel or kernel_size
            conv_stride = 1 if stride_on_1x1 else stride
            self.dwconv = nn.Conv2d(
                mid, mid, k, conv_stride, k // 2 if padding else 0, groups=mid if groups is None else groups, bias=False
            )
            if stride_on_1x1:
                self.pwconv1 = nn.Conv2d(in_dim, mid, 1, stride, bias=False)

    return Block


class Block05Functional(nn.Module):  # correct: hidden from dim * 4, the branch in functional calls
    def __init__(self, in_dim, dim, kernel_size, stride=1, drop_path=0.0):
        super().__init__()
        hidden = dim * 4
        self.pwconv1 = nn.Conv2d(in_dim, hidden, kernel_size=1, bias=False)
        self.dwconv = nn.Conv2d(hidden, hidden, kernel_size, stride, kernel_size // 2, groups=hidden, bias=False)
        self.pwconv2 = nn.Conv2d(hidden, dim, kernel_size=1, bias=False)
        self.bn1, self.bn2, self.bn3 = nn.BatchNorm2d(hidden), nn.BatchNorm2d(hidden), nn.BatchNorm2d(dim)
        self.act = nn.ReLU(inplace=True)
        self.shortcut = s00.Shortcut(in_dim, dim, stride) if stride != 1 or in_dim != dim else nn.Identity()
        self.drop_path = s00.DropPath(drop_path)
        self.stride, self.pad = stride, kernel_size // 2

    def forward(self, x):
        h = F.relu(self.bn1(F.conv2d(x, self.pwconv1.weight)))
        h = F.conv2d(h, self.dwconv.weight, stride=self.stride, padding=self.pad, groups=h.shape[1])
        h = self.bn3(F.conv2d(F.relu(self.bn2(h)), self.pwconv2.weight))
        return F.relu(self.shortcut(x) + self.drop_path(h))


def _block05(hidden_of=lambda in_dim, dim: 4 * dim, stride_on_1x1=False, relu_after_sum=True):
    class Block(nn.Module):
        def __init__(self, in_dim, dim, kernel_size, stride=1, drop_path=0.0):
            super().__init__()
            hidden = hidden_of(in_dim, dim)
            s1, s2 = (stride, 1) if stride_on_1x1 else (1, stride)
            self.pwconv1 = nn.Conv2d(in_dim, hidden, 1, s1, bias=False)
            self.bn1 = nn.BatchNorm2d(hidden)
            self.dwconv = nn.Conv2d(hidden, hidden, kernel_size, s2, kernel_size // 2, groups=hidden, bias=False)
            self.bn2 = nn.BatchNorm2d(hidden)
            self.pwconv2 = nn.Conv2d(hidden, dim, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(dim)
            self.act = nn.ReLU()
            self.shortcut = s00.Shortcut(in_dim, dim, stride) if stride != 1 or in_dim != dim else nn.Identity()
            self.drop_path = s00.DropPath(drop_path)

        def forward(self, x):
            out = self.act(self.bn1(self.pwconv1(x)))
            out = self.act(self.bn2(self.dwconv(out)))
            out = self.shortcut(x) + self.drop_path(self.bn3(self.pwconv2(out)))
            return self.act(out) if relu_after_sum else out

    return Block


class Block06Listed(
    nn.Module
):  # correct: the branch's layers run from a list, torch.relu, layers declared in use order
    def __init__(self, in_dim, dim, kernel_size, stride=1, drop_path=0.0):
        super().__init__()
        self.dwconv = nn.Conv2d(in_dim, in_dim, kernel_size, stride, kernel_size // 2, groups=in_dim, bias=False)
        self.bn2 = nn.BatchNorm2d(in_dim)
        self.pwconv1 = nn.Conv2d(in_dim, 4 * dim, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(4 * dim)
        self.pwconv2 = nn.Conv2d(4 * dim, dim, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(dim)
        self.act = nn.ReLU()
        self.shortcut = s00.Shortcut(in_dim, dim, stride) if stride != 1 or in_dim != dim else nn.Identity()
        self.drop_path = s00.DropPath(drop_path)

    def forward(self, x):
        out = x
        for conv, norm, relu in (
            (self.dwconv, self.bn2, True),
            (self.pwconv1, self.bn1, True),
            (self.pwconv2, self.bn3, False),
        ):
            out = norm(conv(out))
            out = torch.relu(out) if relu else out
        return torch.relu(self.shortcut(x) + self.drop_path(out))


class Block05SwappedNorms(s05.InvertedBottleneck):  # a BN in the wrong place
    def forward(self, x):
        out = self.act(self.bn2(self.pwconv1(x)))
        out = self.act(self.bn1(self.dwconv(out)))
        return self.act(self.shortcut(x) + self.drop_path(self.bn3(self.pwconv2(out))))


class Block06StillWide(s05.InvertedBottleneck):  # step 05's block, its layers merely listed in 06's order
    pass


class Block06StrideOn1x1(s06.InvertedBottleneck):
    def __init__(self, in_dim, dim, kernel_size, stride=1, drop_path=0.0):
        super().__init__(in_dim, dim, kernel_size, stride, drop_path)
        self.dwconv = nn.Conv2d(in_dim, in_dim, kernel_size, 1, kernel_size // 2, groups=in_dim, bias=False)
        self.pwconv1 = nn.Conv2d(in_dim, 4 * dim, 1, stride, bias=False)


class Block06NoNormAfterDw(s06.InvertedBottleneck):
    def forward(self, x):
        out = self.act(self.dwconv(x))
        out = self.act(self.bn1(self.pwconv1(out)))
        return self.act(self.shortcut(x) + self.drop_path(self.bn3(self.pwconv2(out))))


class Block06NoReluAfterDw(s06.InvertedBottleneck):
    def forward(self, x):
        out = self.bn2(self.dwconv(x))
        out = self.act(self.bn1(self.pwconv1(out)))
        return self.act(self.shortcut(x) + self.drop_path(self.bn3(self.pwconv2(out))))


CORRECT = [
    ("00.1", Forward00Functional),
    ("00.1", Forward00InPlace),
    ("02.1", Stem02Reordered),
    ("03.1", Block03Sequential),
    ("05.1", Block05Functional),
    ("06.1", Block06Listed),
    ("01.1", s00.CONFIG.replace(depths=[3, 3, 9, 3])),  # a list, not a tuple
]


@pytest.mark.parametrize("exercise_id, candidate", CORRECT, ids=lambda c: getattr(c, "__name__", str(c)[:8]))
def test_correct_code_written_differently_passes(exercise_id, candidate):
    verdict = exercises.check(exercise_id, candidate)
    assert verdict.ok is True, repr(verdict)


WRONG = [
    ("00.1", Forward00NoReluAfterSum, "the ReLU after the sum is missing"),
    ("00.1", Forward00ReluBeforeSum, "the last ReLU runs on the branch before the sum"),
    ("00.1", Forward00NoShortcut, "the shortcut is missing"),
    ("00.1", Forward00NoDropPath, "drop path is not applied"),
    ("00.1", Forward00AddsInput, "raised RuntimeError: The size of tensor a (13) must match the size of tensor b (7)"),
    ("01.1", s00.CONFIG, "your stages hold (3, 4, 6, 3), 16 blocks in all; step 01 has 18"),
    ("01.1", s00.CONFIG.replace(depths=(3, 6, 6, 3)), "puts three times stage 1's blocks into stage 3"),
    (
        "01.1",
        s00.CONFIG.replace(depths=(3, 3, 9, 3), stem=s02.PatchifyStem),
        "28,622,184 parameters, step 01_stage_ratio's 28,628,520",
    ),
    ("02.1", _stem(stride=2), "the stem's stride is 2: its 4x4 windows overlap"),
    ("02.1", _stem(stride=1), "the stem's conv has stride 1"),
    ("02.1", _stem(kernel=7, padding=3), "`conv.weight` has shape (8, 3, 7, 7), ours (8, 3, 4, 4): its kernel is 7x7"),
    ("02.1", _stem(padding=1), "the stem pads its input"),
    ("02.1", _stem(norm=False), "missing parameter `norm.weight` (shape (8,))"),
    ("02.1", _stem(relu=True), "a ReLU follows the BN"),
    ("02.1", _stem(bias=True), "`conv` has a bias; ours has none"),
    ("03.1", _block03(groups=1), "`dwconv.weight` has shape (8, 8, 3, 3), ours (8, 1, 3, 3): each filter sees 8 input"),
    ("03.1", _block03(groups=2), "each filter sees 4 input channels; a depthwise conv has groups = channels"),
    ("03.1", _block03(stride_on_1x1=True), "the stride sits on the first 1x1 conv"),
    ("03.1", _block03(kernel=3), "its kernel is 3x3, ours 5x5 (use the kernel_size argument)"),
    ("03.1", _block03(padding=False), "the depthwise conv is not padded"),
    ("03.1", s00.Bottleneck, "missing parameter `dwconv.weight` (shape (8, 1, 3, 3)); yours has `conv.weight`"),
    ("04.1", s03.CONFIG.replace(dims=(384, 768, 1536, 3072)), "your stem outputs 64 channels; step 04 widens it"),
    ("04.1", s03.CONFIG.replace(stem_dim=96), "your stages output (256, 512, 1024, 2048) channels"),
    ("05.1", _block05(hidden_of=lambda i, d: d // 4), "`pwconv1.weight` has shape (8, 32, 1, 1), ours (128, 32, 1, 1)"),
    ("05.1", _block05(hidden_of=lambda i, d: d // 4), "the hidden width is expansion x dim"),
    ("05.1", _block05(hidden_of=lambda i, d: 4 * i), "(64, 16, 1, 1), ours (128, 16, 1, 1): it has 64 output channels"),
    ("05.1", _block05(stride_on_1x1=True), "the stride sits on the first 1x1 conv"),
    ("05.1", _block05(relu_after_sum=False), "the ReLU after the sum is missing"),
    ("05.1", Block05SwappedNorms, "bn1 and bn2 are swapped"),
    ("06.1", Block06StillWide, "`dwconv.weight` has shape (128, 1, 3, 3), ours (32, 1, 3, 3)"),
    ("06.1", Block06StillWide, "the depthwise conv now runs first, on the block's input"),
    ("06.1", Block06StrideOn1x1, "the same outputs, but your depthwise conv runs at full resolution"),
    ("06.1", Block06NoNormAfterDw, "the BN after the depthwise conv is missing"),
    ("06.1", Block06NoReluAfterDw, "the ReLU after the depthwise conv's BN is missing"),
]


@pytest.mark.parametrize("exercise_id, candidate, message", WRONG, ids=[f"{w[0]}-{i}" for i, w in enumerate(WRONG)])
def test_plausible_mistakes_fail_with_what_is_wrong(exercise_id, candidate, message):
    verdict = exercises.check(exercise_id, candidate)
    assert verdict.ok is False and repr(verdict).startswith(f"{exercise_id} not yet: "), repr(verdict)
    assert message in repr(verdict) and "\n" not in repr(verdict)


def test_a_prediction_made_from_the_hint_is_accepted_and_the_old_share_is_not():
    # 01.2's reasoning (a block costs about the same in every stage) gives 9/18 = 50 %; the measured share is 47 %.
    assert exercises.check("01.2", 50) and exercises.check("01.2", 47)
    assert not exercises.check("01.2", 36)  # ResNet-50's share, unchanged: the stage ratio was ignored


def test_the_inverted_blocks_parameters_are_counted_exactly_and_the_old_blocks_are_not():
    # 05.2: a stage-3 block of step 05 has about as many parameters as step 04's (the 1x1 convs swap ends), not as
    # many: the depthwise conv and two BNs run on 1536 channels, not 384.
    from convnext_steps import count_params
    from convnext_steps.exercises.core import meta_model

    ours, before = (count_params(meta_model(s).stages[2].blocks[1]) for s in ("05", "04"))
    assert exercises.check("05.2", ours) and ours == 2 * 384 * 1536 + 9 * 1536 + 2 * (1536 + 1536 + 384)
    verdict = exercises.check("05.2", before)
    assert not verdict and "too low" in repr(verdict) and "depthwise 3x3 conv 9 per channel" in repr(verdict)


def test_the_saving_of_moving_the_depthwise_conv_up_is_in_the_first_1x1_conv():
    # 06.2: over the whole network pwconv1 loses the most (the stride-2 blocks now expand at a quarter of the pixels);
    # the depthwise convs, the obvious guess, lose a ninth as much; pwconv2 loses nothing.
    from convnext_steps import count_macs
    from convnext_steps.exercises import nb06
    from convnext_steps.exercises.core import meta_model
    from convnext_steps.measure import leaf_macs

    model = meta_model("06")
    assert sum(leaf_macs(model).values()) == count_macs(model)  # every multiply-add, each in one leaf
    before, after = nb06._block_layer_macs("05"), nb06._block_layer_macs("06")
    lost = {name: before[name] - after[name] for name in before}
    assert lost["pwconv2"] == 0 and lost["pwconv1"] > 8 * lost["dwconv"] > 0
    assert exercises.check("06.2", "pwconv1") and exercises.check("06.2", " PWConv1 ")
    verdict = exercises.check("06.2", "dwconv")
    assert not verdict and "where the stride-2 blocks now run their first 1x1 conv" in repr(verdict)
