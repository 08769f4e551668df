"""What each step changes: its design diff stays small and honest, and each micro-design step is checked by what the
network does (an activation's type and calls, a norm's type and count, ...), so that putting any step back to its
predecessor's behaviour fails here, outside the notebooks."""

import copy
import subprocess
import sys

import pytest
import torch
from conftest import randomize_
from torch import nn

from convnext_steps import EXTENSIONS, ROADMAP, build_model, design_diff
from convnext_steps.design import changed_lines
from convnext_steps.steps import rewrites, step11_layernorm

# The ceilings on the lines a step's design diff changes.
MOST_CHANGED = {1: 8, 4: 8, 7: 8, 8: 10, 12: 70}


@pytest.mark.parametrize("step", ROADMAP[1:], ids=lambda s: s.id)
def test_design_diff_is_small(step):
    diff = design_diff(step)
    assert diff.startswith(f"design diff: {ROADMAP[step.index - 1].id} -> {step.id}\n")
    assert 1 <= changed_lines(diff) <= MOST_CHANGED.get(step.index, 40), diff


def _class_lines(diff: str) -> list[str]:
    return [line for line in diff.splitlines() if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))]


def test_config_only_steps_change_no_code():
    assert design_diff("01").splitlines()[2:4] == [
        "config (NetConfig fields that change):",
        "  depths: (3, 4, 6, 3) -> (3, 3, 9, 3)",
    ]
    assert "  kernel_size: 3 -> 7" in design_diff("07")
    assert "  stem_dim: 64 -> 96" in design_diff("04") and "  dims: (256, 512, 1024, 2048) -> (384, 768" in design_diff(
        4
    )
    for step in ("01", "04", "07"):
        assert _class_lines(design_diff(step)) == [] and "no class changes" in design_diff(step)


def test_gelu_step_changes_the_activation_and_nothing_else():
    lines = _class_lines(design_diff("08"))
    assert [line.split("#")[0].rstrip() for line in lines] == [
        "-        self.act = nn.ReLU(inplace=True)",
        "+        self.act = nn.GELU()",
    ]


def test_final_step_shows_the_rewrite_apart_and_the_added_and_removed_classes():
    diff = design_diff(12)
    rewrite = diff.index("equivalent rewrite")
    change = diff.index("class changed:", rewrite)
    assert diff.index("+++ convnext_steps/steps/rewrites.py: Block") < change
    assert "+        self.pwconv1 = nn.Linear(in_dim, hidden)" in diff[rewrite:change]  # the rewrite's part
    assert "+        self.gamma = nn.Parameter" in diff[change:]  # layer scale is the design change's
    assert "class added:\n--- /dev/null\n+++ convnext_steps/steps/step12_separate_downsampling.py: Downsample" in diff
    assert "class removed:\n--- convnext_steps/steps/step11_layernorm.py: Shortcut\n+++ /dev/null" in diff
    assert "  head_norm: None -> nn.LayerNorm(eps=1e-06)" in diff


def test_any_two_steps_in_either_order():
    forward, backward = design_diff("05", "12"), design_diff("12", "05")
    assert forward.startswith("design diff: 05_inverted_bottleneck -> 12_separate_downsampling")
    assert "  kernel_size: 3 -> 7" in forward and "  kernel_size: 7 -> 3" in backward
    assert "  downsample: None -> step12_separate_downsampling.Downsample" in forward
    assert changed_lines(forward) == changed_lines(backward)
    assert design_diff(3, 3).endswith("the same step: nothing changes\n")
    assert design_diff("00", "01") == design_diff("01")


@pytest.mark.parametrize("bad", ["13", "99_nope", -1, ""])
def test_bad_ids_get_the_build_model_error(bad):
    with pytest.raises(ValueError) as from_build:
        build_model(bad)
    with pytest.raises(ValueError) as from_diff:
        design_diff(bad)
    assert str(from_diff.value) == str(from_build.value) and "valid ids: 00_resnet50" in str(from_diff.value)
    with pytest.raises(ValueError, match="starting point"):
        design_diff("00")


