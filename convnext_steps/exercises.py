"""The notebooks' exercises, each with a checker that says right or wrong, and why.

    from convnext_steps import exercises
    exercises.check("07.1", 4.1)       # -> a Verdict: prints "07.1 right: ..." or "07.1 not yet: ..."

Every expected answer is computed from the package when a check runs (a model is built, a layer counted), never
typed in. A wrong answer gets a hint (too high / too low, and what to count); the explanation comes with a right
one. `None` means "not answered yet", so a notebook runs top to bottom before the reader has answered.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

__all__ = ["Exercise", "Verdict", "EXERCISES", "check", "expected", "ask"]


@dataclass(frozen=True)
class Exercise:
    id: str  # "07.1": notebook 07, first exercise
    question: str
    expected: Callable[[], Any]  # computes the right answer from the package
    why: str  # the reasoning, shown with a right answer
    hint: str  # what to count or look at, shown with a wrong one
    tolerance: float = 0.0  # relative, for numbers; 0: exact
    unit: str = ""
    digits: int = 3  # decimals a float answer is shown with


class Verdict:
    """The result of a check: true when right; shows as its message in a notebook."""

    def __init__(self, ok: bool | None, message: str):
        self.ok, self.message = ok, message

    def __bool__(self) -> bool:
        return bool(self.ok)

    def __repr__(self) -> str:
        return self.message


def _close(given: Any, want: Any, tolerance: float) -> bool:
    if isinstance(want, (tuple, list)):
        return (
            isinstance(given, (tuple, list))
            and len(given) == len(want)
            and all(_close(g, w, tolerance) for g, w in zip(given, want))
        )
    if isinstance(want, str):
        return isinstance(given, str) and given.strip().lower() == want.lower()
    if isinstance(given, bool) or not isinstance(given, (int, float)):
        return False
    return math.isclose(given, want, rel_tol=tolerance, abs_tol=0.0) if tolerance else given == want


def _direction(given: Any, want: Any) -> str:
    if isinstance(want, (int, float)) and isinstance(given, (int, float)) and not isinstance(given, bool):
        return "too high" if given > want else "too low"
    if isinstance(want, (tuple, list)) and not (isinstance(given, (tuple, list)) and len(given) == len(want)):
        return f"give {len(want)} values, as ({', '.join('...' for _ in want)})"
    return "not the answer"


def check(exercise_id: str, answer: Any) -> Verdict:
    """Check `answer` for exercise `exercise_id` ("07.1"); None means not answered yet."""
    exercise = _get(exercise_id)
    if answer is None:
        return Verdict(None, f"{exercise.id} not answered yet: replace None with your answer and run the cell again.")
    want = exercise.expected()
    if _close(answer, want, exercise.tolerance):
        return Verdict(True, f"{exercise.id} right: {_show(want, exercise)}. {exercise.why}")
    return Verdict(False, f"{exercise.id} not yet: {answer!r}: {_direction(answer, want)}. Hint: {exercise.hint}")


def expected(exercise_id: str) -> Any:
    """The right answer (computed), for tests and for readers who give up."""
    return _get(exercise_id).expected()


def ask(exercise_id: str) -> str:
    """The question's text."""
    return _get(exercise_id).question


def _get(exercise_id: str) -> Exercise:
    if exercise_id not in EXERCISES:
        raise ValueError(f"unknown exercise {exercise_id!r}; known: {', '.join(EXERCISES)}")
    return EXERCISES[exercise_id]


def _show(value: Any, exercise: Exercise) -> str:
    if isinstance(value, float):
        text = f"{value:.{exercise.digits}f}"
    elif isinstance(value, int) and not isinstance(value, bool):
        text = f"{value:,}"
    elif isinstance(value, tuple):
        text = (
            "("
            + ", ".join(
                f"{v:,}" if isinstance(v, int) else f"{v:.3g}" if isinstance(v, float) else str(v) for v in value
            )
            + ")"
        )
    else:
        text = str(value)
    return f"{text} {exercise.unit}".rstrip()


# The answers, computed --------------------------------------------------------------------------------------------


def _model(step: str, **overrides) -> nn.Module:
    from .roadmap import build_model

    with torch.device("meta"):  # structure and counts only
        return build_model(step, **overrides)


def _params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _gmacs(step: str, **overrides) -> float:
    from .measure import count_macs

    return count_macs(_model(step, **overrides)) / 1e9


def _stage_share(step: str, stage: int) -> int:
    from .measure import stage_costs

    rows = stage_costs(_model(step))
    return round(100 * rows[stage]["macs"] / sum(r["macs"] for r in rows))


