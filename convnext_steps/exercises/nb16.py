"""Notebook 16 (isotropic ConvNeXt): its exercises and their checkers."""

from __future__ import annotations

import torch
from torch import nn

from ..measure import count_macs, count_params
from ..steps import ext_isotropic
from .core import BuildIt, Case, Exercise, Mistake, Wrong, build, check_module, meta_model, run

FINE_TUNE = 384  # the fine-tuning resolution of ViT and ConvNeXt

PREDICTIONS = (
    Exercise(
        "16.2",
        "How many parameters does one block of isotropic ConvNeXt-S have (width 384, no layer scale)?",
        lambda: count_params(meta_model("isotropic_s").stages[0].blocks[0]),
        "8C^2 + 57C with C = 384: the two linear layers (C x 4C each, with biases 4C and C), the 7x7 "
        "depthwise conv (49C + C) and the LayerNorm (2C).",
        "count the depthwise conv (with bias), the LayerNorm's scale and shift and the two linear layers "
        "384 -> 1536 -> 384 (with biases).",
        unit="parameters",
    ),
    Exercise(
        "16.3",
        f"Isotropic ConvNeXt-S costs 4.286 GMACs on a 224x224 image. What does it cost on a {FINE_TUNE}x{FINE_TUNE} "
        "image?",
        lambda: count_macs(meta_model("isotropic_s"), image_size=FINE_TUNE) / 1e9,
        f"The stem cuts {FINE_TUNE}x{FINE_TUNE} into 24 x 24 = 576 patches instead of 14 x 14 = 196, and every "
        "layer after it is a per-position conv or linear map (the 7x7 depthwise conv too): the cost grows with "
        "the number of positions, (24 / 14)^2 = 2.94x, and only the classifier (one 384 -> 1000 layer) stays "
        "fixed. A ViT's attention would grow faster, with the square of the tokens.",
        "how many 16x16 patches does the stem cut the image into, and which layers' cost depends on it?",
        tolerance=0.02,
        unit="GMACs",
    ),
)


# 16.1 -- build it: the isotropic stem ------------------------------------------------------------------------------

MISTAKES = (
    Mistake(
        "your patches overlap (stride 8): a patchify stem's stride equals its kernel, 16, so each output pixel "
        "reads its own 16x16 patch",
        lambda m, x: nn.functional.conv2d(x, m.conv.weight, m.conv.bias, stride=8),
    ),
)


def _one_patch_per_pixel(module: nn.Module, case: Case) -> str | None:
    """Changing one 16x16 patch of the image changes exactly one output pixel: ViT's tokens."""
    x = torch.randn(1, case.args["in_chans"], 48, 32, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        before = run("your stem's forward", module.eval(), x.clone())
        x[:, :, 16:32, 0:16] += 1.0  # the patch of output pixel (1, 0)
        changed = (run("your stem's forward", module, x) - before).abs().sum(1)[0] > 0
    if changed.nonzero().tolist() != [[1, 0]]:
        return "changing one 16x16 patch should change exactly one output pixel; in yours it changes " + str(
            int(changed.sum())
        )
    return None


def _judge_stem(candidate):
    cases = (
        Case(dict(in_chans=3, dim=24), ((1, 3, 32, 48), (2, 3, 64, 64))),
        Case(dict(in_chans=1, dim=8), ((1, 1, 16, 16),)),
    )
    hints = {"conv.weight": "ViT's patches are 16x16: kernel_size=16, stride=16"}
    extra = "the isotropic stem is the conv alone: no norm after it (ViT's patch embedding has none)"
    for name in ("norm.weight", "norm.bias"):
        hints[name] = extra
    try:
        stem = build(candidate, dict(in_chans=3, dim=24))
    except Wrong as wrong:
        return str(wrong)
    if any(n.startswith("norm") for n, _ in stem.named_parameters()):
        return extra
    return check_module(
        candidate,
        ext_isotropic.PatchifyStem,
        cases,
        mistakes=MISTAKES,
        properties=[_one_patch_per_pixel],
        hints=hints,
        what="your stem",
    )


EXERCISES = (
    BuildIt(
        "16.1",
        "Write the isotropic stem: a 16x16 stride-16 conv from in_chans to dim (`conv`, with bias), and nothing "
        "after it.",
        _judge_stem,
        lambda: ext_isotropic.PatchifyStem,
        "one 16x16 patch per output pixel, 14 x 14 of them for a 224x224 image: ViT-S's tokens, as ConvNeXt "
        "vectors; the blocks then keep that shape to the head.",
        kind="stem",
        step="isotropic_s",
        field="stem",
    ),
) + PREDICTIONS
