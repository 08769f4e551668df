"""The build-it exercises of notebooks 07-12, 16 and 17: each checker accepts our solution and correct code written
differently, and refuses plausible wrong code with a line that names the mistake (notebooks' learners read it).

Every candidate here is small code a learner could write; the checkers run them on small inputs, so the whole file
takes seconds. The whole-network comparison (`exercises.in_network`) runs once per kind of field it fills.
"""

import json
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from convnext_steps import exercises
from convnext_steps.exercises.core import _show  # how a checker shows an answer
from convnext_steps.layers import DropPath, LayerNorm2d
from convnext_steps.steps import (
    ext_isotropic,
    step06_dwconv_up,
    step08_gelu,
    step09_fewer_activations,
    step10_fewer_norms,
)

BUILD_ITS = ("07.1", "08.1", "09.1", "10.1", "11.1", "12.1", "12.2", "16.1", "17.1")


def verdict(exercise_id, candidate) -> str:
    return repr(exercises.check(exercise_id, candidate))


@pytest.mark.parametrize("exercise_id", BUILD_ITS)
def test_our_solution_passes_and_an_untouched_skeleton_is_not_attempted(exercise_id):
    assert exercises.check(exercise_id, exercises.expected(exercise_id)), exercise_id

    class Skeleton(nn.Module):
        def __init__(self, *args, **kwargs):
            super().__init__()
            raise NotImplementedError  # your code here

    shown = verdict(exercise_id, Skeleton)
    assert shown.startswith(f"{exercise_id} not attempted yet:") and "right" not in shown


# 07.1: the depthwise conv ------------------------------------------------------------------------------------------


def _with_dwconv(make):
    class LargeKernelBlock(step06_dwconv_up.InvertedBottleneck):
        def __init__(self, in_dim, dim, kernel_size, stride=1, drop_path=0.0):
            super().__init__(in_dim, dim, kernel_size, stride, drop_path)
            self.dwconv = make(in_dim, kernel_size, stride)

    return LargeKernelBlock


