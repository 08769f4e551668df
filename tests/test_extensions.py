"""Past the paper's roadmap: isotropic ConvNeXt-S/B/L and the ConvNeXt V2-T block, verified like the roadmap.

Isotropic: exact parameter counts and multiply-adds, computed from the architecture, rounding to the published
figures; shapes; what the step changes. V2: logits equal timm's `convnextv2_tiny` with randomised weights (GRN's
gamma and beta non-zero), the official and timm layouts load and export back, GRN is defined on a single pixel.
Lookup, the CLI table, training and bench take the new ids.
"""

import json

import pytest
import timm
import torch
from conftest import randomize_
from timm.models.convnext import checkpoint_filter_fn

from convnext_steps import (
    ALL_STEPS,
    EXTENSION_IDS,
    EXTENSIONS,
    ROADMAP,
    STEP_IDS,
    build_model,
    count_macs,
    count_params,
    design_diff,
    export_state_dict,
    get_step,
    load_weights,
)
from convnext_steps.convert import detect_layout, fitting_layouts
from convnext_steps.design import changed_lines
from convnext_steps.layers import LayerNorm2d
from convnext_steps.measure import stage_shapes
from convnext_steps.steps import ext_isotropic, ext_v2_grn, step12_separate_downsampling
from convnext_steps.steps.ext_v2_grn import GRN

TOL = 1e-5
ISO = {
    "isotropic_s": ("S", 384, 18, False),
    "isotropic_b": ("B", 768, 18, False),
    "isotropic_l": ("L", 1024, 36, True),
}  # id -> (size, width, depth, layer scale)
TINY_ISO = {"depths": (2,), "dims": (32,), "stem_dim": 32}
TINY_V2 = {"depths": (1, 1, 1, 1), "dims": (16, 32, 64, 128), "stem_dim": 16}


def _logits(model, x):
    with torch.no_grad():
        return model.eval()(x)


def _meta(step, **overrides):
    with torch.device("meta"):  # structure and counts only
        return build_model(step, **overrides)


# ---------------------------------------------------------------------------------------------------------------
# Listed apart from the roadmap, found by id or prefix


def test_extensions_are_listed_apart_from_the_roadmap():
    assert len(ROADMAP) == 13 and STEP_IDS[-1] == "12_separate_downsampling"
    assert EXTENSION_IDS == ("isotropic_s", "isotropic_b", "isotropic_l", "v2_tiny")
    assert ALL_STEPS == ROADMAP + EXTENSIONS
    for i, step in enumerate(EXTENSIONS):
        assert step.index == 13 + i and step.previous == "12_separate_downsampling"
        assert step.title and step.change.endswith(".") and step.source
        assert step.module in (ext_isotropic, ext_v2_grn)
    assert [s.source for s in ROADMAP] == ["Liu et al. 2022, Table 10"] * 13


def test_lookup_by_id_and_prefix():
    assert get_step("v2") is get_step("v2_tiny") is EXTENSIONS[3]
    assert get_step("isotropic_l") is EXTENSIONS[2] and get_step(" isotropic_b ") is EXTENSIONS[1]
    assert build_model("v2", num_classes=10).head.out_features == 10
    with pytest.raises(ValueError, match="'iso' is ambiguous: it matches isotropic_s, isotropic_b, isotropic_l"):
        get_step("iso")


@pytest.mark.parametrize("bad", ["13", "isotropic_xl", "v3", 13, 16])
def test_unknown_ids_list_the_roadmap_and_the_extensions(bad):
    with pytest.raises(
        ValueError,
        match="valid ids: 00_resnet50, .*12_separate_downsampling; "
        "extensions: isotropic_s, isotropic_b, isotropic_l, v2_tiny$",
    ):
        get_step(bad)


# ---------------------------------------------------------------------------------------------------------------
# Isotropic ConvNeXt-S/B/L


def _iso_params(width: int, depth: int, layer_scale: bool) -> int:
    stem = 16 * 16 * 3 * width + width  # the 16x16 conv and its bias
    block = (49 + 1) * width + 2 * width + (width * 4 * width + 4 * width) + (4 * width * width + width)
    head = 2 * width + width * 1000 + 1000  # pooled LayerNorm and classifier
    return stem + depth * (block + layer_scale * width) + head


