"""Notebook 14 (common pitfalls) as find-the-bug: each pitfall is handed to the learner as buggy code to fix.

Each exercise's `unchanged` recognises the buggy version as handed out, by behaviour, and answers with what the bug
does (how far the outputs move, how the multiply-adds or shapes change), never where it is; its `judge` checks the
fix against ConvNeXt's piece like any build-it. The buggy pieces and their measures live in `pitfalls`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .. import pitfalls
from ..layers import LayerNorm2d
from ..measure import count_macs, count_params, stage_shapes
from ..network import NetConfig, Network, drop_path_rates
from ..steps import step03_depthwise_conv, step11_layernorm, step12_separate_downsampling
from .core import BuildIt, Case, Mistake, NotAttempted, check_config, check_module, run

# Norms: 14.1 GroupNorm(1, C), 14.2 nn.LayerNorm on NCHW, 14.3 eps ------------------------------------------------

NORM_CASES = (
    Case(dict(num_channels=8), ((1, 8, 5, 7), (2, 8, 6, 6), (1, 8, 1, 9))),
    Case(dict(num_channels=6), ((1, 6, 4, 9),)),
    Case(dict(num_channels=8), ((2, 8, 3, 5),), scale=1e-3),  # small activations: eps shows
)


def _matches(candidate, buggy: type, cases) -> bool:
    try:
        return check_module(candidate, buggy, cases, what="your norm") is None
    except NotAttempted:
        return False


def _pixel_map(channels: int = 8) -> torch.Tensor:
    """A map whose pixels differ in offset and scale, as real feature maps do (notebook 11)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, channels, 5, 7, generator=g)
    return x * (0.5 + 2 * torch.rand(1, 1, 5, 7, generator=g)) + 3 * torch.randn(1, 1, 5, 7, generator=g)


def _groupnorm_still(candidate) -> str | None:
    if not _matches(candidate, pitfalls.GroupNormAsLayerNorm, NORM_CASES):
        return None
    shift = pitfalls.max_output_shift(pitfalls.GroupNormAsLayerNorm(8), LayerNorm2d(8), _pixel_map())
    return (
        f"on a map whose pixels differ in offset and scale its outputs are up to {shift:.1f} away from ConvNeXt's "
        "LayerNorm, and a pixel's channels do not come out with mean 0 and variance 1"
    )


def _nchw_still(candidate) -> str | None:
    if not _matches(candidate, pitfalls.LayerNormOnNCHW, (Case(dict(num_channels=8), ((1, 8, 5, 8),)),)):
        return None
    x = _pixel_map()[..., :5, :].repeat(1, 1, 1, 2)[..., :8]  # (1, 8, 5, 8): W == C, so it runs
    shift = pitfalls.max_output_shift(pitfalls.LayerNormOnNCHW(8), LayerNorm2d(8), x)
    return (
        f"on a (1, 8, 5, 8) map (W = C = 8) it runs, normalising each row's 8 pixels instead of each pixel's 8 "
        f"channels: outputs up to {shift:.1f} away; on a (1, 8, 5, 7) map it raises a RuntimeError"
    )


def _eps_still(candidate) -> str | None:
    if not _matches(candidate, pitfalls.LayerNormEps1e5, NORM_CASES):
        return None
    x = 1e-3 * torch.tensor([1.0, -1.0] * 4).reshape(1, 8, 1, 1)  # each pixel's channels: variance exactly 1e-6
    with torch.no_grad():
        ratio = (pitfalls.LayerNormEps1e5(8)(x).std() / LayerNorm2d(8)(x).std()).item()
    return (
        f"channels that vary by 0.001 around their mean (variance 1e-6, as small activations do) come out "
        f"{ratio:.2f}x as large as ConvNeXt's; on unit-variance activations the difference is below 1e-5"
    )


def _layer_norm(x: torch.Tensor, m: nn.Module, eps: float) -> torch.Tensor:
    return F.layer_norm(x.permute(0, 2, 3, 1), m.weight.shape, m.weight, m.bias, eps).permute(0, 3, 1, 2)


NORM_MISTAKES = (
    Mistake(
        "it normalises each sample over (C, H, W) at once (GroupNorm with one group); ConvNeXt's LayerNorm "
        "normalises each pixel over its C channels only",
        lambda m, x: F.group_norm(x, 1, m.weight, m.bias, 1e-6),
    ),
    Mistake(
        "its eps is 1e-5, PyTorch's default; ConvNeXt's is 1e-6 (on small activations the outputs shrink)",
        lambda m, x: _layer_norm(x, m, 1e-5),
    ),
    Mistake(
        "it divides by the unbiased variance (n - 1); LayerNorm uses the biased one (divide by n)",
        lambda m, x: (
            (x - x.mean(1, keepdim=True))
            / (x.var(1, keepdim=True, unbiased=True) + 1e-6).sqrt()
            * m.weight[:, None, None]
            + m.bias[:, None, None]
        ),
    ),
)