def test_depthwise_conv_written_differently_passes():
    as_tuples = _with_dwconv(
        lambda c, k, s: nn.Conv2d(c, c, (k, k), stride=(s, s), padding=((k - 1) // 2,) * 2, groups=c, bias=False)
    )
    assert exercises.check("07.1", as_tuples)


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda c, k, s: nn.Conv2d(c, c, k, s, padding=1, groups=c, bias=False), "pad by kernel_size // 2 (= 3 here)"),
        (lambda c, k, s: nn.Conv2d(c, c, k, s, padding=k // 2, bias=False), "groups = channels"),
        (lambda c, k, s: nn.Conv2d(c, c, 3, s, padding=1, groups=c, bias=False), "a 7x7 kernel reaches 7"),
        (lambda c, k, s: nn.Conv2d(c, c, k, s, padding=k // 2, groups=c), "adds a bias"),
    ],
    ids=["padding 1", "dense", "kernel fixed at 3", "bias"],
)
def test_depthwise_conv_mistakes_are_named(make, fragment):
    shown = verdict("07.1", _with_dwconv(make))
    assert shown.startswith("07.1 not yet:") and fragment in shown, shown


# 08.1 and 09.1: where the GELUs go ---------------------------------------------------------------------------------


def _forward(cls, forward):
    return type("Candidate", (cls,), {"forward": forward})


def test_gelu_block_written_with_functional_gelu_passes():
    def forward(self, x):
        out = F.gelu(self.bn2(self.dwconv(x)))
        out = F.gelu(self.bn1(self.pwconv1(out)))
        return F.gelu(self.drop_path(self.bn3(self.pwconv2(out))) + self.shortcut(x))

    assert exercises.check("08.1", _forward(step08_gelu.InvertedBottleneck, forward))


def test_gelu_mistakes_are_named():
    def still_relu(self, x):
        out = torch.relu(self.bn2(self.dwconv(x)))
        out = torch.relu(self.bn1(self.pwconv1(out)))
        return torch.relu(self.shortcut(x) + self.drop_path(self.bn3(self.pwconv2(out))))

    def tanh(self, x):
        act = nn.GELU(approximate="tanh")
        out = act(self.bn1(self.pwconv1(act(self.bn2(self.dwconv(x))))))
        return act(self.shortcut(x) + self.drop_path(self.bn3(self.pwconv2(out))))

    assert "still applies ReLU" in verdict("08.1", _forward(step08_gelu.InvertedBottleneck, still_relu))
    assert "tanh approximation" in verdict("08.1", _forward(step08_gelu.InvertedBottleneck, tanh))


def test_one_gelu_written_differently_passes():
    def forward(self, x):
        hidden = self.bn1(self.pwconv1(self.bn2(self.dwconv(x))))
        return self.drop_path(self.bn3(self.pwconv2(0.5 * hidden * (1 + torch.erf(hidden / 2**0.5))))) + self.shortcut(
            x
        )

    assert exercises.check("09.1", _forward(step09_fewer_activations.InvertedBottleneck, forward))


def test_one_gelu_mistakes_are_named():
    def after_second(self, x):
        out = self.bn1(self.pwconv1(self.bn2(self.dwconv(x))))
        return self.shortcut(x) + self.drop_path(self.act(self.bn3(self.pwconv2(out))))

    def after_sum(self, x):
        out = self.act(self.bn1(self.pwconv1(self.bn2(self.dwconv(x)))))
        return self.act(self.shortcut(x) + self.drop_path(self.bn3(self.pwconv2(out))))

    block = step09_fewer_activations.InvertedBottleneck
    assert "runs after the second 1x1 conv" in verdict("09.1", _forward(block, after_second))
    assert "still runs after the sum" in verdict("09.1", _forward(block, after_sum))


# 10.1: which norm stays --------------------------------------------------------------------------------------------


def test_norm_mistakes_are_named():
    assert "has 3 BatchNorms" in verdict("10.1", step09_fewer_activations.InvertedBottleneck)

    class NoBias(step10_fewer_norms.InvertedBottleneck):
        def __init__(self, in_dim, dim, kernel_size, stride=1, drop_path=0.0):
            super().__init__(in_dim, dim, kernel_size, stride, drop_path)
            self.pwconv2 = nn.Conv2d(4 * dim, dim, 1, bias=False)

    assert "`pwconv2` has no bias" in verdict("10.1", NoBias)

    def norm_last(self, x):
        out = self.pwconv2(self.act(self.pwconv1(self.dwconv(x))))
        return self.shortcut(x) + self.drop_path(self.norm(out))

    assert "runs after the second 1x1 conv" in verdict(
        "10.1", _forward(step10_fewer_norms.InvertedBottleneck, norm_last)
    )


# 11.1: LayerNorm2d -------------------------------------------------------------------------------------------------


def _norm(forward, eps=1e-6):
    class Norm(nn.Module):
        def __init__(self, num_channels, eps=eps):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(num_channels))
            self.bias = nn.Parameter(torch.zeros(num_channels))
            self.eps = eps

    Norm.forward = forward
    return Norm


def _by_hand(self, x, dims=(1,), unbiased=False, eps=None):
    mean = x.mean(dims, keepdim=True)
    var = x.var(dims, keepdim=True, unbiased=unbiased)
    return self.weight[:, None, None] * (x - mean) / torch.sqrt(var + (eps or self.eps)) + self.bias[:, None, None]


def test_layernorm_by_hand_and_via_f_layer_norm_on_a_permuted_tensor_pass():
    def via_layer_norm(self, x):
        return F.layer_norm(x.permute(0, 2, 3, 1), x.shape[1:2], self.weight, self.bias, self.eps).permute(0, 3, 1, 2)

    def with_rsqrt(self, x):
        centred = x - x.mean(1, keepdim=True)
        scale = torch.rsqrt(centred.pow(2).mean(1, keepdim=True) + self.eps)
        return centred * scale * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)

    for forward in (_by_hand, via_layer_norm, with_rsqrt):
        assert exercises.check("11.1", _norm(forward)), forward.__name__


@pytest.mark.parametrize(
    "forward, eps, fragment",
    [
        (lambda self, x: _by_hand(self, x, dims=(2, 3)), 1e-6, "over H and W (an instance norm: dims 2, 3)"),
        (lambda self, x: F.group_norm(x, 1, self.weight, self.bias, self.eps), 1e-6, "over C, H and W at once"),
        (_by_hand, 1e-5, "eps is 1e-5"),
        (lambda self, x: _by_hand(self, x, unbiased=True), 1e-6, "variance is unbiased"),
        (
            lambda self, x: (
                self.weight[:, None, None]
                * (x - x.mean(1, keepdim=True))
                / (x.std(1, keepdim=True, unbiased=False) + self.eps)
                + self.bias[:, None, None]
            ),
            1e-6,
            "eps (1e-6) belongs inside the square root",
        ),
    ],
    ids=["over H, W", "GroupNorm(1, C)", "eps 1e-5", "unbiased var", "eps outside the root"],
)
def test_layernorm_mistakes_name_the_axes_the_eps_and_the_variance(forward, eps, fragment):
    shown = verdict("11.1", _norm(forward, eps))
    assert shown.startswith("11.1 not yet:") and fragment in shown, shown


# 12.1 and 12.2: the downsampling layer and the channels-last block with layer scale --------------------------------


class DownsampleWrittenOut(nn.Module):
    def __init__(self, in_dim, dim):
        super().__init__()
        self.norm = LayerNorm2d(in_dim)
        self.conv = nn.Conv2d(in_dim, dim, kernel_size=2, stride=2)

    def forward(self, x):
        return self.conv(self.norm(x))


class BlockWrittenOut(nn.Module):
    def __init__(self, in_dim, dim, kernel_size, stride=1, drop_path=0.0, layer_scale_init_value=1e-6):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale_init_value)) if layer_scale_init_value > 0 else None
        self.drop_path = DropPath(drop_path)

    def forward(self, x):
        y = self.pwconv2(F.gelu(self.pwconv1(self.norm(self.dwconv(x).permute(0, 2, 3, 1)))))
        y = y if self.gamma is None else y * self.gamma
        return x + self.drop_path(y.permute(0, 3, 1, 2))


