"""Notebook 00 (ResNet-50, the starting point): its exercises and their checkers."""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..measure import count_params
from ..steps.step00_resnet50 import Bottleneck
from .core import BuildIt, Case, Exercise, Mistake, block_cases, check_module, meta_model, run

# 00.1 -- build it: the bottleneck's forward ----------------------------------------------------------------------


def _branch(m: nn.Module, x: torch.Tensor) -> torch.Tensor:
    out = m.act(m.bn1(m.pwconv1(x)))
    out = m.act(m.bn2(m.conv(out)))
    return m.bn3(m.pwconv2(out))


MISTAKES = (
    Mistake(
        "the ReLU after the sum is missing: ResNet adds the shortcut to the branch, then applies the ReLU to the sum",
        lambda m, x: m.shortcut(x) + m.drop_path(_branch(m, x)),
    ),
    Mistake(
        "the last ReLU runs on the branch before the sum; ResNet's runs after it, on shortcut + branch",
        lambda m, x: m.shortcut(x) + m.drop_path(m.act(_branch(m, x))),
    ),
    Mistake(
        "the shortcut is missing: add shortcut(x) (the identity, or the projection where the block changes width "
        "or resolution) to the branch, then the ReLU",
        lambda m, x: m.act(m.drop_path(_branch(m, x))),
    ),
    Mistake(
        "the ReLU after bn2 (between the 3x3 conv and the last 1x1) is missing",
        lambda m, x: m.act(m.shortcut(x) + m.drop_path(m.bn3(m.pwconv2(m.bn2(m.conv(m.act(m.bn1(m.pwconv1(x))))))))),
    ),
    Mistake(
        "drop path is not applied: in training it must zero the branch (not the shortcut) for some samples, so "
        "wrap the branch in self.drop_path before the sum",
        lambda m, x: m.act(m.shortcut(x) + _branch(m, x)),
    ),
    Mistake(
        "drop path runs on the sum; it belongs on the branch only, so that a dropped block passes its input on",
        lambda m, x: m.act(m.drop_path(m.shortcut(x) + _branch(m, x))),
    ),
)


def _zero_branch_is_relu_of_input(module: nn.Module, case: Case) -> str | None:
    """With its last BN's scale and shift at 0 the branch is 0, and an identity block must return ReLU(x)."""
    if case.args["stride"] != 1 or case.args["in_dim"] != case.args["dim"]:
        return None  # a projection shortcut is not the identity
    block = copy.deepcopy(module).eval()
    with torch.no_grad():
        block.bn3.weight.zero_(), block.bn3.bias.zero_()
        x = torch.randn(1, case.args["in_dim"], 6, 7, generator=torch.Generator().manual_seed(5))
        out = run("your block's forward", block, x.clone())
    if not torch.allclose(out, x.relu(), atol=1e-6):
        return "with its branch zeroed your block does not return ReLU(x): the input must pass on through the shortcut"
    return None


def _judge(candidate):
    return check_module(
        candidate, Bottleneck, block_cases(), mistakes=MISTAKES, properties=[_zero_branch_is_relu_of_input]
    )


EXERCISES = (
    BuildIt(
        "00.1",
        "Write the bottleneck's forward: branch 1x1 -> BN -> ReLU -> 3x3 -> BN -> ReLU -> 1x1 -> BN, drop path on "
        "the branch, added to shortcut(x), then ReLU.",
        _judge,
        lambda: Bottleneck,
        "your forward gives our outputs on every input, in eval and in training (drop path on the branch), and a "
        "zeroed branch passes ReLU(x) on: the shortcut carries the signal, the branch learns a correction to it.",
        step="00",
    ),
)

# 00.2, 00.3 -- predict: the block's parameters, the network's downsampling ----------------------------------------

EXERCISES += (
    Exercise(
        "00.2",
        "How many parameters does the second bottleneck of stage 1 have (256 -> 64 -> 64 -> 256, identity shortcut)?",
        lambda: count_params(meta_model("00").stages[0].blocks[1]),
        "Three convs without bias (256*64 + 64*64*3*3 + 64*256 weights) and three BNs (2 per channel).",
        "a 1x1 conv from C_in to C_out has C_in*C_out weights, a 3x3 one nine times as many; each BN learns a "
        "scale and a shift per channel; the convs have no bias.",
        unit="parameters",
    ),
    Exercise(
        "00.3",
        "From the image to the last feature map ResNet-50 divides height and width by one fixed factor. Which square "
        "input size gives a 10x10 last feature map?",
        lambda: 10 * meta_model("00").config.reduction,
        "The network downsamples by 32 in all (4 in the stem, 2 in each of stages 2-4): 10 x 32.",
        "count the stride-2 layers from the image to stage 4, then multiply by 10.",
        unit="pixels",
    ),
)
