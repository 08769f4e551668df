"""Notebook 08 (ReLU -> GELU): its exercises and their checkers."""

from __future__ import annotations

import torch
from torch import nn

from ..steps import step08_gelu
from .core import BuildIt, Exercise, Mistake, block_cases, check_module


def _gelu_min() -> float:
    x = torch.linspace(-3, 0, 300_001, dtype=torch.float64)
    return round(x[nn.functional.gelu(x).argmin()].item(), 2)


# 08.1 -- build it: the block's forward with GELU wherever step 07 had a ReLU ---------------------------------------


def _forward(m: nn.Module, x: torch.Tensor, act=None, after_dw=True, after_sum=True) -> torch.Tensor:
    act = act or m.act
    out = m.bn2(m.dwconv(x))
    out = act(out) if after_dw else out
    out = m.bn3(m.pwconv2(act(m.bn1(m.pwconv1(out)))))
    out = m.shortcut(x) + m.drop_path(out)
    return act(out) if after_sum else out


MISTAKES = (
    Mistake(
        "your block still applies ReLU: step 08 swaps every ReLU for GELU (self.act = nn.GELU())",
        lambda m, x: _forward(m, x, act=torch.relu),
    ),
    Mistake(
        "your GELU is the tanh approximation (approximate='tanh'); ConvNeXt uses the exact form, nn.GELU()",
        lambda m, x: _forward(m, x, act=nn.GELU(approximate="tanh")),
    ),
    Mistake(
        "the GELU after the sum is missing: step 08 only swaps ReLU for GELU; taking activations out is step 09",
        lambda m, x: _forward(m, x, after_sum=False),
    ),
    Mistake(
        "the GELU after the depthwise conv's BN is missing: step 08 keeps all three activations of step 07",
        lambda m, x: _forward(m, x, after_dw=False),
    ),
    Mistake(
        "only the GELU between the 1x1 convs is left: that is step 09; step 08 keeps all three activations",
        lambda m, x: _forward(m, x, after_dw=False, after_sum=False),
    ),
)


def _judge_gelu(candidate):
    return check_module(candidate, step08_gelu.InvertedBottleneck, block_cases(kernel_size=7), mistakes=MISTAKES)


EXERCISES = (
    BuildIt(
        "08.1",
        "Write step 08's block: step 07's with GELU in place of every ReLU (after the depthwise conv's BN, "
        "between the 1x1 convs, after the sum).",
        _judge_gelu,
        lambda: step08_gelu.InvertedBottleneck,
        "GELU runs exactly where the ReLUs ran, three times per block: a drop-in swap with no parameters and "
        "no multiply-adds, and the paper's accuracy barely moves (80.57 -> 80.62).",
        step="08",
    ),
)


# 08.2 and 08.3 -- predict, then the plot shows it ---------------------------------------------------------------

EXERCISES += (
    Exercise(
        "08.2",
        "What is GELU(-1), to 3 decimals? (GELU(x) = x * Phi(x), Phi the standard normal CDF.)",
        lambda: round(nn.functional.gelu(torch.tensor(-1.0, dtype=torch.float64)).item(), 3),
        "-1 * Phi(-1) = -0.1587: unlike ReLU, GELU lets a little of a negative input through.",
        "Phi(-1) is about 0.159.",
        tolerance=0.004,
    ),
    Exercise(
        "08.3",
        "Where is GELU smallest? Give x to within 0.02 (work it out: a few values of x * Phi(x), or the zero of "
        "its derivative).",
        _gelu_min,
        "GELU dips to about -0.17 near x = -0.75, then rises back to 0: it is not monotonic.",
        "plot it, or look for the zero of its derivative Phi(x) + x * phi(x).",
        tolerance=0.02,
        digits=2,
    ),
)
