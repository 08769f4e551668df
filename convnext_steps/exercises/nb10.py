"""Notebook 10 (fewer norms): its exercises and their checkers."""

from __future__ import annotations

import torch
from torch import nn

from ..steps import step10_fewer_norms
from .core import BuildIt, Exercise, Mistake, block_cases, build, check_module, meta_model


def _branch_norms(step: str) -> int:
    return sum(
        isinstance(m, (nn.BatchNorm2d, nn.LayerNorm))
        for name, m in meta_model(step).named_modules()
        if ".blocks." in name and "shortcut" not in name
    )


EXERCISES = (
    Exercise(
        "10.1",
        "A pre-norm Transformer block normalises twice (before attention, before the MLP). How many "
        "norm calls would 18 such blocks make, and how many do step 10's 18 blocks make in their residual "
        "branches? Give (transformer, step 10).",
        lambda: (2 * sum(meta_model("10").config.depths), _branch_norms("10")),
        "One norm per block: ConvNeXt ends up with fewer norms than a Transformer, not the same number.",
        "count the norms inside one block's branch (not its shortcut), times the blocks.",
    ),
)


# 10.3 -- build it: the block with one norm -------------------------------------------------------------------------


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


EXERCISES += (
    BuildIt(
        "10.3",
        "Write step 10's block: of step 09's three BatchNorms keep one, `norm`, after the depthwise conv; the "
        "1x1 convs get their bias back.",
        _judge_one_norm,
        lambda: step10_fewer_norms.InvertedBottleneck,
        "one norm per block, after the depthwise conv and before the 1x1 'MLP', and a bias on each 1x1 conv "
        "now that no norm follows it: the same outputs as step 10 on every input, and fewer norms than a "
        "pre-norm Transformer block (two).",
        step="10",
    ),
)