def _iso_macs(width: int, depth: int) -> int:
    pixels = 14 * 14  # 224 / 16 per side, for the stem's output and every block
    return pixels * (16 * 16 * 3 * width + depth * (49 * width + 8 * width * width)) + width * 1000


@pytest.mark.parametrize("step_id", ISO)
def test_isotropic_counts_equal_the_architecture_and_round_to_the_published_figures(step_id):
    size, width, depth, layer_scale = ISO[step_id]
    step, model = get_step(step_id), _meta(step_id)
    params, macs = count_params(model), count_macs(model)
    assert params == _iso_params(width, depth, layer_scale)
    assert macs == _iso_macs(width, depth)
    published_params, published_gflops, _ = ext_isotropic.PAPER[size]
    assert (step.paper_params_m, step.paper_gflops) == (published_params, published_gflops)
    assert round(params / 1e6) == published_params and round(macs / 1e9, 1) == published_gflops
    assert stage_shapes(model) == [(width, 14, 14), (width, 14, 14)]  # the stem's 14x14 all the way


def test_exact_isotropic_counts():
    counts = {s: (count_params(_meta(s)), count_macs(_meta(s))) for s in ISO}
    assert counts == {
        "isotropic_s": (22_308_712, 4_286_367_744),
        "isotropic_b": (87_083_752, 16_896_331_776),
        "isotropic_l": (305_942_504, 59_699_224_576),
    }


def test_the_paper_and_the_readme_differ_only_in_isotropic_s_top1():
    paper, readme = ext_isotropic.PAPER, ext_isotropic.README
    assert {k: v[:2] for k, v in paper.items()} == {k: v[:2] for k, v in readme.items()}
    assert [k for k in paper if paper[k][2] != readme[k][2]] == ["S"]
    assert (paper["S"][2], readme["S"][2]) == (79.7, 78.7)
    assert get_step("isotropic_s").paper_top1 == 79.7 and "README has top-1 78.7" in get_step("isotropic_s").source


def test_isotropic_network_is_one_stage_of_step12_blocks_after_a_16x16_stem():
    for step_id, (_, width, depth, layer_scale) in ISO.items():
        model = _meta(step_id)
        assert len(model.stages) == 1 and len(model.stages[0].blocks) == depth
        assert isinstance(model.stages[0].downsample, torch.nn.Identity)
        assert {type(b) for b in model.stages[0].blocks} == {step12_separate_downsampling.Block}
        conv = model.stem.conv
        assert (conv.kernel_size, conv.stride, conv.out_channels) == ((16, 16), (16, 16), width)
        assert [type(m) for m in model.stem.modules()] == [ext_isotropic.PatchifyStem, torch.nn.Conv2d]  # no norm
        gammas = [n for n, _ in model.named_parameters() if n.endswith(".gamma")]
        assert len(gammas) == (depth if layer_scale else 0)
        assert model.config.reduction == 16
    # Stochastic depth per the paper's Appendix A.1: 0.1 / 0.2 / 0.5, rising to the last block.
    rates = [_meta(s).stages[0].blocks[-1].drop_path.p for s in ISO]
    assert rates == pytest.approx([0.1, 0.2, 0.5])


def test_isotropic_forward_and_input_checks():
    model = build_model("isotropic_s", num_classes=10, **TINY_ISO)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert [f.shape[-1] for f in model.forward_stages(torch.randn(1, 3, 48, 48))] == [3, 3]
    with pytest.raises(ValueError, match="downsamples by 16, so height and width must each be at least 16"):
        model(torch.randn(1, 3, 8, 8))


@pytest.mark.parametrize(
    "overrides",
    [
        {"depths": (2, 2), "dims": (32, 64), "stem_dim": 32},
        {"depths": (2,), "dims": (32,)},  # the stem's width left at 384
    ],
)
def test_isotropic_steps_stay_one_stage(overrides):
    with pytest.raises(ValueError, match="step isotropic_s is isotropic: one stage, as wide as its stem"):
        build_model("isotropic_s", **overrides)


def test_stem_stride_is_validated():
    with pytest.raises(ValueError, match="stem_stride must be a positive integer, got 0"):
        get_step("isotropic_s").config.replace(stem_stride=0)
    assert all(s.config.stem_stride == 4 for s in ROADMAP)


