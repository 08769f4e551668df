"""Notebook 10 (fewer norms): its exercises and their checkers."""

from __future__ import annotations

import torch
from torch import nn

from ..measure import count_params
from ..steps import step10_fewer_norms
from .core import BuildIt, Exercise, Mistake, block_cases, build, check_module, meta_model

PREDICTIONS = (
    Exercise(
        "10.2",
        "How many fewer parameters does step 10 have than step 09?",
        lambda: count_params(meta_model("09")) - count_params(meta_model("10")),
        "Per block BN(4C) and BN(C) go, 2 x 4C + 2 x C = 10C, and the two 1x1 convs get biases, 4C + C: 5C "
        "fewer. Over the 18 blocks' widths, 5 x (3*96 + 3*192 + 9*384 + 3*768) = 5 x 6,624.",
        "a BatchNorm has 2 parameters per channel (weight and bias; its running mean and variance are buffers, "
        "not parameters), a conv's bias 1 per output channel; find the change of one block in terms of its "
        "width C, then sum over the blocks (depths 3, 3, 9, 3; widths 96, 192, 384, 768).",
        unit="parameters",
    ),
)


# 10.1 -- build it: the block with one norm -------------------------------------------------------------------------


def _forward(m: nn.Module, x: torch.Tensor, where: str = "after dwconv") -> torch.Tensor:
    out = m.dwconv(m.norm(x) if where == "before dwconv" else x)
    out = m.norm(out) if where == "after dwconv" else out
    out = m.pwconv2(m.act(m.pwconv1(out)))
    out = m.norm(out) if where == "after pwconv2" else out
    return m.shortcut(x) + m.drop_path(out)


MISTAKES = (
    Mistake(
        "your norm runs after the second 1x1 conv; the one norm left sits right after the depthwise conv, "
        "before the 1x1 'MLP', as in a pre-norm Transformer block",
        lambda m, x: _forward(m, x, "after pwconv2"),
    ),
    Mistake(
        "your norm runs on the block's input, before the depthwise conv; ConvNeXt's normalises the depthwise "
        "conv's output",
        lambda m, x: _forward(m, x, "before dwconv"),
    ),
)


def _norms_problem(block: nn.Module) -> str | None:
    norms = [(n, m) for n, m in block.named_modules() if isinstance(m, nn.BatchNorm2d) and not n.startswith("shortcut")]
    if len(norms) != 1:
        names = ", ".join(f"`{n}`" for n, _ in norms) or "none"
        return f"your block's branch has {len(norms)} BatchNorms ({names}); step 10 keeps one, `norm`"
    name, norm = norms[0]
    if name != "norm":
        return f"the norm that stays is called `{name}`; call it `norm`, as ConvNeXt does"
    if norm.num_features != block.dwconv.out_channels:
        return (
            f"your norm has {norm.num_features} channels: the one that stays sits after the depthwise conv, on its "
            f"{block.dwconv.out_channels}, not after the first 1x1 conv"
        )
    for conv in ("pwconv1", "pwconv2"):
        if getattr(getattr(block, conv, None), "bias", None) is None:
            return f"`{conv}` has no bias: with the BN after it gone nothing shifts its output; give it its bias back"
    return None


def _judge_one_norm(candidate):
    problem = _norms_problem(build(candidate, dict(in_dim=16, dim=16, kernel_size=7, stride=1, drop_path=0.0)))
    if problem:
        return problem
    return check_module(candidate, step10_fewer_norms.InvertedBottleneck, block_cases(kernel_size=7), mistakes=MISTAKES)


EXERCISES = (
    BuildIt(
        "10.1",
        "Write step 10's block: of step 09's three BatchNorms keep one, `norm`, after the depthwise conv; the "
        "1x1 convs get their bias back.",
        _judge_one_norm,
        lambda: step10_fewer_norms.InvertedBottleneck,
        "one norm per block, after the depthwise conv and before the 1x1 'MLP', and a bias on each 1x1 conv "
        "now that no norm follows it: the same outputs as step 10 on every input, and fewer norms than a "
        "pre-norm Transformer block (two).",
        step="10",
    ),
) + PREDICTIONS