def test_downsample_and_block_written_differently_pass():
    assert exercises.check("12.1", DownsampleWrittenOut)
    assert exercises.check("12.2", BlockWrittenOut)


def test_downsample_and_block_mistakes_are_named():
    class NormAfter(DownsampleWrittenOut):
        def __init__(self, in_dim, dim):
            super().__init__(in_dim, dim)
            self.norm = LayerNorm2d(dim)

        def forward(self, x):
            return self.norm(self.conv(x))

    assert "normalises the layer's input, in_dim channels, before the conv" in verdict("12.1", NormAfter)

    class NoLayerScale(BlockWrittenOut):
        def forward(self, x):
            y = self.pwconv2(self.act(self.pwconv1(self.norm(self.dwconv(x).permute(0, 2, 3, 1)))))
            return x + self.drop_path(y.permute(0, 3, 1, 2))

    class GeluLate(BlockWrittenOut):
        def forward(self, x):
            y = self.act(self.pwconv2(self.pwconv1(self.norm(self.dwconv(x).permute(0, 2, 3, 1)))))
            return x + self.drop_path((self.gamma * y).permute(0, 3, 1, 2))

    class NoGamma(BlockWrittenOut):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.gamma = None

    assert "layer scale is missing: multiply the branch by self.gamma" in verdict("12.2", NoLayerScale)
    assert "GELU runs after the second linear layer" in verdict("12.2", GeluLate)
    assert "has no layer scale: `self.gamma`" in verdict("12.2", NoGamma)


# 16.1 and 17.1: the isotropic stem and GRN -------------------------------------------------------------------------


def test_isotropic_stem_mistakes_are_named():
    class WithNorm(ext_isotropic.PatchifyStem):
        def __init__(self, in_chans, dim):
            super().__init__(in_chans, dim)
            self.norm = LayerNorm2d(dim)

        def forward(self, x):
            return self.norm(self.conv(x))

    class Overlapping(ext_isotropic.PatchifyStem):
        def __init__(self, in_chans, dim):
            super().__init__(in_chans, dim)
            self.conv = nn.Conv2d(in_chans, dim, 16, stride=8)

    assert "no norm after it" in verdict("16.1", WithNorm)
    assert "your patches overlap (stride 8)" in verdict("16.1", Overlapping)


