"""Notebook 02 (patchify stem): its exercises and their checkers."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..steps.step02_patchify_stem import PatchifyStem
from .core import BuildIt, Case, Exercise, Mistake, check_module, meta_model, run


def _stem_shape(step: str, size: int) -> tuple[int, ...]:
    stem = meta_model(step).stem  # shapes only
    return tuple(stem(torch.zeros(1, 3, size, size, device="meta")).shape[1:])


# 02.1 -- build it: the patchify stem ----------------------------------------------------------------------------

STEM_CASES = (
    Case(dict(in_chans=3, dim=8), ((1, 3, 16, 20), (2, 3, 8, 8))),
    Case(dict(in_chans=1, dim=6), ((1, 1, 12, 28),)),
    Case(dict(in_chans=3, dim=8), ((4, 3, 8, 12),), train=True),
)

MISTAKES = (
    Mistake(
        "the stem's stride is 2: its 4x4 windows overlap and it downsamples 2x, not 4x; a patchify stem's stride "
        "equals its kernel (4), so each pixel falls in exactly one patch",
        lambda m, x: m.norm(F.conv2d(x, m.conv.weight, stride=2)),
    ),
    Mistake(
        "the stem's conv has stride 1: overlapping 4x4 windows and no downsampling; patchify means stride = kernel = 4",
        lambda m, x: m.norm(F.conv2d(x, m.conv.weight)),
    ),
    Mistake(
        "the stem pads its input: patches then straddle the border; a patchify conv has no padding",
        lambda m, x: m.norm(F.conv2d(x, m.conv.weight, stride=4, padding=1)),
    ),
    Mistake("the BN is not applied: the stem is conv, then BN", lambda m, x: m.conv(x)),
    Mistake(
        "a ReLU follows the BN: step 02's stem is a 4x4 stride-4 conv and a BN only (ResNet's stem had one)",
        lambda m, x: torch.relu(m.norm(m.conv(x))),
    ),
)


def _each_pixel_in_one_patch(module: nn.Module, case: Case) -> str | None:
    """Changing one input pixel changes exactly one output position, the patch it falls in."""
    stem = module.eval()
    x = torch.randn(1, case.args["in_chans"], 16, 16, generator=torch.Generator().manual_seed(3))
    y = x.clone()
    y[..., 6, 9] += 1.0
    with torch.no_grad():
        changed = (run("your stem", stem, y) - run("your stem", stem, x)).abs().sum(1)[0] > 0
    where = changed.nonzero().tolist()
    if where != [[1, 2]]:
        return (
            f"changing input pixel (6, 9) changes output positions {where}; a patchify stem changes only the one "
            "patch the pixel falls in, (1, 2)"
        )
    return None


def _judge_stem(candidate):
    return check_module(
        candidate,
        PatchifyStem,
        STEM_CASES,
        mistakes=MISTAKES,
        properties=[_each_pixel_in_one_patch],
        hints={"norm.weight": "the BN normalises the conv's output, so it has `dim` channels"},
        what="your stem",
    )


EXERCISES = (
    BuildIt(
        "02.1",
        "Write the patchify stem: a 4x4 conv with stride 4 from in_chans to dim channels (no bias), then a BN.",
        _judge_stem,
        lambda: PatchifyStem,
        "your stem cuts the image into non-overlapping 4x4 patches (one input pixel moves exactly one output "
        "position) and maps each to a dim-vector: a ViT's patch embedding, written as a conv.",
        step="02",
        field="stem",
    ),
)


# 02.2, 02.3 -- predict: the stem's weights, its output ---------------------------------------------------------

EXERCISES += (
    Exercise(
        "02.2",
        "How many weights has step 02's stem conv (4x4, stride 4, 3 -> 64 channels, no bias)?",
        lambda: meta_model("02").stem.conv.weight.numel(),
        "One 4x4 filter per input channel per output channel: 3 * 64 * 16.",
        "a conv's weight has shape (C_out, C_in, k, k).",
        unit="weights",
    ),
    Exercise(
        "02.3",
        "What (C, H, W) does step 02's stem give for a 256x256 image?",
        lambda: _stem_shape("02", 256),
        "Non-overlapping 4x4 patches: 256 / 4 = 64 per side, one 64-vector per patch.",
        "the stem cuts the image into 4x4 patches; give a tuple (C, H, W).",
    ),
)