def _stem_shape(step: str, size: int) -> tuple[int, ...]:
    from .roadmap import build_model

    with torch.no_grad():
        return tuple(build_model(step).stem(torch.zeros(1, 3, size, size)).shape[1:])


def _largest_drop(a: str, b: str) -> str:
    from .measure import cost_breakdown

    totals = {}
    for sign, step in ((1, a), (-1, b)):
        for r in cost_breakdown(_model(step)):
            totals[r["component"]] = totals.get(r["component"], 0) + sign * r["macs"]
    return max(totals, key=totals.get)


def _dwconv_macs(step: str) -> int:
    block = _model(step).stages[0].blocks[1]
    conv = block.dwconv
    return conv.out_channels * conv.kernel_size[0] ** 2 * 56 * 56  # per output pixel: k*k taps per channel


def _gelu_min() -> float:
    x = torch.linspace(-3, 0, 300_001, dtype=torch.float64)
    return round(x[nn.functional.gelu(x).argmin()].item(), 2)


def _calls(step: str, kind: type) -> int:
    from .notebook import count_calls

    return count_calls(_model(step), kind)


def _calls_family(size: str, kind: type) -> int:
    from .family import convnext
    from .notebook import count_calls

    with torch.device("meta"):  # calls are counted on shapes alone
        model = convnext(size)
    return count_calls(model, kind)


def _branch_norms(step: str) -> int:
    model = _model(step)
    return sum(
        isinstance(m, (nn.BatchNorm2d, nn.LayerNorm))
        for name, m in model.named_modules()
        if ".blocks." in name and "shortcut" not in name
    )


def _norm_agreement_size() -> int:
    from .layers import LayerNorm2d

    torch.manual_seed(0)
    for size in range(1, 5):  # the sizes where GroupNorm(1, C) equals ConvNeXt's LayerNorm
        x = torch.randn(2, 8, size, size) * 3 + 1
        if torch.allclose(nn.GroupNorm(1, 8, eps=1e-6)(x), LayerNorm2d(8)(x), atol=1e-5):
            return size
    raise AssertionError("GroupNorm(1, C) and LayerNorm2d never agree")


def _downsampling_macs() -> int:
    from .measure import cost_breakdown

    rows = cost_breakdown(_model("12"))
    return sum(r["macs"] for r in rows if r["component"] == "downsampling")