def test_diff_command(tmp_path):
    run = [sys.executable, "-m", "convnext_steps", "diff"]
    ok = subprocess.run([*run, "07"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and ok.stdout == design_diff("07")
    bad = subprocess.run([*run, "05", "13"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip().splitlines() == [
        "python -m convnext_steps diff: error: unknown step '13'; valid ids: "
        + ", ".join(s.id for s in ROADMAP)
        + "; extensions: "
        + ", ".join(s.id for s in EXTENSIONS)
    ]


@pytest.mark.parametrize("train", [False, True])
def test_the_rewrite_computes_what_step_11_computes(train):
    torch.manual_seed(0)
    for in_dim, dim, stride in ((32, 32, 1), (32, 64, 2)):
        original = randomize_(step11_layernorm.InvertedBottleneck(in_dim, dim, 7, stride)).train(train)
        rewrite = rewrites.Block(in_dim, dim, 7, stride).train(train)
        # Same names; the 1x1 convs' (out, in, 1, 1) weights are the linear layers' (out, in).
        weights = {k: v.reshape(rewrite.state_dict()[k].shape) for k, v in original.state_dict().items()}
        rewrite.load_state_dict(weights)
        assert sum(p.numel() for p in rewrite.parameters()) == sum(p.numel() for p in original.parameters())
        x = torch.randn(2, in_dim, 9, 9)
        assert (rewrite(x) - original(x)).abs().max() <= 1e-5
    assert rewrites.REWRITES == {step11_layernorm.InvertedBottleneck: rewrites.Block}


# ---------------------------------------------------------------------------------------------------------------
# Each micro-design step by what it does, read off one forward pass with hooks.


def _calls(model: nn.Module, x: torch.Tensor) -> list[tuple[str, nn.Module]]:
    """(name, module) of every leaf module call of one forward pass, in order."""
    calls = []
    handles = [
        m.register_forward_hook(lambda mod, args, out, name=name: calls.append((name, mod)))
        for name, m in model.named_modules()
        if not list(m.children())
    ]
    try:
        with torch.no_grad():
            model.eval()(x)
    finally:
        for h in handles:
            h.remove()
    return calls


def _branch(calls, stage: int = 0, block: int = 1) -> list[nn.Module]:
    """The calls inside one block's residual branch (its shortcut and drop path left out)."""
    prefix = f"stages.{stage}.blocks.{block}."
    return [m for name, m in calls if name.startswith(prefix) and ".shortcut" not in name and "drop_path" not in name]


def behaviour(model: nn.Module) -> dict:
    """What a network does, as plain facts (one 64x64 image; "block" = stage 1's second block)."""
    calls = _calls(model, torch.zeros(1, 3, 64, 64))
    branch = _branch(calls)
    convs = [m for m in branch if isinstance(m, (nn.Conv2d, nn.Linear))]
    spatial = [m for m in convs if isinstance(m, nn.Conv2d) and m.kernel_size != (1, 1)]
    stem = [m for name, m in calls if name.startswith("stem.") and isinstance(m, (nn.Conv2d, nn.MaxPool2d))]
    blocks = [b for s in model.stages for b in s.blocks]
    activations = [(n, m) for n, m in calls if isinstance(m, (nn.ReLU, nn.GELU))]
    norms = (nn.BatchNorm2d, nn.LayerNorm)
    return {
        "depths": tuple(len(s.blocks) for s in model.stages),
        "stem": tuple((m.kernel_size[0], m.stride[0]) if isinstance(m, nn.Conv2d) else "max-pool" for m in stem),
        "depthwise": all(m.groups == m.in_channels == m.out_channels for m in spatial),
        "width": model.config.stem_dim,
        "expansion": max(_width(m) for m in convs) // _width(convs[-1]),
        "first_layer": "depthwise" if convs[0] is spatial[0] else "1x1",
        "kernel": spatial[0].kernel_size[0],
        "activations": sorted({type(m).__name__ for _, m in activations}),
        "activations_per_block": sum(n.startswith("stages.0.blocks.1.") for n, _ in activations),
        "norms_per_block": sum(isinstance(m, norms) for m in branch),
        "norm_types": sorted(
            {"BatchNorm" if isinstance(m, nn.BatchNorm2d) else "LayerNorm" for _, m in calls if isinstance(m, norms)}
        ),
        "downsampling": "in blocks" if isinstance(model.stages[1].downsample, nn.Identity) else "separate layers",
        "stride_2_in_blocks": any(m.stride[0] == 2 for b in blocks for m in b.modules() if isinstance(m, nn.Conv2d)),
        "identity_shortcuts": all(_is_identity_shortcut(b) for b in blocks),
        "layer_scale": all(getattr(b, "gamma", None) is not None for b in blocks),
    }


def _width(m: nn.Module) -> int:
    return m.out_channels if isinstance(m, nn.Conv2d) else m.out_features


def _is_identity_shortcut(block: nn.Module) -> bool:
    """With its branch switched off (the last layer of the branch zeroed), an identity-shortcut block returns its
    input exactly; a projection shortcut (1x1 conv + norm) does not."""
    block = copy.deepcopy(block).eval()
    branch = [m for n, m in block.named_modules() if "shortcut" not in n and not list(m.children())]
    with torch.no_grad():
        for m in reversed(branch):  # the last layer with a weight: a 1x1 conv, or a BN after it
            if getattr(m, "weight", None) is not None:
                m.weight.zero_()
                if m.bias is not None:
                    m.bias.zero_()
                break
        first = next(m for m in branch if isinstance(m, (nn.Conv2d, nn.Linear)))
        x = torch.randn(2, first.in_channels if isinstance(first, nn.Conv2d) else first.in_features, 8, 8).abs()
        out = block(x)  # non-negative x: a ReLU after the sum keeps an identity an identity
    return out.shape == x.shape and torch.equal(out, x)


# step -> the facts it establishes (its predecessor must differ in each of them)
ESTABLISHES = {
    1: {"depths": (3, 3, 9, 3)},
    2: {"stem": ((4, 4),)},
    3: {"depthwise": True},
    4: {"width": 96},
    5: {"expansion": 4},
    6: {"first_layer": "depthwise"},
    7: {"kernel": 7},
    8: {"activations": ["GELU"]},
    9: {"activations_per_block": 1},
    10: {"norms_per_block": 1},
    11: {"norm_types": ["LayerNorm"]},
    12: {
        "downsampling": "separate layers",
        "stride_2_in_blocks": False,
        "identity_shortcuts": True,
        "layer_scale": True,
    },
}


@pytest.fixture(scope="module")
def facts():
    return {s.index: behaviour(s.build()) for s in ROADMAP}


@pytest.mark.parametrize("index", sorted(ESTABLISHES), ids=lambda i: ROADMAP[i].id)
def test_each_step_does_what_it_says_and_its_predecessor_does_not(index, facts):
    for fact, value in ESTABLISHES[index].items():
        assert facts[index][fact] == value, f"{ROADMAP[index].id}: {fact} is {facts[index][fact]!r}, expected {value!r}"
        assert facts[index - 1][fact] != value, f"{ROADMAP[index - 1].id} already has {fact} = {value!r}"


@pytest.mark.parametrize("index", sorted(ESTABLISHES), ids=lambda i: ROADMAP[i].id)
def test_later_steps_keep_what_a_step_established(index, facts):
    # Nothing undoes an earlier step, except what the paper itself changes again.
    for later in range(index + 1, len(ROADMAP)):
        for fact, value in ESTABLISHES[index].items():
            if any(fact in ESTABLISHES[k] for k in range(index + 1, later + 1)):
                continue
            assert facts[later][fact] == value, f"{ROADMAP[later].id} undid {fact} of {ROADMAP[index].id}"


def test_known_facts_of_the_start_and_the_end(facts):
    assert facts[0] == {
        "depths": (3, 4, 6, 3),
        "stem": ((7, 2), "max-pool"),
        "depthwise": False,
        "width": 64,
        "expansion": 1,
        "first_layer": "1x1",
        "kernel": 3,
        "activations": ["ReLU"],
        "activations_per_block": 3,
        "norms_per_block": 3,
        "norm_types": ["BatchNorm"],
        "downsampling": "in blocks",
        "stride_2_in_blocks": True,
        "identity_shortcuts": False,
        "layer_scale": False,
    }
    assert facts[12]["stem"] == ((4, 4),) and facts[12]["expansion"] == 4 and facts[12]["norms_per_block"] == 1


def test_putting_a_step_back_fails_its_check():
    # A step built with its predecessor's block or kernel (step 08 back to ReLU, step 09 back to three activations,
    # ...) shows the predecessor's behaviour, which the checks above refuse.
    from convnext_steps import Network

    for index, field in (
        (3, "block"),
        (6, "block"),
        (7, "kernel_size"),
        (8, "block"),
        (9, "block"),
        (10, "block"),
        (11, "block"),
        (2, "stem"),
    ):
        step, previous = ROADMAP[index], ROADMAP[index - 1]
        reverted = behaviour(Network(step.config.replace(**{field: getattr(previous.config, field)})))
        assert any(reverted[k] != v for k, v in ESTABLISHES[index].items()), step.id


def test_readme_example_is_what_the_command_prints():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    start = readme.index("$ python -m convnext_steps diff 08\n") + len("$ python -m convnext_steps diff 08\n")
    assert readme[start : readme.index("```", start)] == design_diff("08")