def _norm_judge(candidate):
    return check_module(
        candidate,
        LayerNorm2d,
        NORM_CASES,
        mistakes=NORM_MISTAKES,
        hints={"weight": "one scale per channel: (C,)", "bias": "one shift per channel: (C,)"},
        what="your norm",
    )


_NORM_WHY = "each pixel's C-vector normalised on its own, over the channels only, with eps 1e-6: ConvNeXt's LayerNorm"

# 14.4 the head norm ---------------------------------------------------------------------------------------------


def _head_norm_still(candidate) -> str | None:
    if candidate != pitfalls.NO_HEAD_NORM_CONFIG:
        return None
    with torch.device("meta"):
        wrong, right = Network(candidate), Network(step12_separate_downsampling.CONFIG)
    extra = sorted(set(right.state_dict()) - set(wrong.state_dict()))
    return (
        f"it has {count_params(right) - count_params(wrong):,} fewer parameters than ConvNeXt-T, a ConvNeXt-T "
        f"checkpoint does not load into it ({len(extra)} unexpected keys: {', '.join(extra)}), and the classifier "
        "gets the pooled features unnormalised"
    )


# 14.5 the init --------------------------------------------------------------------------------------------------

_INIT_LAYERS = (
    ("a 7x7 depthwise conv on 96 channels", lambda: nn.Conv2d(96, 96, 7, padding=3, groups=96)),
    ("a 1x1 conv 96 -> 384", lambda: nn.Conv2d(96, 384, 1)),
    ("the classifier 768 -> 1000", lambda: nn.Linear(768, 1000)),
)


def _initialised(candidate):
    if not callable(candidate):
        raise NotAttempted
    layers = []
    for label, make in _INIT_LAYERS:
        torch.manual_seed(0)
        layer = make()
        torch.manual_seed(1)
        run("your init", candidate, layer)
        layers.append((label, layer))
    return layers


def _init_still(candidate) -> str | None:
    layers = _initialised(candidate)
    default = [1 / math.sqrt(3 * layer.weight[0].numel()) for _, layer in layers]  # uniform(+-1/sqrt(fan_in))
    stds = [layer.weight.std().item() for _, layer in layers]
    if not all(abs(s / d - 1) < 0.05 for s, d in zip(stds, default)):
        return None
    shown = ", ".join(f"{d:.3f} in {label}" for (label, _), d in zip(layers, default))
    return f"the weights' standard deviation depends on each layer's fan-in ({shown}), and the biases are not zero"


def _init_judge(candidate) -> str | None:
    for label, layer in _initialised(candidate):
        std, mean = layer.weight.std().item(), layer.weight.mean().item()
        if not 0.018 < std < 0.022 or abs(mean) > 0.002:
            return f"in {label} the weights have mean {mean:.3f} and std {std:.3f}; ConvNeXt's have mean 0, std 0.02"
        if layer.bias is not None and layer.bias.abs().max().item() != 0:
            return f"in {label} the biases are not zero; ConvNeXt starts every bias at 0"
    return None


# 14.6 grouped conv ----------------------------------------------------------------------------------------------


