"""Notebook 18's exercises: the reference passes, other correct code passes, plausible mistakes get their message."""

import pytest
import torch.nn.functional as F
from torch import nn

from convnext_steps import exercises
from convnext_steps.exercises import nb18
from convnext_steps.layers import DropPath
from convnext_steps.steps.step00_resnet50 import Shortcut


def test_181_layer_scale_parameters():
    assert exercises.expected("18.1") == 3 * 96 + 3 * 192 + 9 * 384 + 3 * 768
    assert exercises.check("18.1", 6624) and not exercises.check("18.1", 768)
    assert "not answered yet" in repr(exercises.check("18.1", None))


def make(norm_after="conv", pw_bias=True, conv_bias=False, relus=("pw1", "conv", "sum"), functional=False):
    """A learner's ResNet-50 + 10 block, right or wrong in one of the ways the checker names."""

    class Candidate(nn.Module):
        expansion = 4

        def __init__(self, in_dim, dim, kernel_size, stride=1, drop_path=0.0):
            super().__init__()
            mid = dim // self.expansion
            self.pwconv1 = nn.Conv2d(in_dim, mid, 1, bias=pw_bias)
            self.conv = nn.Conv2d(mid, mid, kernel_size, stride=stride, padding=kernel_size // 2, bias=conv_bias)
            self.norm = nn.BatchNorm2d(dim if norm_after == "pw2" else mid)
            self.pwconv2 = nn.Conv2d(mid, dim, 1, bias=pw_bias)
            self.act = nn.ReLU()
            self.shortcut = Shortcut(in_dim, dim, stride) if stride != 1 or in_dim != dim else nn.Identity()
            self.drop_path = DropPath(drop_path)

        def forward(self, x):
            relu = F.relu if functional else self.act
            out = self.pwconv1(x)
            out = self.norm(out) if norm_after == "pw1" else out
            out = relu(out) if "pw1" in relus else out
            out = self.conv(out)
            out = self.norm(out) if norm_after == "conv" else out
            out = relu(out) if "conv" in relus else out
            out = self.pwconv2(out)
            out = self.norm(out) if norm_after == "pw2" else out
            out = self.shortcut(x) + self.drop_path(out)
            return relu(out) if "sum" in relus else out

    return Candidate


class NotYet(nn.Module):
    def __init__(self, in_dim, dim, kernel_size, stride=1, drop_path=0.0):
        super().__init__()
        raise NotImplementedError  # your code here


class Sequential(nn.Module):  # correct, written another way: one helper per conv + norm + act
    def __init__(self, in_dim, dim, kernel_size, stride=1, drop_path=0.0):
        super().__init__()
        mid = dim // 4
        self.act = nn.ReLU(inplace=True)
        self.shortcut = Shortcut(in_dim, dim, stride) if stride != 1 or in_dim != dim else nn.Identity()
        self.drop_path = DropPath(drop_path)
        self.pwconv1 = nn.Conv2d(in_dim, mid, kernel_size=1)
        self.conv = nn.Conv2d(mid, mid, (kernel_size, kernel_size), (stride, stride), kernel_size // 2, bias=False)
        self.norm = nn.BatchNorm2d(mid)
        self.pwconv2 = nn.Conv2d(mid, dim, kernel_size=1)

    def forward(self, x):
        identity = self.shortcut(x)
        branch = self.pwconv2(self.act(self.norm(self.conv(self.act(self.pwconv1(x))))))
        return self.act(identity + self.drop_path(branch))


@pytest.mark.parametrize(
    "candidate", [nb18.FewerNormsBottleneck, make(), make(functional=True), Sequential], ids=["ours", "a", "b", "c"]
)
def test_182_correct_versions_pass(candidate):
    verdict = exercises.check("18.2", candidate)
    assert verdict, verdict
    assert repr(verdict).startswith("18.2 right: one norm per block")


@pytest.mark.parametrize(
    "candidate, fragment",
    [
        (make(norm_after="pw2"), "the norm that stays is the one after the k x k conv"),
        (make(norm_after="pw1"), "the norm you kept runs after pwconv1"),
        (make(pw_bias=False), "missing parameter `pwconv1.bias`"),
        (make(conv_bias=True), "`conv` has a bias; ours has none"),
        (make(relus=("pw1", "sum")), "the ReLU after the norm is missing"),
        (make(relus=("conv", "sum")), "the ReLU after pwconv1 is missing"),
        (make(relus=("pw1", "conv")), "the ReLU after the sum is missing"),
        (NotYet, "18.2 not attempted yet"),
    ],
)
def test_182_plausible_mistakes_are_named(candidate, fragment):
    verdict = exercises.check("18.2", candidate)
    assert not verdict and fragment in repr(verdict), repr(verdict)
    assert "\n" not in repr(verdict)


def test_182_in_the_whole_variant():
    assert repr(nb18.in_variant(NotYet)) == "skipped: exercise 18.2 not solved yet"
    verdict = nb18.in_variant(make())
    assert verdict and "resnet50+10" in repr(verdict), repr(verdict)