EXERCISES: dict[str, Exercise] = {
    e.id: e
    for e in [
        Exercise(
            "00.1",
            "How many parameters does the second bottleneck of stage 1 have (256 -> 64 -> 64 -> 256, "
            "identity shortcut)?",
            lambda: _params(_model("00").stages[0].blocks[1]),
            "Three convs without bias (256*64 + 64*64*3*3 + 64*256 weights) and three BNs (2 per channel).",
            "a 1x1 conv from C_in to C_out has C_in*C_out weights, a 3x3 one nine times as many; each BN learns a "
            "scale and a shift per channel; the convs have no bias.",
            unit="parameters",
        ),
        Exercise(
            "00.2",
            "Which square input size, a multiple of ResNet-50's total downsampling, gives a 10x10 last feature map?",
            lambda: 10 * _model("00").config.reduction,
            "The network downsamples by 32 in all (4 in the stem, 2 in each of stages 2-4): 10 x 32.",
            "count the stride-2 layers from the image to stage 4, then multiply by 10.",
            unit="pixels",
        ),
        Exercise(
            "01.1",
            "What share of step 01's multiply-adds (in %, rounded) does stage 3 spend?",
            lambda: _stage_share("01", 3),
            "Nine of its 18 blocks sit in stage 3 (14x14): almost half the compute.",
            "use measure.stage_costs(model) and divide stage 3's macs by the total.",
            tolerance=0.03,
            unit="%",
        ),
        Exercise(
            "02.1",
            "How many weights has step 02's stem conv (4x4, stride 4, 3 -> 64 channels, no bias)?",
            lambda: _model("02").stem.conv.weight.numel(),
            "One 4x4 filter per input channel per output channel: 3 * 64 * 16.",
            "a conv's weight has shape (C_out, C_in, k, k).",
            unit="weights",
        ),
        Exercise(
            "02.2",
            "What (C, H, W) does step 02's stem give for a 256x256 image?",
            lambda: _stem_shape("02", 256),
            "Non-overlapping 4x4 patches: 256 / 4 = 64 per side, one 64-vector per patch.",
            "the stem cuts the image into 4x4 patches; give a tuple (C, H, W).",
            unit="",
        ),
        Exercise(
            "03.1",
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
            "03.2",
            "By what factor does making it depthwise cut the MACs of the 3x3 conv in step 03's stage 3?",
            lambda: (
                _model("02").stages[2].blocks[1].conv.weight.numel()
                // _model("03").stages[2].blocks[1].dwconv.weight.numel()
            ),
            "By the channel count (256 there): each output channel now sums over 1 input channel instead of 256.",
            "compare the two convs' weight counts: MACs per pixel equal the weight count.",
        ),
        Exercise(
            "04.1",
            "Step 04 widens every layer 1.5x. By what factor grow the MACs of a dense 1x1 conv and of a "
            "depthwise conv? Give (dense, depthwise).",
            lambda: (1.5**2, 1.5),
            "A dense conv's cost scales with C_in * C_out, a depthwise conv's with C only.",
            "write each conv's MACs per pixel in terms of the channel count C.",
            tolerance=1e-9,
        ),
        Exercise(
            "05.1",
            "What is the hidden (widest) width inside a stage-3 block of step 05?",
            lambda: _model("05").stages[2].blocks[1].pwconv1.out_channels,
            "The inverted bottleneck expands its 384-channel input 4x inside.",
            "stage 3 is 384 wide at the block's ends; look at `expansion`.",
            unit="channels",
        ),
        Exercise(
            "05.2",
            "Step 05 has fewer multiply-adds than step 04 although its depthwise conv runs 4x wider. Which "
            "component lost the most: 'stem', 'blocks', 'downsampling' or 'head'?",
            lambda: _largest_drop("04", "05"),
            "The projection shortcuts of the downsampling blocks now map 96->192 (not 384->768) channels.",
            "compare measure.cost_breakdown of both steps, component by component.",
        ),
        Exercise(
            "06.1",
            "By what factor does moving the depthwise conv up cut its own MACs in a stage-1 block?",
            lambda: _dwconv_macs("05") // _dwconv_macs("06"),
            "It now runs on the narrow 96-channel input instead of the 384-wide hidden tensor.",
            "a depthwise conv's MACs scale with the channels it runs on.",
        ),
        Exercise(
            "07.1",
            "Predict the GMACs of step 07 with a 5x5 kernel (build_model('07', kernel_size=5)), then measure.",
            lambda: _gmacs("07", kernel_size=5),
            "Only the depthwise convs grow: 25 instead of 49 taps per channel, a few hundredths of a GMAC.",
            "start from step 07's 4.146 G; only the depthwise convs depend on the kernel.",
            tolerance=0.002,
            unit="GMACs",
        ),
        Exercise(
            "07.2",
            "How many parameters does going from 7x7 to 9x9 add to the whole network?",
            lambda: _params(_model("07", kernel_size=9)) - _params(_model("07")),
            "(81 - 49) taps for every channel of every depthwise conv: 32 * (3*96 + (96 + 2*192) + (192 + 8*384) + "
            "(384 + 2*768)) = 32 * 5,952; each stage's first block runs its depthwise conv on the previous stage's "
            "width (the stride-2 conv comes before the widening 1x1).",
            "only the depthwise convs change: count their channels over all blocks, and check each stage's first "
            "block (which width does its depthwise conv run on?).",
            unit="parameters",
        ),
        Exercise(
            "08.1",
            "What is GELU(-1), to 3 decimals? (GELU(x) = x * Phi(x), Phi the standard normal CDF.)",
            lambda: round(nn.functional.gelu(torch.tensor(-1.0, dtype=torch.float64)).item(), 3),
            "-1 * Phi(-1) = -0.1587: unlike ReLU, GELU lets a little of a negative input through.",
            "Phi(-1) is about 0.159.",
            tolerance=0.004,
        ),
        Exercise(
            "08.2",
            "Where is GELU smallest (x to 2 decimals)?",
            _gelu_min,
            "GELU dips to about -0.17 near x = -0.75, then rises back to 0: it is not monotonic.",
            "plot it, or look for the zero of its derivative Phi(x) + x * phi(x).",
            tolerance=0.02,
            digits=2,
        ),
        Exercise(
            "09.1",
            "ConvNeXt-S has 36 blocks (3, 3, 27, 3). How many GELU calls does one forward pass of it make?",
            lambda: _calls_family("small", nn.GELU),
            "One GELU per block, between the two 1x1 convs, and none anywhere else: 36.",
            "count the activations in one block (notebook.count_calls(model, nn.GELU) measures a whole network).",
        ),
        Exercise(
            "10.1",
            "A pre-norm Transformer block normalises twice (before attention, before the MLP). How many "
            "norm calls would 18 such blocks make, and how many do step 10's 18 blocks make in their residual "
            "branches? Give (transformer, step 10).",
            lambda: (2 * sum(_model("10").config.depths), _branch_norms("10")),
            "One norm per block: ConvNeXt ends up with fewer norms than a Transformer, not the same number.",
            "count the norms inside one block's branch (not its shortcut), times the blocks.",
        ),
        Exercise(
            "11.1",
            "On which square map size do GroupNorm(1, C) and ConvNeXt's LayerNorm give the same output? Give the "
            "side length (an int), and think about why they can.",
            _norm_agreement_size,
            "With one pixel, 'over C, H and W' is 'over C': the two normalise the same numbers.",
            "look at norm_axes: when do 'one sample' and 'one pixel' cover the same cells?",
            unit="pixel(s)",
        ),
        Exercise(
            "12.1",
            "How many parameters does layer scale add to ConvNeXt-T?",
            lambda: sum(p.numel() for n, p in _model("12").named_parameters() if n.endswith("gamma")),
            "One gain per channel per block: 3*96 + 3*192 + 9*384 + 3*768.",
            "gamma has one entry per channel of each of the 18 blocks.",
            unit="parameters",
        ),
        Exercise(
            "12.2",
            "How many multiply-adds do ConvNeXt-T's three downsampling layers cost at 224x224?",
            _downsampling_macs,
            "Each 2x2 stride-2 conv costs H*W*4*C_in*C; halving H and W while doubling C keeps each at 57.8 M.",
            "a 2x2 conv from C_in to C at output size H x W costs H*W*2*2*C_in*C.",
            tolerance=0.01,
            unit="MACs",
        ),
    ]
}


