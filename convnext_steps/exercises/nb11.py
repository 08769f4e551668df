"""Notebook 11 (BN -> LN): its exercises and their checkers."""

from __future__ import annotations

import torch
from torch import nn

from ..layers import LayerNorm2d
from ..steps import step11_layernorm
from .core import BuildIt, Case, Exercise, Mistake, check_module, run


def _norm_agreement_size() -> int:
    torch.manual_seed(0)
    for size in range(1, 5):  # the sizes where GroupNorm(1, C) equals ConvNeXt's LayerNorm
        x = torch.randn(2, 8, size, size) * 3 + 1
        if torch.allclose(nn.GroupNorm(1, 8, eps=1e-6)(x), LayerNorm2d(8)(x), atol=1e-5):
            return size
    raise AssertionError("GroupNorm(1, C) and LayerNorm2d never agree")


# 11.1 -- build it: ConvNeXt's LayerNorm on (N, C, H, W), from a mean and a variance ---------------------------------


def _normalise(m: nn.Module, x: torch.Tensor, dims, eps: float | None = None, unbiased: bool = False):
    mean = x.mean(dims, keepdim=True)
    var = x.var(dims, keepdim=True, unbiased=unbiased)
    out = (x - mean) / torch.sqrt(var + (m.eps if eps is None else eps))
    return m.weight[:, None, None] * out + m.bias[:, None, None]


MISTAKES = (
    Mistake(
        "yours normalises each channel over H and W (an instance norm: dims 2, 3); ConvNeXt's LayerNorm "
        "normalises each pixel over its C channels (dim 1)",
        lambda m, x: _normalise(m, x, (2, 3)),
    ),
    Mistake(
        "yours normalises over C, H and W at once (dims 1, 2, 3: GroupNorm(1, C)); ConvNeXt's LayerNorm "
        "normalises each pixel over its C channels only (dim 1)",
        lambda m, x: _normalise(m, x, (1, 2, 3)),
    ),
    Mistake(
        "yours normalises over the batch (dim 0, and more: a BatchNorm's axes); ConvNeXt's LayerNorm "
        "normalises each pixel of each sample over its C channels (dim 1)",
        lambda m, x: _normalise(m, x, (0, 2, 3)),
    ),
    Mistake(
        "your variance is unbiased (divides by C - 1); a LayerNorm divides by C: var(..., unbiased=False) "
        "or correction=0",
        lambda m, x: _normalise(m, x, (1,), unbiased=True),
    ),
    Mistake(
        "your eps is 1e-5 (PyTorch's default); ConvNeXt's LayerNorm uses eps = 1e-6 (take the eps argument)",
        lambda m, x: _normalise(m, x, (1,), eps=1e-5),
    ),
    Mistake(
        "the scale and shift are missing: multiply by self.weight and add self.bias, one per channel",
        lambda m, x: _normalise(
            type("Plain", (), {"eps": m.eps, "weight": torch.ones_like(m.weight), "bias": torch.zeros_like(m.bias)})(),
            x,
            (1,),
        ),  # fmt: skip
    ),
)


def _eps_problem(module: nn.Module, case: Case) -> str | None:
    """On an input whose variance is far below 1 the eps shows: ConvNeXt's is 1e-6, inside the square root."""
    reference = LayerNorm2d(case.args["num_channels"])
    reference.load_state_dict(module.state_dict())
    x = 1e-3 * torch.randn(2, case.args["num_channels"], 3, 5, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        got = run("your norm's forward", module.eval(), x.clone())
        if torch.allclose(got, reference(x), rtol=1e-3, atol=1e-4):
            return None
        for eps in (1e-5, 1e-8, 0.0):
            if torch.allclose(got, _normalise(reference, x, (1,), eps=eps), rtol=1e-3, atol=1e-4):
                return (
                    f"your eps is {eps:g}{' (PyTorch default)' if eps == 1e-5 else ''}: on a map with variance "
                    f"1e-6 it shows; ConvNeXt's LayerNorm uses eps = 1e-6 (the eps argument), inside the root"
                )
    return (
        "on a map with variance 1e-6 your output differs from ours: eps (1e-6) belongs inside the square root, "
        "(x - mean) / sqrt(var + eps)"
    )


_NORM_CASES = (
    Case(dict(num_channels=8), ((1, 8, 5, 7), (2, 8, 3, 3), (3, 8, 1, 1))),
    Case(dict(num_channels=3), ((2, 3, 4, 6),)),
)


def _judge_layernorm(candidate):
    return check_module(
        candidate, LayerNorm2d, _NORM_CASES, mistakes=MISTAKES, properties=[_eps_problem], what="your norm"
    )


def _with_norm(norm: type) -> dict:
    """Step 11's stem and block with the learner's norm in every place LayerNorm2d sits (block, shortcut, stem)."""

    class PatchifyStem(step11_layernorm.PatchifyStem):
        def __init__(self, in_chans: int, dim: int):
            super().__init__(in_chans, dim)
            self.norm = norm(dim)

    class InvertedBottleneck(step11_layernorm.InvertedBottleneck):
        def __init__(self, in_dim: int, dim: int, kernel_size: int, stride: int = 1, drop_path: float = 0.0):
            super().__init__(in_dim, dim, kernel_size, stride, drop_path)
            self.norm = norm(in_dim)
            if isinstance(self.shortcut, step11_layernorm.Shortcut):
                self.shortcut[1] = norm(dim)

    return dict(stem=PatchifyStem, block=InvertedBottleneck)


EXERCISES = (
    BuildIt(
        "11.1",
        "Write ConvNeXt's LayerNorm2d for (N, C, H, W) maps from a mean and a variance: each pixel's C-vector "
        "normalised on its own (eps 1e-6 inside the square root), then a learned per-channel scale and shift.",
        _judge_layernorm,
        lambda: LayerNorm2d,
        "one mean and one variance per (n, h, w), over the C channels (divided by C), eps 1e-6 inside the root, "
        "then weight and bias per channel: what nn.LayerNorm does on a channels-last tensor, with no batch "
        "statistics at all.",
        kind="norm",
        step="11",
        into=_with_norm,
    ),
)


# 11.2 -- predict: where GroupNorm(1, C) and LayerNorm agree --------------------------------------------------------

EXERCISES += (
    Exercise(
        "11.2",
        "On which square map size do GroupNorm(1, C) and ConvNeXt's LayerNorm give the same output? Give the "
        "side length (an int), and think about why they can.",
        _norm_agreement_size,
        "With one pixel, 'over C, H and W' is 'over C': the two normalise the same numbers.",
        "look at norm_axes: when do 'one sample' and 'one pixel' cover the same cells?",
        unit="pixel(s)",
    ),
)
