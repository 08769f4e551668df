"""Notebook 07 (kernel 7x7): its exercises and their checkers."""

from __future__ import annotations

import torch
from torch import nn

from ..measure import count_macs, count_params
from ..steps import step06_dwconv_up
from .core import BuildIt, Exercise, block_cases, build, check_module, meta_model, run

PREDICTIONS = (
    Exercise(
        "07.2",
        "Predict the GMACs of step 07 with a 5x5 kernel (build_model('07', kernel_size=5)), then measure.",
        lambda: count_macs(meta_model("07", kernel_size=5)) / 1e9,
        "Only the depthwise convs grow: 25 instead of 49 taps per channel, a few hundredths of a GMAC.",
        "start from step 07's 4.146 G; only the depthwise convs depend on the kernel.",
        tolerance=0.002,
        unit="GMACs",
    ),
    Exercise(
        "07.3",
        "How many parameters does going from 7x7 to 9x9 add to the whole network?",
        lambda: count_params(meta_model("07", kernel_size=9)) - count_params(meta_model("07")),
        "(81 - 49) taps for every channel of every depthwise conv: 32 * (3*96 + (96 + 2*192) + (192 + 8*384) + "
        "(384 + 2*768)) = 32 * 5,952; each stage's first block runs its depthwise conv on the previous stage's "
        "width (the stride-2 conv comes before the widening 1x1).",
        "only the depthwise convs change: count their channels over all blocks, and check each stage's first "
        "block (which width does its depthwise conv run on?).",
        unit="parameters",
    ),
)


# 07.1 -- build it: a depthwise conv of any odd kernel size, with the padding that keeps H x W ----------------------


def _depthwise_problem(conv: nn.Module, channels: int, k: int, stride: int) -> str | None:
    """What is wrong with a block's `dwconv`, by behaviour: output size, channel mixing, reach, bias."""
    h, w = 9, 13
    want = (-(-h // stride), -(-w // stride))
    with torch.no_grad():
        zero = run(f"your dwconv ({k}x{k}, stride {stride})", conv, torch.zeros(1, channels, h, w))
        if tuple(zero.shape[-2:]) != want or zero.shape[1] != channels:
            keeps = "keep H x W" if stride == 1 else f"give ceil(H/2) x ceil(W/2) = {want[0]}x{want[1]}"
            return (
                f"a {k}x{k} depthwise conv at stride {stride} must {keeps}: yours turns {channels}x{h}x{w} into "
                f"{'x'.join(map(str, zero.shape[1:]))}; pad by kernel_size // 2 (= {k // 2} here) on each side"
            )
        if zero.abs().max() > 0:
            return "your dwconv adds a bias: this block's depthwise conv has none (the BN after it shifts anyway)"
        x = torch.zeros(1, channels, h, w)
        x[0, 0, h // 2, w // 2] = 1.0
        response = conv(x)[0]
    if response[1:].abs().max() > 0:
        return (
            "output channels other than 0 respond to input channel 0: a depthwise conv has groups = channels "
            "(one k x k filter per channel)"
        )
    if stride == 1:
        rows = response[0].abs().sum(1).nonzero().flatten()
        reach = int(rows.max() - rows.min() + 1) if len(rows) else 0
        if reach != k:
            return f"your dwconv reaches {reach} rows around a point; a {k}x{k} kernel reaches {k}: use kernel_size"
    return None


def _judge_large_kernel(candidate):
    for k, stride in ((3, 1), (7, 1), (5, 2), (9, 1)):
        block = build(candidate, dict(in_dim=8, dim=8 * stride, kernel_size=k, stride=stride, drop_path=0.0))
        conv = getattr(block, "dwconv", None)
        if conv is None:
            return "your block has no `dwconv`: name the depthwise conv as the skeleton does"
        problem = _depthwise_problem(conv, 8, k, stride)
        if problem:
            return problem
    return check_module(candidate, step06_dwconv_up.InvertedBottleneck, block_cases(kernel_size=7, other_kernel=3))


EXERCISES = (
    BuildIt(
        "07.1",
        "Write `depthwise(channels, kernel_size, stride)`: a kernel_size x kernel_size depthwise conv (no bias) "
        "that keeps H x W at stride 1, for any odd kernel size, so that the config's kernel_size alone sets it.",
        _judge_large_kernel,
        lambda: step06_dwconv_up.InvertedBottleneck,
        "your depthwise conv keeps H x W for every odd kernel (padding k // 2), one filter per channel, no "
        "bias, and the block gives our outputs with k = 3, 5, 7 and 9: step 07 is this block with kernel_size=7.",
        step="07",
    ),
) + PREDICTIONS