# Past the paper's roadmap: notebooks 16 (isotropic ConvNeXt) and 17 (ConvNeXt V2's GRN) ---------------------------


def _final_shape(step: str) -> tuple[int, ...]:
    from .measure import stage_shapes

    return stage_shapes(_model(step))[-1]


def _grn_factors() -> tuple[float, float]:
    from .steps.ext_v2_grn import GRN

    grn = GRN(4)
    with torch.no_grad():
        grn.gamma.fill_(1.0)
        x = torch.tensor([1.0, 1.0, 1.0, 5.0]).reshape(1, 1, 1, 4)  # one pixel: each channel's norm is |x|
        factors = (grn(x) / x).flatten()
    return round(factors[0].item(), 4), round(factors[3].item(), 4)


EXERCISES.update(
    {
        e.id: e
        for e in [
            Exercise(
                "16.1",
                "What (C, H, W) does isotropic ConvNeXt-S carry through all of its 18 blocks, for a 224x224 image?",
                lambda: _final_shape("isotropic_s"),
                "A 16x16 stride-16 stem cuts 224x224 into 14 x 14 = 196 patches, ViT-S's tokens, each a 384-vector; "
                "no layer after it changes the resolution or the width.",
                "the stem's stride gives H and W; the width is ViT-S's; give a tuple (C, H, W).",
            ),
            Exercise(
                "16.2",
                "How many parameters does one block of isotropic ConvNeXt-S have (width 384, no layer scale)?",
                lambda: _params(_model("isotropic_s").stages[0].blocks[0]),
                "8C^2 + 57C with C = 384: the two linear layers (C x 4C each, with biases 4C and C), the 7x7 "
                "depthwise conv (49C + C) and the LayerNorm (2C).",
                "count the depthwise conv (with bias), the LayerNorm's scale and shift and the two linear layers "
                "384 -> 1536 -> 384 (with biases).",
                unit="parameters",
            ),
            Exercise(
                "17.1",
                "How many more parameters does ConvNeXt V2-T have than ConvNeXt-T?",
                lambda: _params(_model("v2_tiny")) - _params(_model("12")),
                "GRN adds gamma and beta on the 4C hidden channels of each block (2 x 4 x 6,624 = 52,992) and layer "
                "scale's C per block goes (6,624): 46,368.",
                "per block, GRN has two parameters per hidden channel (4C of them); layer scale had one per channel "
                "(C); sum C over the 18 blocks (3*96 + 3*192 + 9*384 + 3*768).",
                unit="parameters",
            ),
            Exercise(
                "17.2",
                "GRN with gamma = 1 and beta = 0 on a one-pixel map whose four channels are 1, 1, 1 and 5: by "
                "what factor does it scale channel 0 and channel 3? Give (channel 0, channel 3).",
                _grn_factors,
                "With one pixel each channel's norm is |x|: 1, 1, 1, 5, mean 2. Nx = 0.5 and 2.5, and each channel "
                "is multiplied by 1 + gamma * Nx: the strong channel gains most.",
                "GRN(x) = gamma * x * Nx + beta + x with Nx = |x_c| / mean over channels of |x|.",
                tolerance=1e-4,
            ),
        ]
    }
)