def test_isotropic_design_diff_against_step_12():
    diff = design_diff("isotropic_s")
    assert diff.startswith("design diff: 12_separate_downsampling -> isotropic_s\n")
    for line in [
        "  depths: (3, 3, 9, 3) -> (18,)",
        "  stem_dim: 96 -> 384",
        "  stem_stride: 4 -> 16",
        "  downsample: step12_separate_downsampling.Downsample -> None",
        "  layer_scale_init_value: 1e-06 -> 0.0",
        "+++ convnext_steps/steps/ext_isotropic.py: PatchifyStem",
        "-        self.norm = LayerNorm2d(dim)",
        "class removed:\n--- convnext_steps/steps/step12_separate_downsampling.py: Downsample",
    ]:
        assert line in diff, line
    assert "class removed:\n--- convnext_steps/layers.py: LayerNorm2d" in diff  # no channels-first LN is left
    assert "Block" not in diff  # the block is step 12's, unchanged
    assert "drop_path_rate" not in diff and "  drop_path_rate: 0.1 -> 0.5" in design_diff("isotropic_l")


def test_official_isotropic_layout():
    ours = randomize_(build_model("isotropic_l", **TINY_ISO))  # L keeps layer scale: gamma keys too
    exported = export_state_dict(ours, "official-isotropic")
    # The key names of facebookresearch/ConvNeXt's models/convnext_isotropic.py (ConvNeXtIsotropic).
    block = [f"{layer}.{p}" for layer in ("dwconv", "norm", "pwconv1", "pwconv2") for p in ("weight", "bias")]
    expected = {"stem.weight", "stem.bias", "norm.weight", "norm.bias", "head.weight", "head.bias"}
    expected |= {f"blocks.{i}.{k}" for i in range(2) for k in [*block, "gamma"]}
    assert set(exported) == expected and detect_layout(exported) == "official-isotropic"
    again = build_model("isotropic_l", **TINY_ISO)
    assert load_weights(again, exported) == "official-isotropic"
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(_logits(again, x), _logits(ours, x))
    assert "official-isotropic" in fitting_layouts(ours)
    assert "official-isotropic" not in fitting_layouts(_meta("12"))  # the stem's norm has no counterpart
    with pytest.raises(ValueError, match="does not fit the 'official-isotropic' layout"):
        export_state_dict(_meta("v2_tiny"), "official-isotropic")


# ---------------------------------------------------------------------------------------------------------------
# ConvNeXt V2-T: GRN after the GELU, no layer scale


@pytest.fixture(scope="module")
def x224():
    return torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(7))


@pytest.fixture(scope="module")
def timm_v2():
    torch.manual_seed(0)
    return randomize_(timm.create_model("convnextv2_tiny")).eval()


def test_v2_equals_timm_convnextv2_tiny(timm_v2, x224):
    grns = [m for m in timm_v2.modules() if type(m).__name__ == "GlobalResponseNorm"]
    assert len(grns) == 18 and all((g.weight != 0).all() and (g.bias != 0).all() for g in grns)
    ours = build_model("v2_tiny")
    assert load_weights(ours, timm_v2.state_dict()) == "timm-convnext"
    assert count_params(ours) == count_params(timm_v2) == 28_635_496
    ref = _logits(timm_v2, x224)
    assert ref.std() > 0.1  # non-trivial weights: a wrong model could not match by accident
    assert (_logits(ours, x224) - ref).abs().max() <= TOL


def test_v2_official_and_timm_layouts_load_and_export_back(timm_v2, x224):
    ours = build_model("v2_tiny")
    load_weights(ours, timm_v2.state_dict())
    official = export_state_dict(ours, "official")
    # The names and shapes of facebookresearch/ConvNeXt-V2's models/convnextv2.py: GRN's are (1, 1, 1, C).
    assert official["stages.2.8.grn.gamma"].shape == official["stages.2.8.grn.beta"].shape == (1, 1, 1, 4 * 384)
    assert {"downsample_layers.3.1.weight", "stages.0.0.dwconv.weight", "norm.weight", "head.weight"} <= set(official)
    assert not any(k.endswith(".gamma") and ".grn." not in k for k in official)  # no layer scale
    again = build_model("v2_tiny")
    assert load_weights(again, official) == "official"
    assert all(torch.equal(again.state_dict()[k], v) for k, v in ours.state_dict().items())
    # timm's own converter for facebookresearch checkpoints reads the official layout into its model.
    ref = timm.create_model("convnextv2_tiny")
    ref.load_state_dict(checkpoint_filter_fn({"model": official}, ref), strict=True)
    assert (_logits(ref, x224) - _logits(ours, x224)).abs().max() <= TOL
    # timm's layout round-trips into timm's model, strictly.
    back = timm.create_model("convnextv2_tiny")
    back.load_state_dict(export_state_dict(ours, "timm-convnext"), strict=True)
    assert all(torch.equal(back.state_dict()[k], v) for k, v in timm_v2.state_dict().items())
    assert fitting_layouts(ours) == ["ours", "timm-convnext", "official"]  # torchvision has no ConvNeXt V2


