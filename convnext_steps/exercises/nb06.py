"""Notebook 06 (depthwise conv moved up): its exercises and their checkers."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..measure import leaf_macs
from ..steps.step06_dwconv_up import InvertedBottleneck
from .core import BuildIt, Case, Exercise, Mistake, block_cases, check_module, meta_model, record

# 06.1 -- build it: the depthwise conv moved up ------------------------------------------------------------------


def _tail(m: nn.Module, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    out = m.bn3(m.pwconv2(m.act(m.bn1(m.pwconv1(out)))))
    return m.act(m.shortcut(x) + m.drop_path(out))


def _stride_on_1x1(m: nn.Module, x: torch.Tensor) -> torch.Tensor:
    out = m.act(m.bn2(F.conv2d(x, m.dwconv.weight, padding=m.dwconv.padding, groups=m.dwconv.groups)))
    out = m.act(m.bn1(F.conv2d(out, m.pwconv1.weight, stride=m.dwconv.stride)))
    return m.act(m.shortcut(x) + m.drop_path(m.bn3(m.pwconv2(out))))


MISTAKES = (
    Mistake(
        "the stride sits on the first 1x1 conv; it stays in the depthwise conv, now the block's first layer",
        _stride_on_1x1,
    ),
    Mistake(
        "the ReLU after the depthwise conv's BN is missing: step 06 moves dwconv + BN + ReLU up unchanged",
        lambda m, x: _tail(m, x, m.bn2(m.dwconv(x))),
    ),
    Mistake(
        "the BN after the depthwise conv is missing (bn2 has to run right after dwconv, which it moved with)",
        lambda m, x: _tail(m, x, m.act(m.dwconv(x))),
    ),
    Mistake(
        "the ReLU after the sum is missing: the block still ends with ReLU(shortcut + branch)",
        lambda m, x: m.shortcut(x) + m.drop_path(m.bn3(m.pwconv2(m.act(m.bn1(m.pwconv1(m.act(m.bn2(m.dwconv(x))))))))),
    ),
)

_NARROW = "the depthwise conv now runs first, on the block's input: in_dim channels, not the hidden 4 x dim"


def _narrow_first(module: nn.Module, case: Case) -> str | None:
    """The depthwise conv is the first layer to run, on the input's in_dim channels."""
    in_dim = case.args["in_dim"]
    calls = [c for c in record(module, torch.zeros(1, in_dim, 8, 8)) if c[0] != "shortcut" and "." not in c[0]]
    on = [inp[1] for name, inp, _ in calls if name == "dwconv"] or [module.dwconv.weight.shape[0]]  # called or not
    first = calls[0][0] if any(name == "dwconv" for name, _, _ in calls) else "dwconv"
    if first != "dwconv" or on != [in_dim]:
        return (
            f"the first layer to run is `{first}` and dwconv runs on {on[0]} channels; dwconv comes first, on the "
            f"input's {in_dim}"
        )
    sizes = [(inp[2:], out[2:]) for name, inp, out in calls if name == "dwconv"]
    if case.args["stride"] == 2 and sizes and sizes[0][0] == sizes[0][1]:
        return (
            "the same outputs, but your depthwise conv runs at full resolution and the 1x1 after it drops 3 of "
            "every 4 of its outputs: 4x the depthwise conv's work; put the stride in dwconv"
        )
    return None


def _judge(candidate):
    return check_module(
        candidate,
        InvertedBottleneck,
        block_cases(),
        mistakes=MISTAKES,
        properties=[_narrow_first],
        hints={"dwconv.weight": _NARROW, "bn2.weight": _NARROW},
        every_case=True,  # the stride-2 block shows where the stride runs
    )


EXERCISES = (
    BuildIt(
        "06.1",
        "Write step 06's block: step 05's with the depthwise conv (and its BN and ReLU) moved to the top, on the "
        "narrow input: dwconv, bn2, ReLU, then pwconv1, bn1, ReLU, pwconv2, bn3.",
        _judge,
        lambda: InvertedBottleneck,
        "your block mixes space first, on the narrow in_dim channels, then channels in the wide MLP: a Transformer "
        "block's order (attention, then MLP).",
        step="06",
    ),
)


# 06.2 -- predict: which layer the saving comes from ------------------------------------------------------------


def _block_layer_macs(step: str) -> dict[str, int]:
    """Multiply-adds of each of the blocks' own layers (by name: dwconv, pwconv1, ...), summed over every block of
    the network at 224x224; shortcuts, stem and head left out."""
    totals: dict[str, int] = {}
    for name, macs in leaf_macs(meta_model(step)).items():
        parts = name.split(".")  # stages.<s>.blocks.<b>.<layer>
        if len(parts) == 5 and parts[0] == "stages" and parts[2] == "blocks":
            totals[parts[4]] = totals.get(parts[4], 0) + macs
    return totals


def _largest_drop(a: str, b: str) -> str:
    before, after = _block_layer_macs(a), _block_layer_macs(b)
    return max(before, key=lambda name: before[name] - after.get(name, 0))


EXERCISES += (
    Exercise(
        "06.2",
        "Over the whole network, which of the block's layers loses the most multiply-adds with the move: 'dwconv', "
        "'pwconv1' or 'pwconv2'?",
        lambda: _largest_drop("05", "06"),
        "The depthwise convs were cheap already (k*k multiply-adds per channel and pixel; a 1x1 conv has C_in). In "
        "the first block of stages 2-4 the stride now runs before pwconv1, so that wide 1x1 conv works on a "
        "quarter of the pixels: most of the step's saving.",
        "a depthwise kxk conv costs k*k multiply-adds per channel and pixel, a 1x1 conv C_in per output channel and "
        "pixel; and look at where the stride-2 blocks now run their first 1x1 conv.",
    ),
)