class _GroupedBottleneck(step03_depthwise_conv.Bottleneck):
    """Pitfall 2 as a class: step 03's block with ResNeXt's 32 groups."""

    def __init__(self, in_dim, dim, kernel_size, stride=1, drop_path=0.0):
        super().__init__(in_dim, dim, kernel_size, stride, drop_path)
        mid = dim // self.expansion
        self.dwconv = nn.Conv2d(mid, mid, kernel_size, stride, kernel_size // 2, groups=32, bias=False)


_WIDE_CASES = (
    Case(dict(in_dim=256, dim=256, kernel_size=3, stride=1, drop_path=0.0), ((1, 256, 5, 7),)),
    Case(dict(in_dim=128, dim=256, kernel_size=3, stride=2, drop_path=0.0), ((1, 128, 7, 6),)),
)


def _grouped_still(candidate) -> str | None:
    try:
        if check_module(candidate, _GroupedBottleneck, _WIDE_CASES[:1]) is not None:
            return None
    except NotAttempted:
        return None
    with torch.device("meta"):
        wrong, right = Network(pitfalls.GROUPED_CONV_CONFIG), Network(step03_depthwise_conv.CONFIG)
    return (
        f"in step 03's network it gives {count_params(wrong):,} parameters, not {count_params(right):,}, and "
        f"{count_macs(wrong) / 1e9:.3f} GMACs, not the paper's 2.35"
    )


def _grouped_judge(candidate):
    return check_module(candidate, step03_depthwise_conv.Bottleneck, _WIDE_CASES)


# 14.7 an extra downsampler --------------------------------------------------------------------------------------


def _downsample_still(candidate) -> str | None:
    if not isinstance(candidate, NetConfig):
        return None
    with torch.device("meta"):
        mine, buggy = run("building your network", Network, candidate), Network(pitfalls.EXTRA_DOWNSAMPLE_CONFIG)
        right = Network(step12_separate_downsampling.CONFIG)
    if stage_shapes(mine) != stage_shapes(buggy) or count_params(mine) != count_params(buggy):
        return None
    return (
        f"at 224x224 its last feature map is {stage_shapes(mine)[-1][1]}x{stage_shapes(mine)[-1][2]}, not 7x7: it "
        f"downsamples 64x, every stage runs at half the resolution, and it costs {count_macs(mine) / 1e9:.2f} GMACs "
        f"instead of ConvNeXt-T's {count_macs(right) / 1e9:.2f}"
    )


# 14.8 drop-path rates -------------------------------------------------------------------------------------------

_SCHEDULES = (((3, 3, 9, 3), 0.1), ((2, 2, 6, 2), 0.2), ((3, 3, 27, 3), 0.4))


def _rates(candidate, depths, rate):
    if not callable(candidate):
        raise NotAttempted
    got = run("your drop_path_rates", candidate, depths, rate)
    return [float(r) for r in got]


def _rates_still(candidate) -> str | None:
    depths, rate = _SCHEDULES[0]
    got = _rates(candidate, depths, rate)
    if got != pitfalls.per_stage_drop_path_rates(depths, rate):
        return None
    stage3 = got[depths[0] + depths[1]]
    return (
        f"for ConvNeXt-T (rate 0.1) stage 1's 3 blocks are never dropped, all 9 blocks of stage 3 share one rate "
        f"({stage3:.3f}), and the mean rate is {sum(got) / len(got):.3f} instead of 0.050"
    )


def _rates_judge(candidate) -> str | None:
    for depths, rate in _SCHEDULES:
        got, want = _rates(candidate, depths, rate), drop_path_rates(depths, rate)
        if len(got) != len(want) or any(abs(g - w) > 1e-6 for g, w in zip(got, want)):
            shown = ", ".join(f"{g:.3f}" for g in got[:5])
            return (
                f"for depths {depths} and rate {rate} your rates begin {shown}, ...; they must rise linearly over all "
                f"{sum(depths)} blocks, from 0 at the first to {rate} at the last"
            )
    return None


# 14.9 a stride-1 stem -------------------------------------------------------------------------------------------


class _Stride1Stem(step11_layernorm.PatchifyStem):
    """Pitfall 5 as a class: the LN patchify stem with its conv's stride left at 1."""

    def __init__(self, in_chans, dim):
        super().__init__(in_chans, dim)
        self.conv = nn.Conv2d(in_chans, dim, kernel_size=4)


_STEM_CASES = (
    Case(dict(in_chans=3, dim=8), ((1, 3, 16, 20), (2, 3, 8, 8))),
    Case(dict(in_chans=1, dim=6), ((1, 1, 12, 28),)),
)


def _stem_still(candidate) -> str | None:
    try:
        if check_module(candidate, _Stride1Stem, _STEM_CASES[:1], what="your stem") is not None:
            return None
    except NotAttempted:
        return None
    with torch.device("meta"):
        wrong, right = Network(pitfalls.STRIDE1_STEM_CONFIG), Network(step12_separate_downsampling.CONFIG)
        shape = tuple(wrong.stem(torch.zeros(1, 3, 224, 224, device="meta")).shape[1:])
    ratio = count_macs(wrong) / count_macs(right)
    return (
        f"for a 224x224 image it outputs {shape}, not (96, 56, 56): stage 1 runs at {shape[1]}x{shape[2]}, and "
        f"the network costs {ratio:.1f}x ConvNeXt-T's multiply-adds; the parameter count is the same"
    )


def _stem_judge(candidate):
    return check_module(candidate, step11_layernorm.PatchifyStem, _STEM_CASES, what="your stem")


def _todo(unchanged, what: str):
    """The "still buggy" line, ending with what to do about it."""

    def still(candidate) -> str | None:
        found = unchanged(candidate)
        return found and f"{found}. Find the bug, fix the {what} above and run both cells again."

    return still


EXERCISES = (
    BuildIt(
        "14.1",
        "Fix the LayerNorm for (N, C, H, W) maps.",
        _norm_judge,
        lambda: LayerNorm2d,
        f"{_NORM_WHY}. GroupNorm(1, C) normalised each sample over (C, H, W) at once.",
        unchanged=_todo(_groupnorm_still, "class"),
    ),
    BuildIt(
        "14.2",
        "Fix the LayerNorm that runs nn.LayerNorm on the (N, C, H, W) map.",
        _norm_judge,
        lambda: LayerNorm2d,
        f"{_NORM_WHY}. F.layer_norm normalises the trailing axes: the channels must be moved last first (or the "
        "mean and variance taken over dim 1).",
        unchanged=_todo(_nchw_still, "class"),
    ),
    BuildIt(
        "14.3",
        "Fix the LayerNorm's eps.",
        _norm_judge,
        lambda: LayerNorm2d,
        f"{_NORM_WHY}. eps sits beside the variance under the square root, so where a pixel's channels vary "
        "little it, not the variance, sets the output's scale: with PyTorch's default 1e-5, channels of variance "
        "1e-6 come out less than half as large. ConvNeXt uses 1e-6, and every official checkpoint was trained with it.",
        unchanged=_todo(_eps_still, "class"),
    ),
    BuildIt(
        "14.4",
        "Fix ConvNeXt-T's config: the pooled features need their LayerNorm before the classifier.",
        lambda c: check_config(c, "12"),
        lambda: step12_separate_downsampling.CONFIG,
        "ConvNeXt-T again: the pooled features pass a LayerNorm (eps 1e-6) before the classifier, as in the official "
        "model, and its checkpoints load. It is the last of the LayerNorms the paper puts where the resolution "
        "changes (after the stem, before each downsampling layer, after the pooling): without norms there its "
        "training diverged (Section 2.6).",
        kind="config",
        unchanged=_todo(_head_norm_still, "config"),
    ),
    BuildIt(
        "14.5",
        "Fix the init: ConvNeXt's trunc-normal(std 0.02) weights and zero biases for every conv and linear layer.",
        _init_judge,
        lambda: pitfalls.convnext_init,
        "every conv and linear weight starts at std 0.02 whatever its fan-in, every bias at 0 (the official "
        "_init_weights). One small std is the Transformers' init (ViT, DeiT, Swin), which ConvNeXt copies: each "
        "residual branch starts small, and the norms, not the init, set every layer's scale. With PyTorch's "
        "default the scale would follow each layer's fan-in, and two steps would differ in their init as well.",
        kind="function",
        unchanged=_todo(_init_still, "function"),
    ),
    BuildIt(
        "14.6",
        "Fix step 03's block: its kxk conv must be depthwise.",
        _grouped_judge,
        lambda: step03_depthwise_conv.Bottleneck,
        "groups = channels: one filter per channel, the paper's 2.35 GFLOPs; ResNeXt's 32 groups is another layer.",
        unchanged=_todo(_grouped_still, "class"),
    ),
    BuildIt(
        "14.7",
        "Fix ConvNeXt-T's config: it downsamples once too often.",
        lambda c: check_config(c, "12"),
        lambda: step12_separate_downsampling.CONFIG,
        "four downsampling layers in all, as in the official code: the stem (4x) and three between stages (2x each), "
        "so the stages run at 56, 28, 14 and 7 pixels.",
        kind="config",
        unchanged=_todo(_downsample_still, "config"),
    ),
    BuildIt(
        "14.8",
        "Fix the drop-path schedule.",
        _rates_judge,
        lambda: drop_path_rates,
        "the rate rises linearly per block over the whole network, as the official torch.linspace(0, rate, "
        "sum(depths)) does: stochastic depth's linear decay rule (Huang et al. 2016). The early blocks compute "
        "the features every later block builds on, so they are dropped least; the deepest most.",
        kind="function",
        unchanged=_todo(_rates_still, "function"),
    ),
    BuildIt(
        "14.9",
        "Fix the patchify stem.",
        _stem_judge,
        lambda: step11_layernorm.PatchifyStem,
        "kernel 4, stride 4: non-overlapping patches, 56x56 at 224, the paper's cost.",
        unchanged=_todo(_stem_still, "class"),
    ),
)
