"""Notebook 05 (inverted bottleneck): its exercises and their checkers."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..measure import cost_breakdown, count_params
from ..steps.step05_inverted_bottleneck import InvertedBottleneck
from .core import BuildIt, Case, Exercise, Mistake, block_cases, check_module, meta_model, record

# 05.1 -- build it: the inverted bottleneck ----------------------------------------------------------------------


def _branch(m: nn.Module, x: torch.Tensor, stride_on_1x1: bool = False) -> torch.Tensor:
    if stride_on_1x1:
        out = m.act(m.bn1(F.conv2d(x, m.pwconv1.weight, stride=m.dwconv.stride)))
        out = F.conv2d(out, m.dwconv.weight, padding=m.dwconv.padding, groups=m.dwconv.groups)
    else:
        out = m.dwconv(m.act(m.bn1(m.pwconv1(x))))
    return m.bn3(m.pwconv2(m.act(m.bn2(out))))


MISTAKES = (
    Mistake(
        "the stride sits on the first 1x1 conv; it belongs in the depthwise conv, which then sees every pixel",
        lambda m, x: m.act(m.shortcut(x) + m.drop_path(_branch(m, x, stride_on_1x1=True))),
    ),
    Mistake(
        "the ReLU after the sum is missing: step 05 only reshapes the branch; it still ends with ReLU(shortcut + "
        "branch) (step 09 is where activations go)",
        lambda m, x: m.shortcut(x) + m.drop_path(_branch(m, x)),
    ),
    Mistake(
        "bn1 and bn2 are swapped: bn1 normalises pwconv1's output and bn2 the depthwise conv's (each norm has its "
        "own conv's statistics)",
        lambda m, x: m.act(
            m.shortcut(x) + m.drop_path(m.bn3(m.pwconv2(m.act(m.bn1(m.dwconv(m.act(m.bn2(m.pwconv1(x)))))))))
        ),
    ),
    Mistake(
        "the ReLU between bn2 and the last 1x1 conv is missing",
        lambda m, x: m.act(m.shortcut(x) + m.drop_path(m.bn3(m.pwconv2(m.bn2(m.dwconv(m.act(m.bn1(m.pwconv1(x))))))))),
    ),
)

_HIDDEN = "the hidden width is expansion x dim: 4 x the block's output width (a ResNet bottleneck divides by 4 instead)"


def _wide_in_the_middle(module: nn.Module, case: Case) -> str | None:
    """The widest tensor inside is 4 x dim, and the depthwise conv runs on it."""
    dim, in_dim = case.args["dim"], case.args["in_dim"]
    calls = record(module, torch.zeros(1, in_dim, 8, 8))
    widest = max([out[1] for _, _, out in calls] + [module.dwconv.weight.shape[0]])
    on = [inp[1] for name, inp, _ in calls if name == "dwconv"] or [module.dwconv.weight.shape[0]]  # called or not
    if widest != 4 * dim or on != [4 * dim]:
        return f"the widest tensor inside is {widest} channels and dwconv runs on {on[0]}; both should be 4 x dim"
    return None


def _judge(candidate):
    return check_module(
        candidate,
        InvertedBottleneck,
        block_cases(),
        mistakes=MISTAKES,
        properties=[_wide_in_the_middle],
        hints={"pwconv1.weight": _HIDDEN, "dwconv.weight": _HIDDEN, "pwconv2.weight": _HIDDEN},
    )


EXERCISES = (
    BuildIt(
        "05.1",
        "Write the inverted bottleneck: 1x1 in_dim -> 4*dim, BN, ReLU, depthwise kxk on 4*dim, BN, ReLU, "
        "1x1 4*dim -> dim, BN; shortcut, drop path and the final ReLU as before.",
        _judge,
        lambda: InvertedBottleneck,
        "your block is narrow -> wide -> narrow like a Transformer's MLP: the stage width at its ends, where the "
        "shortcut carries the features from block to block, and 4 x dim inside, where the depthwise conv runs.",
        step="05",
    ),
)


# 05.2, 05.3 -- predict: a block's parameters, where the network's saving comes from ------------------------------


def _largest_drop(a: str, b: str) -> str:
    totals: dict[str, int] = {}
    for sign, step in ((1, a), (-1, b)):
        for r in cost_breakdown(meta_model(step)):
            totals[r["component"]] = totals.get(r["component"], 0) + sign * r["macs"]
    return max(totals, key=totals.get)


EXERCISES += (
    Exercise(
        "05.2",
        "How many parameters does a stage-3 block of step 05 have (not the first: 384 -> 1536 -> 384, depthwise 3x3 "
        "on 1536, identity shortcut)?",
        lambda: count_params(meta_model("05").stages[2].blocks[1]),
        "About as many as step 04's stage-3 block (1536 -> 384 -> 1536): the two 1x1 convs keep their 384 x 1536 "
        "weights each, only their ends swap; the depthwise conv and two of the BNs grow from 384 to 1536 channels. "
        "Yet the whole network is smaller: the saving lies outside the blocks' own layers.",
        "a 1x1 conv from C_in to C_out has C_in*C_out weights, a depthwise 3x3 conv 9 per channel; each BN learns a "
        "scale and a shift per channel; the convs have no bias.",
        unit="parameters",
    ),
    Exercise(
        "05.3",
        "Step 05 has fewer multiply-adds than step 04 although its depthwise conv runs 4x wider. Which "
        "component lost the most: 'stem', 'blocks', 'downsampling' or 'head'?",
        lambda: _largest_drop("04", "05"),
        "The projection shortcuts of the downsampling blocks now map 96->192 (not 384->768) channels.",
        "compare measure.cost_breakdown of both steps, component by component.",
    ),
)