def _grn_formula(x, gamma, beta, eps=1e-6):
    """GRN written out: each channel's L2 norm over the pixels, divided by the mean over channels."""
    g = x.pow(2).sum(dim=(1, 2), keepdim=True).sqrt()
    return gamma * (x * (g / (g.mean(dim=-1, keepdim=True) + eps))) + beta + x


@pytest.mark.parametrize("shape", [(2, 5, 7, 12), (3, 1, 1, 12)], ids=["5x7", "1x1"])
def test_grn_is_the_formula_and_timms_layer(shape):
    from timm.layers.grn import GlobalResponseNorm

    grn, ref = randomize_(GRN(12)), GlobalResponseNorm(12)
    assert (grn.gamma != 0).all() and (grn.beta != 0).all()
    ref.load_state_dict({"weight": grn.gamma, "bias": grn.beta})
    x = torch.randn(shape, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        out = grn(x)
        assert (out - _grn_formula(x, grn.gamma, grn.beta)).abs().max() <= 1e-6
        assert (out - ref(x)).abs().max() <= 1e-6
        assert torch.equal(out[1:2], grn(x[1:2]))  # each sample is normalised on its own


def test_grn_on_one_pixel_is_defined():
    grn = randomize_(GRN(4))
    with torch.no_grad():
        # One pixel: each channel's norm is |x|, so GRN scales channel c by 1 + gamma_c * |x_c| / mean |x|.
        x = torch.tensor([1.0, -1.0, 1.0, 5.0]).reshape(1, 1, 1, 4)
        expected = x * (1 + grn.gamma * x.abs() / (x.abs().mean() + 1e-6)) + grn.beta
        assert (grn(x) - expected).abs().max() <= 1e-6
    zeros = torch.zeros(1, 1, 1, 4, requires_grad=True)
    out = grn(zeros)
    out.sum().backward()
    assert torch.equal(out.detach(), grn.beta.detach().reshape(1, 1, 1, 4))  # no 0 / 0: eps keeps it defined
    assert torch.isfinite(zeros.grad).all()
    # A whole V2 network at 32x32 ends at 1x1: every stage-4 GRN sees one pixel.
    model = randomize_(build_model("v2_tiny", **TINY_V2))
    assert [f.shape[-1] for f in model.forward_stages(torch.randn(2, 3, 32, 32))][-1] == 1
    assert torch.isfinite(_logits(model, torch.randn(2, 3, 32, 32))).all()


def test_fresh_grn_is_the_identity_and_v2_blocks_have_no_layer_scale():
    block = ext_v2_grn.Block(32, 32, 7)
    x = torch.randn(2, 5, 5, 128)
    assert torch.equal(block.grn(x), x)
    assert [n for n, _ in block.named_parameters() if "gamma" in n or "beta" in n] == ["grn.gamma", "grn.beta"]
    assert _meta("v2_tiny").config.layer_scale_init_value is None
    with pytest.raises(ValueError, match=r"^step v2_tiny has no layer scale$"):
        build_model("v2_tiny", layer_scale_init_value=1e-6)


def test_v2_design_diff_adds_grn_and_removes_layer_scale_only():
    diff = design_diff("v2_tiny")
    assert diff.splitlines()[:5] == [
        "design diff: 12_separate_downsampling -> v2_tiny",
        "",
        "config (NetConfig fields that change):",
        "  block: step12_separate_downsampling.Block -> ext_v2_grn.Block",
        "  layer_scale_init_value: 1e-06 -> None",
    ]
    block = diff[diff.index("class changed:") : diff.index("class added:")]
    code = [
        line.split("  #")[0].rstrip()
        for line in block.splitlines()
        if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))
    ]
    added = [line[1:].strip() for line in code if line.startswith("+")]
    removed = [line[1:].strip() for line in code if line.startswith("-")]
    assert added == [
        "def __init__(self, in_dim: int, dim: int, kernel_size: int, stride: int = 1, drop_path: float = 0.0):",
        "self.grn = GRN(hidden)",
        "out = self.pwconv2(self.grn(self.act(self.pwconv1(self.norm(out)))))",
    ]
    # What goes: layer scale's argument (the signature, however the formatter wraps it), its comment, parameter and
    # multiply, and the forward line GRN joins.
    signature = removed[: removed.index("):") + 1]
    assert "".join(signature).replace(" ", "") == (
        "def__init__(self,in_dim:int,dim:int,kernel_size:int,stride:int=1,drop_path:float=0.0,"
        "layer_scale_init_value:float=1e-6,):"
    )
    assert removed[len(signature) :] == [
        "",
        "self.gamma = nn.Parameter(layer_scale_init_value * torch.ones(dim)) if layer_scale_init_value > 0 else None",
        "out = self.pwconv2(self.act(self.pwconv1(self.norm(out))))",
        "if self.gamma is not None:",
        "out = self.gamma * out",
    ]
    assert "class added:\n--- /dev/null\n+++ convnext_steps/steps/ext_v2_grn.py: GRN" in diff
    assert "class removed" not in diff and changed_lines(diff) <= 40