def _grn(forward):
    class GRN(nn.Module):
        def __init__(self, dim, eps=1e-6):
            super().__init__()
            self.gamma = nn.Parameter(torch.zeros(dim))
            self.beta = nn.Parameter(torch.zeros(dim))
            self.eps = eps

    GRN.forward = forward
    return GRN


def test_grn_with_vector_norm_passes_and_its_mistakes_are_named():
    def vector_norm(self, x):
        gx = torch.linalg.vector_norm(x, ord=2, dim=(1, 2), keepdim=True)
        return x + self.beta + self.gamma * x * (gx / (gx.mean(dim=3, keepdim=True) + self.eps))

    def over_channels(self, x):
        gx = torch.linalg.vector_norm(x, dim=-1, keepdim=True)
        return self.gamma * (x * gx / (gx.mean((1, 2), keepdim=True) + self.eps)) + self.beta + x

    def no_residual(self, x):
        gx = torch.linalg.vector_norm(x, dim=(1, 2), keepdim=True)
        return self.gamma * (x * gx / (gx.mean(-1, keepdim=True) + self.eps)) + self.beta

    assert exercises.check("17.1", _grn(vector_norm))
    assert "takes each pixel's norm over the channels" in verdict("17.1", _grn(over_channels))
    assert "GRN's residual is missing" in verdict("17.1", _grn(no_residual))


def test_errors_in_the_learners_code_are_one_line():
    def typo(self, x):
        return self.normm(x)

    shown = verdict("11.1", _norm(typo))
    assert shown.startswith("11.1 not yet: your norm's forward on an input (1, 8, 5, 7) raised AttributeError")
    assert "\n" not in shown and "line" in shown


# The learner's class in the whole network --------------------------------------------------------------------------


@pytest.mark.parametrize("exercise_id", ["11.1", "12.1", "16.1"])  # a norm inside the classes, a field, a stem
def test_solved_class_in_the_network_gives_the_steps_logits(exercise_id):
    candidate = {"11.1": _norm(_by_hand), "12.1": DownsampleWrittenOut, "16.1": ext_isotropic.PatchifyStem}
    shown = repr(exercises.in_network(exercise_id, candidate[exercise_id]))
    assert "the same logits as the step's model" in shown, shown
    assert repr(exercises.in_network(exercise_id, None)) == f"skipped: exercise {exercise_id} not solved yet"


# The notebooks: every exercise asked, stored unanswered, answered only in its solutions notebook ------------------


NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
# Every notebook with exercises (its id prefix in the registry), and those with a build-it whose code a design diff
# or `show_class` prints further down.
OURS = tuple(
    p.stem
    for p in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if any(e.startswith(p.stem[:2]) for e in exercises.EXERCISES)
)
BUILT_BEFORE_THE_DIFF = tuple(
    name
    for name in OURS
    if any(e.startswith(name[:2]) and isinstance(x, exercises.BuildIt) for e, x in exercises.EXERCISES.items())
    and re.search(r"\bshow_(design_diff|class)\(", (NOTEBOOKS / f"{name}.ipynb").read_text())
)


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _text(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _shown(cell: dict) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append("".join(out.get("text", "")) + "".join(out.get("data", {}).get("text/plain", "")))
    return "".join(parts)


@pytest.mark.parametrize("name", OURS)
def test_every_exercise_is_asked_unanswered_and_solved_apart(name):
    cells = _cells(NOTEBOOKS / f"{name}.ipynb")
    ids = sorted(e for e in exercises.EXERCISES if e.startswith(name[:2]))
    asked = {}
    for i, cell in enumerate(cells):
        for eid in re.findall(r'exercises\.check\("(\d\d\.\d)", \w+\)', _text(cell)):
            asked[eid] = i
    assert sorted(asked) == ids, "every exercise of the notebook is asked in it"
    for eid, i in asked.items():
        expected = (
            "not attempted yet" if isinstance(exercises.EXERCISES[eid], exercises.BuildIt) else "not answered yet"
        )
        assert _shown(cells[i]).startswith(f"{eid} {expected}:"), eid
    assert not any(" right:" in _shown(c) for c in cells if c["cell_type"] == "code"), "no answer stored in sight"
    for eid in (e for e in ids if isinstance(exercises.EXERCISES[e], exercises.BuildIt)):
        if name in BUILT_BEFORE_THE_DIFF:  # a step's change: it goes into the step's network (14, 18: no step)
            assert f'exercises.in_network("{eid}", ' in "".join(_text(c) for c in cells), "the learner's class goes in"
    solutions = _cells(NOTEBOOKS / "solutions" / f"{name}.ipynb")
    solved = {eid for c in solutions for eid in re.findall(r"^(\d\d\.\d) right:", _shown(c), re.M)}
    assert solved == set(ids), "each exercise's solution passes its checker in solutions/"
    markdown = "".join(_text(c) for c in cells if c["cell_type"] == "markdown")
    assert f"(solutions/{name}.ipynb" in markdown
    assert name.startswith("00") or "[index](00_resnet50.ipynb)" in markdown, "links the index (00 is the index)"


@pytest.mark.parametrize("name", OURS)
def test_predictions_are_asked_before_the_cells_that_reveal_them(name):
    """A prediction's answer (as the checker would show it) appears in no stored output above its question."""
    cells = _cells(NOTEBOOKS / f"{name}.ipynb")
    for eid, exercise in exercises.EXERCISES.items():
        if not eid.startswith(name[:2]) or isinstance(exercise, exercises.BuildIt):
            continue
        asked = next(i for i, c in enumerate(cells) if f'exercises.check("{eid}", answer)' in _text(c))
        answer = _show(exercise.expected(), exercise).removesuffix(f" {exercise.unit}")  # "6,624", "(384, 14, 14)"
        above = "".join(_shown(c) for c in cells[:asked])
        if len(answer) <= 2 or isinstance(exercise.expected(), str):  # "1" occurs in any text, and a name
            continue  # chosen from the question's list ('pwconv1') in any code shown: nothing to test
        assert answer not in above, f"{eid}'s answer {answer} is shown above its question"


def _number(exercise_id: str) -> tuple[int, int]:
    notebook, k = exercise_id.split(".")
    return int(notebook), int(k)


@pytest.mark.parametrize("name", OURS)
def test_exercises_are_numbered_in_the_order_a_reader_meets_them(name):
    """Ids follow the notebook from top to bottom, and its solutions notebook takes them in the same order."""
    asked = [
        eid
        for c in _cells(NOTEBOOKS / f"{name}.ipynb")
        for eid in re.findall(r'exercises\.check\("(\d\d\.\d+)", \w+\)', _text(c))
    ]
    assert asked == sorted(asked, key=_number), f"asked in the order {asked}"
    solutions = _cells(NOTEBOOKS / "solutions" / f"{name}.ipynb")
    headings = [
        eid
        for c in solutions
        if c["cell_type"] == "markdown"
        for eid in re.findall(r"^## Exercise (\S+)$", _text(c), re.M)
    ]
    assert headings == asked, f"solutions in the order {headings}"


@pytest.mark.parametrize("name", BUILT_BEFORE_THE_DIFF)
def test_build_its_are_asked_before_the_design_diff_shows_ours(name):
    cells = _cells(NOTEBOOKS / f"{name}.ipynb")
    reveal = next(
        i
        for i, c in enumerate(cells)
        if c["cell_type"] == "code" and re.search(r"\bshow_(design_diff|class)\(", _text(c))
    )
    for eid in (e for e in exercises.EXERCISES if e.startswith(name[:2])):
        if isinstance(exercises.EXERCISES[eid], exercises.BuildIt):
            used = [i for i, c in enumerate(cells) if re.search(rf'exercises\.(check|in_network)\("{eid}"', _text(c))]
            assert used and max(used) < reveal, f"{eid} is asked (cells {used}) after the design diff (cell {reveal})"
            heading = next(i for i, c in enumerate(cells) if f"### Exercise {eid} — build it" in _text(c))
            assert heading < min(used) and "## Build it first" in "".join(_text(c) for c in cells[: heading + 1])
