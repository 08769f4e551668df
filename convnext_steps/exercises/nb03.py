"""Notebook 03 (depthwise conv): its exercises and their checkers."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..steps.step03_depthwise_conv import Bottleneck
from .core import BuildIt, Case, Exercise, Mistake, block_cases, check_module, meta_model, run

# 03.1 -- build it: the depthwise bottleneck ---------------------------------------------------------------------


def _mid(m: nn.Module, x: torch.Tensor, conv) -> torch.Tensor:
    out = m.act(m.bn1(m.pwconv1(x)))
    out = m.act(m.bn2(conv(out)))
    return m.act(m.shortcut(x) + m.drop_path(m.bn3(m.pwconv2(out))))


def _stride_on_1x1(m: nn.Module, x: torch.Tensor) -> torch.Tensor:
    stride = m.dwconv.stride
    out = m.act(m.bn1(F.conv2d(x, m.pwconv1.weight, stride=stride)))
    out = m.act(m.bn2(F.conv2d(out, m.dwconv.weight, padding=m.dwconv.padding, groups=m.dwconv.groups)))
    return m.act(m.shortcut(x) + m.drop_path(m.bn3(m.pwconv2(out))))


MISTAKES = (
    Mistake(
        "the stride sits on the first 1x1 conv: it then drops 3 of every 4 pixels before any 3x3 window sees them; "
        "ResNet v1.5 (and step 02) puts the stride in the kxk conv",
        _stride_on_1x1,
    ),
    Mistake(
        "the depthwise conv is not padded: with kernel k it needs padding k // 2 to keep the map's size",
        lambda m, x: _mid(m, x, lambda t: F.conv2d(t, m.dwconv.weight, stride=m.dwconv.stride, groups=t.shape[1])),
    ),
)


def _one_filter_per_channel(module: nn.Module, case: Case) -> str | None:
    """The depthwise conv's output channel c depends on input channel c only."""
    width = module.dwconv.weight.shape[0]
    x = torch.zeros(1, width, 7, 7)
    x[0, 1] = torch.randn(7, 7, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        out = run("your dwconv", module.dwconv, x)
    touched = [c for c in range(out.shape[1]) if out[0, c].abs().sum() > 0]
    if touched != [1]:
        return f"input channel 1 alone reaches output channels {touched} of `dwconv`; depthwise means only channel 1"
    return None


def _judge(candidate):
    return check_module(
        candidate,
        Bottleneck,
        block_cases(),
        mistakes=MISTAKES,
        properties=[_one_filter_per_channel],
        hints={"dwconv.weight": "depthwise: nn.Conv2d(mid, mid, kernel_size, ..., groups=mid)"},
    )


EXERCISES = (
    BuildIt(
        "03.1",
        "Write step 03's bottleneck: step 02's, with its kxk conv made depthwise (groups = channels) and named "
        "`dwconv`.",
        _judge,
        lambda: Bottleneck,
        "your block gives our outputs, and each channel of its depthwise conv sees only its own input channel: the "
        "kxk conv now mixes space only, and the two 1x1 convs mix channels.",
        step="03",
    ),
)


# 03.2, 03.3 -- predict: dense vs depthwise weights, the saving in stage 3 ------------------------------------

EXERCISES += (
    Exercise(
        "03.2",
        "How many weights have a depthwise 3x3 conv and a dense 3x3 conv on 128 channels (no bias)? "
        "Give (depthwise, dense).",
        lambda: (
            nn.Conv2d(128, 128, 3, groups=128, bias=False).weight.numel(),
            nn.Conv2d(128, 128, 3, bias=False).weight.numel(),
        ),
        "Depthwise: one 3x3 filter per channel (128 * 9); dense: one per channel pair (128 * 128 * 9).",
        "depthwise means groups = channels: each output channel sees one input channel.",
    ),
    Exercise(
        "03.3",
        "By what factor does making it depthwise cut the MACs of the 3x3 conv in step 03's stage 3?",
        lambda: (
            meta_model("02").stages[2].blocks[1].conv.weight.numel()
            // meta_model("03").stages[2].blocks[1].dwconv.weight.numel()
        ),
        "By the channel count (256 there): each output channel now sums over 1 input channel instead of 256.",
        "compare the two convs' weight counts: MACs per pixel equal the weight count.",
    ),
)