def test_v2_counts_and_the_published_figures():
    v2, t = _meta("v2_tiny"), _meta("12")
    assert count_macs(v2) == count_macs(t) == 4_455_531_264  # GRN is elementwise: no multiply-adds
    published_params, published_gflops, _ = ext_v2_grn.README["T"]
    assert round(count_params(v2) / 1e6, 1) == published_params
    # The README's 4.47 G: fvcore also counts 5 FLOPs per LayerNorm element and the pooled elements.
    seen = []
    hooks = [
        m.register_forward_hook(lambda m, args, out: seen.append(args[0].numel()))
        for m in v2.modules()
        if isinstance(m, (torch.nn.LayerNorm, LayerNorm2d))
    ]
    with torch.no_grad():
        features = v2.forward_stages(torch.zeros(1, 3, 224, 224, device="meta"))[-1]
        v2.norm(features.mean((-2, -1)))
    for h in hooks:
        h.remove()
    fvcore_like = count_macs(v2) + 5 * sum(seen) + features.numel()
    assert fvcore_like == 4_470_437_376 and round(fvcore_like / 1e9, 2) == published_gflops


def test_traced_v2_block_shows_grn_as_one_norm():
    from convnext_steps.trace import trace_block, trace_stem

    ops = {o.name: o for o in trace_block("v2_tiny")}
    assert (ops["grn"].kind, ops["grn"].label, ops["grn"].layout) == ("norm", "GRN, 384", "NHWC")
    assert not any(o.kind in ("layer scale", "multiply") for o in ops.values())
    stem = [o for o in trace_stem("isotropic_s") if o.kind != "input"]
    assert [(o.kind, o.label, o.shape) for o in stem] == [("conv", "16x16 conv, 3->384, stride 16", (1, 384, 14, 14))]
    with pytest.raises(ValueError, match=r"the network has 1 stages; stage 1 is out of range 0\.\.0"):
        trace_block("isotropic_s", stage=1)


# ---------------------------------------------------------------------------------------------------------------
# The CLI table, exercises, figures, training and bench


