"""Notebook 09 (fewer activations): its exercises and their checkers."""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..family import convnext
from ..measure import count_calls
from ..steps import step09_fewer_activations
from .core import BuildIt, Case, Exercise, Mistake, block_cases, check_module, run


def _calls_family(size: str, kind: type) -> int:
    with torch.device("meta"):  # calls are counted on shapes alone
        model = convnext(size)
    return count_calls(model, kind)


EXERCISES = (
    Exercise(
        "09.1",
        "ConvNeXt-S has 36 blocks (3, 3, 27, 3). How many GELU calls does one forward pass of it make?",
        lambda: _calls_family("small", nn.GELU),
        "One GELU per block, between the two 1x1 convs, and none anywhere else: 36.",
        "count the activations in one block (measure.count_calls(model, nn.GELU) measures a whole network).",
    ),
)


# 09.3 -- build it: the block's forward with one GELU ---------------------------------------------------------------


def _forward(m: nn.Module, x: torch.Tensor, after_dw=False, between=True, after_pw2=False, after_sum=False):
    out = m.bn2(m.dwconv(x))
    out = m.act(out) if after_dw else out
    out = m.bn1(m.pwconv1(out))
    out = m.act(out) if between else out
    out = m.bn3(m.pwconv2(out))
    out = m.act(out) if after_pw2 else out
    out = m.shortcut(x) + m.drop_path(out)
    return m.act(out) if after_sum else out


MISTAKES = (
    Mistake(
        "your GELU runs after the second 1x1 conv (on the C-wide output); it belongs between the two 1x1 convs, "
        "on the 4C-wide hidden tensor, as in a Transformer's MLP",
        lambda m, x: _forward(m, x, between=False, after_pw2=True),
    ),
    Mistake(
        "your GELU runs after the depthwise conv; the one GELU left sits between the two 1x1 convs",
        lambda m, x: _forward(m, x, after_dw=True, between=False),
    ),
    Mistake(
        "a GELU still runs after the sum: with it gone the shortcut is a clean identity path from block to block",
        lambda m, x: _forward(m, x, after_sum=True),
    ),
    Mistake(
        "a GELU still runs after the depthwise conv: keep only the one between the two 1x1 convs",
        lambda m, x: _forward(m, x, after_dw=True),
    ),
    Mistake(
        "your block has no activation at all: keep the GELU between the two 1x1 convs",
        lambda m, x: _forward(m, x, between=False),
    ),
)


def _zero_branch_is_identity(module: nn.Module, case: Case) -> str | None:
    """With its last BN's scale and shift at 0 the branch is 0: the block must return its input unchanged."""
    if case.args["in_dim"] != case.args["dim"] or case.args["stride"] != 1:
        return None  # a projection shortcut changes the input: only identity-shortcut blocks pass it on
    block = copy.deepcopy(module).eval()
    with torch.no_grad():
        block.bn3.weight.zero_(), block.bn3.bias.zero_()
        x = torch.randn(1, case.args["in_dim"], 6, 7, generator=torch.Generator().manual_seed(5))
        out = run("your block's forward", block, x.clone())
    if not torch.equal(out, x):
        return "with its branch zeroed your block does not return x: nothing may act on the sum"
    return None


def _judge_one_gelu(candidate):
    return check_module(
        candidate,
        step09_fewer_activations.InvertedBottleneck,
        block_cases(kernel_size=7),
        mistakes=MISTAKES,
        properties=[_zero_branch_is_identity],
    )


EXERCISES += (
    BuildIt(
        "09.3",
        "Write step 09's forward: one GELU, between the two 1x1 convs; none after the depthwise conv, none "
        "after the sum.",
        _judge_one_gelu,
        lambda: step09_fewer_activations.InvertedBottleneck,
        "one GELU per block, on the wide hidden tensor, as in a Transformer's MLP; and with nothing after the "
        "sum, a zeroed branch passes its input on exactly: the shortcuts form one clean identity path.",
        step="09",
    ),
)
