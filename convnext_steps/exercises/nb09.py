"""Notebook 09 (fewer activations): its exercises and their checkers."""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..steps import step08_gelu, step09_fewer_activations
from .core import BuildIt, Case, Exercise, Mistake, block_cases, check_module, run

EMPTY_BLOCKS = 8  # stage 3's identity-shortcut blocks after its first


def _through_empty_blocks(block_cls: type, value: float = 1.0) -> float:
    """`value` after EMPTY_BLOCKS identity-shortcut blocks whose branch is zeroed (the last BN's scale and shift
    at 0): what the shortcuts alone, and whatever acts on the sum, do to the running sum."""
    torch.manual_seed(0)
    block = block_cls(8, 8, 3).eval()
    with torch.no_grad():
        block.bn3.weight.zero_(), block.bn3.bias.zero_()
        x = torch.full((1, 8, 2, 2), value)
        for _ in range(EMPTY_BLOCKS):
            x = block(x)
    return round(x[0, 0, 0, 0].item(), 4)


PREDICTIONS = (
    Exercise(
        "09.2",
        f"Zero the residual branch of {EMPTY_BLOCKS} identity-shortcut blocks and feed them a map of 1.0s: what "
        "comes out in step 08, and in step 09? Give (step 08, step 09).",
        lambda: tuple(_through_empty_blocks(m.InvertedBottleneck) for m in (step08_gelu, step09_fewer_activations)),
        "With its branch at 0 a step 08 block computes GELU(x + 0): 1.0 -> 0.841 -> 0.673 -> ... -> 0.038 "
        "after 8 blocks, the running sum squashed at every block. A step 09 block computes x + 0: 1.0 comes "
        "out as 1.0 at any depth, the clean identity path.",
        "with its branch at 0 a block returns act(x + 0) if an activation follows the sum, and x + 0 if none "
        "does; apply that 8 times (torch.nn.functional.gelu computes GELU).",
        tolerance=0.05,
    ),
)


# 09.1 -- build it: the block's forward with one GELU ---------------------------------------------------------------


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


EXERCISES = (
    BuildIt(
        "09.1",
        "Write step 09's forward: one GELU, between the two 1x1 convs; none after the depthwise conv, none "
        "after the sum.",
        _judge_one_gelu,
        lambda: step09_fewer_activations.InvertedBottleneck,
        "one GELU per block, on the wide hidden tensor, as in a Transformer's MLP, and nothing acts on the sum: "
        "the same outputs as step 09 on every input.",
        step="09",
    ),
) + PREDICTIONS