def test_roadmap_command_lists_the_extensions_under_their_own_heading(capsys):
    from convnext_steps.cli import main

    assert main(["roadmap", "--no-sweep"]) == 0
    lines = capsys.readouterr().out.splitlines()
    heading = lines.index(
        "Past the paper's roadmap: extensions written on top of step 12, beside their published figures"
    )
    assert heading > max(i for i, line in enumerate(lines) if line.startswith(STEP_IDS[-1]))
    rows = {line.split()[0]: line.split()[1:6] for line in lines[heading + 2 : heading + 6]}
    assert rows == {
        "isotropic_s": ["22.31", "4.29", "22", "4.3", "79.7"],
        "isotropic_b": ["87.08", "16.90", "87", "16.9", "82.0"],
        "isotropic_l": ["305.94", "59.70", "306", "59.7", "82.6"],
        "v2_tiny": ["28.64", "4.46", "28.6", "4.47", "83.0"],
    }
    assert main(["roadmap", "--json", "--no-sweep", "--image-size", "64"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in report["steps"]] == list(STEP_IDS)
    assert [r["id"] for r in report["extensions"]] == list(EXTENSION_IDS)
    assert report["extensions"][0]["params"] == 22_308_712 and report["extensions"][0]["paper_params_m"] == 22


def test_extension_exercises():
    from convnext_steps import exercises

    assert exercises.expected("16.2") == 8 * 384**2 + 57 * 384
    per_position = exercises.expected("16.3") / (4.286 * (384 / 224) ** 2)  # cost grows with the 16x16 patches
    assert 0.99 < per_position < 1.01 and exercises.check("16.3", 12.6) and not exercises.check("16.3", 4.3 * 2)
    widths = [96] * 3 + [192] * 3 + [384] * 9 + [768] * 3
    assert exercises.expected("17.3") == 2 * 4 * sum(widths) - sum(widths) == 46_368
    assert exercises.expected("17.2") == (1.5, 3.5)
    assert exercises.check("17.2", (1.5, 3.5)) and not exercises.check("17.2", (2.0, 2.0))


def test_extension_figures(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from convnext_steps import plots
    from convnext_steps.figures import FIGURES, save_figures

    assert {"isotropic_stage_shapes.png", "grn_channel_norms.png", "blocks/v2_tiny.png"} <= set(FIGURES)
    paths = save_figures(tmp_path, ["isotropic_stage_shapes.png", "blocks/isotropic_s.png"])
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths)
    fig = plots.channel_norms_figure(torch.rand(16) + 0.5, torch.rand(16) + 0.5, "t")
    assert len(fig.axes) == 2
    with pytest.raises(ValueError, match="two 1-D tensors of per-channel norms of one length"):
        plots.channel_norms_figure(torch.rand(16), torch.rand(8))


@pytest.fixture
def _keep_threads():
    threads = torch.get_num_threads()  # --threads 1 in-process changes torch's global setting
    yield
    torch.set_num_threads(threads)


TRAIN = [
    "--data",
    "synthetic",
    "--image-size",
    "32",
    "--synthetic-train",
    "64",
    "--synthetic-val",
    "32",
    "--threads",
    "1",
    "--quiet",
    "--batch-size",
    "32",
    "--epochs",
    "1",
    "--workers",
    "0",
    "--recipe",
    "small",
]


@pytest.mark.parametrize(
    "given, step_id, size",
    [
        ("v2", "v2_tiny", ["--depths", "1", "1", "1", "1", "--dims", "16", "32", "64", "128", "--stem-dim", "16"]),
        ("isotropic_s", "isotropic_s", ["--depths", "2", "--dims", "32", "--stem-dim", "32"]),
    ],
)
def test_training_takes_an_extension(given, step_id, size, tmp_path, _keep_threads):
    from convnext_steps.train import main
    from convnext_steps.training.rundir import read_metrics

    assert main(["--step", given, *size, *TRAIN, "--output", str(tmp_path)]) == 0
    recipe = json.loads((tmp_path / "recipe.json").read_text())
    assert recipe["step"] == step_id
    assert [row["epoch"] for row in read_metrics(tmp_path)] == [1]


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--step", "isotropic_s", "--depths", "1", "1", "--dims", "16", "32"],
            "step isotropic_s is isotropic: one stage",
        ),
        (["--step", "v2_tiny", "--layer-scale", "1e-6"], "step v2_tiny has no layer scale"),
        (["--step", "iso"], "'iso' is ambiguous"),
    ],
)
def test_training_refuses_what_an_extension_cannot_be(argv, message, tmp_path, capsys, _keep_threads):
    from convnext_steps.train import main

    assert main([*TRAIN, *argv, "--output", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_bench_takes_extensions(capsys):
    from convnext_steps.cli import main

    assert (
        main(
            [
                "bench",
                "--device",
                "cpu",
                "--image-size",
                "32",
                "--batch-size",
                "1",
                "--warmup",
                "0",
                "--rounds",
                "1",
                "--modes",
                "inference",
                "--steps",
                "v2",
                "isotropic_s",
                "--json",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert [(r["name"], r["params"]) for r in report["results"]] == [
        ("v2_tiny", 28_635_496),
        ("isotropic_s", 22_308_712),
    ]
    assert "--steps v2_tiny isotropic_s" in report["command"]
