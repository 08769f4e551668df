"""Notebook 12 (separate downsampling, ConvNeXt-T): its exercises and their checkers."""

from __future__ import annotations

import torch
from torch import nn

from ..measure import cost_breakdown
from ..steps import step12_separate_downsampling
from .core import BuildIt, Case, Exercise, Mistake, build, check_module, meta_model, run


def _downsampling_macs() -> int:
    return sum(r["macs"] for r in cost_breakdown(meta_model("12")) if r["component"] == "downsampling")


PREDICTIONS = (
    Exercise(
        "12.3",
        "How many multiply-adds do ConvNeXt-T's three downsampling layers cost at 224x224?",
        _downsampling_macs,
        "Each 2x2 stride-2 conv costs H*W*4*C_in*C; halving H and W while doubling C keeps each at 57.8 M.",
        "a 2x2 conv from C_in to C at output size H x W costs H*W*2*2*C_in*C.",
        tolerance=0.01,
        unit="MACs",
    ),
    Exercise(
        "12.4",
        "How many parameters does layer scale add to ConvNeXt-T?",
        lambda: sum(p.numel() for n, p in meta_model("12").named_parameters() if n.endswith("gamma")),
        "One gain per channel per block: 3*96 + 3*192 + 9*384 + 3*768.",
        "gamma has one entry per channel of each of the 18 blocks.",
        unit="parameters",
    ),
)


# 12.1 -- build it: the separate downsampling layer -----------------------------------------------------------------

DOWNSAMPLE_MISTAKES = (
    Mistake(
        "your LN runs after the 2x2 conv; ConvNeXt normalises first (the LN on in_dim channels), then downsamples",
        lambda m, x: nn.functional.layer_norm(m.conv(x).permute(0, 2, 3, 1), (m.conv.out_channels,), eps=1e-6).permute(
            0, 3, 1, 2
        ),
    ),
    Mistake(
        "your layer has no LN: a norm before the 2x2 conv keeps training stable where the resolution changes",
        lambda m, x: m.conv(x),
    ),
)


def _judge_downsample(candidate):
    cases = (
        Case(dict(in_dim=8, dim=16), ((1, 8, 8, 12), (2, 8, 6, 6))),
        Case(dict(in_dim=12, dim=20), ((1, 12, 4, 10),)),
    )
    hints = {
        "norm.weight": "the LN normalises the layer's input, in_dim channels, before the conv",
        "conv.weight": "ConvNeXt downsamples with a 2x2 kernel at stride 2: non-overlapping 2x2 patches",
    }
    return check_module(
        candidate,
        step12_separate_downsampling.Downsample,
        cases,
        mistakes=DOWNSAMPLE_MISTAKES,
        hints=hints,
        what="your downsampling layer",
    )


# 12.2 -- build it: the channels-last block with layer scale -------------------------------------------------------


def _branch(m: nn.Module, x: torch.Tensor, act_after_pw2: bool = False) -> torch.Tensor:
    out = m.norm(m.dwconv(x).permute(0, 2, 3, 1))
    out = m.pwconv2(m.pwconv1(out)) if act_after_pw2 else m.pwconv2(m.act(m.pwconv1(out)))
    return m.act(out) if act_after_pw2 else out


BLOCK_MISTAKES = (
    Mistake(
        "layer scale is missing: multiply the branch by self.gamma (one gain per channel) before the sum",
        lambda m, x: x + m.drop_path(_branch(m, x).permute(0, 3, 1, 2)),
    ),
    Mistake(
        "your GELU runs after the second linear layer; it belongs between the two, on the 4C-wide hidden tensor",
        lambda m, x: x + m.drop_path((m.gamma * _branch(m, x, act_after_pw2=True)).permute(0, 3, 1, 2)),
    ),
    Mistake(
        "layer scale multiplies the sum; it scales the branch only, so that a fresh block is the identity",
        lambda m, x: (m.gamma * (x.permute(0, 2, 3, 1) + _branch(m, x))).permute(0, 3, 1, 2),
    ),
    Mistake(
        "drop path is not applied: in training it must zero the branch for some samples (self.drop_path)",
        lambda m, x: x + (m.gamma * _branch(m, x)).permute(0, 3, 1, 2),
    ),
)


def _fresh_block_is_near_identity(module: nn.Module, case: Case) -> str | None:
    """Layer scale's point: built with layer_scale_init_value=1e-6 a block starts as (nearly) the identity."""
    args = dict(case.args, layer_scale_init_value=1e-6)
    block = build(type(module), args).eval()
    x = torch.randn(1, args["dim"], 5, 6, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        out = run("your block's forward", block, x.clone())
    if not (out - x).abs().max() < 1e-3:
        return "with layer_scale_init_value=1e-6 your fresh block is not close to the identity: start gamma there"
    return None


def _judge_block(candidate):
    def case(kernel=7, scale=0.5, drop=0.0, inputs=((1, 16, 9, 13), (2, 16, 6, 6)), train=False):
        args = dict(in_dim=16, dim=16, kernel_size=kernel, stride=1, drop_path=drop, layer_scale_init_value=scale)
        return Case(args, inputs, train)

    probe = build(candidate, case().args)
    if not isinstance(getattr(probe, "gamma", None), nn.Parameter):
        return "your block has no layer scale: `self.gamma`, an nn.Parameter of dim gains, layer_scale_init_value each"
    cases = (case(), case(kernel=3, inputs=((1, 16, 7, 5),)), case(scale=0.0, inputs=((2, 16, 5, 5),)))
    cases += (case(drop=0.5, inputs=((4, 16, 5, 6),), train=True),)
    return check_module(
        candidate,
        step12_separate_downsampling.Block,
        cases,
        mistakes=BLOCK_MISTAKES,
        properties=[_fresh_block_is_near_identity],
        hints={"gamma": "gamma has one entry per channel: torch.ones(dim) * layer_scale_init_value"},
    )


EXERCISES = (
    BuildIt(
        "12.1",
        "Write the separate downsampling layer: an LN over the input's channels (`norm`), then a 2x2 stride-2 "
        "conv from in_dim to dim (`conv`).",
        _judge_downsample,
        lambda: step12_separate_downsampling.Downsample,
        "normalise, then a 2x2 stride-2 conv: each output pixel reads one 2x2 patch, like Swin's patch merging; "
        "the blocks after it keep their width and resolution, so their shortcuts are identities.",
        kind="layer",
        step="12",
        field="downsample",
    ),
    BuildIt(
        "12.2",
        "Write ConvNeXt's block, channels-last: dwconv on (N, C, H, W), permute to (N, H, W, C), LayerNorm, "
        "Linear 4x, GELU, Linear back, times gamma (layer scale; none when layer_scale_init_value is 0), "
        "permute back, drop path, plus the input.",
        _judge_block,
        lambda: step12_separate_downsampling.Block,
        "the official ConvNeXt block: on channels-last tensors the norm is a plain LayerNorm and the 1x1 convs "
        "are Linear layers; gamma starts at 1e-6, so each fresh block is nearly the identity and training "
        "grows the branches it needs.",
        step="12",
    ),
) + PREDICTIONS
