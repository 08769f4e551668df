"""The design-space explorer: every roadmap prefix is its step, every change means one thing, bad input is refused."""

import itertools
import json
import random

import pytest
import torch
from conftest import randomize_
from torch import nn

from convnext_steps import ROADMAP, count_macs, count_params, load_weights
from convnext_steps.explorer import (
    ALL,
    CHANGE_IDS,
    CHANGES,
    PREFIXES,
    build_variant,
    parse_changes,
    valid_combinations,
    variant_config,
    variant_name,
    variant_step,
    variant_title,
)
from convnext_steps.layers import LayerNorm2d
from convnext_steps.measure import receptive_field


def meta(changes=(), **kw):
    with torch.device("meta"):
        return build_variant(changes, **kw)


def small(config) -> dict:
    """Overrides that keep every kind of block (a stage's first and later ones) at 1/8 of the width."""
    return dict(depths=(2, 1, 2, 1), dims=tuple(d // 8 for d in config.dims), stem_dim=config.stem_dim // 8)


def test_changes_table():
    assert CHANGE_IDS == ("01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12a", "12b", "12c")
    assert len({c.name for c in CHANGES}) == 14
    for c in CHANGES:
        assert c.meaning.endswith(".") and c.step.startswith(c.id[:2])
    assert [len(p) for p in PREFIXES] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 14]


@pytest.mark.parametrize("k", range(13), ids=[s.id for s in ROADMAP])
def test_prefix_counts_names_and_shapes_equal_the_step(k):
    step = ROADMAP[k]
    with torch.device("meta"):
        ref, var = step.build(), build_variant(PREFIXES[k])
    assert count_params(var) == count_params(ref)
    assert count_macs(var) == count_macs(ref)
    assert {n: t.shape for n, t in var.state_dict().items()} == {n: t.shape for n, t in ref.state_dict().items()}
    assert variant_step(PREFIXES[k]) is step and variant_config(PREFIXES[k]).depths == step.config.depths


@pytest.mark.parametrize("k", range(13), ids=[s.id for s in ROADMAP])
def test_prefix_logits_equal_the_step(k):
    step = ROADMAP[k]
    overrides = small(step.config)
    ref = randomize_(step.build(num_classes=10, **overrides)).eval()
    var = build_variant(PREFIXES[k], num_classes=10, **overrides).eval()
    load_weights(var, ref.state_dict(), layout="ours")
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(var(x), ref(x))
    # From the same seed, the same weights: a variant's run is the step's run.
    torch.manual_seed(5)
    ref = step.build(num_classes=10, **overrides)
    torch.manual_seed(5)
    var = build_variant(PREFIXES[k], num_classes=10, **overrides)
    assert all(torch.equal(a, b) for a, b in zip(ref.state_dict().values(), var.state_dict().values()))


@pytest.mark.parametrize("kernel", [5, 9])
def test_kernel_override(kernel):
    step = ROADMAP[7]
    with torch.device("meta"):
        ref, var = step.build(kernel_size=kernel), build_variant(PREFIXES[7], kernel_size=kernel)
    assert (count_params(var), count_macs(var)) == (count_params(ref), count_macs(ref))
    overrides = dict(small(step.config), kernel_size=kernel)
    ref = randomize_(step.build(num_classes=10, **overrides)).eval()
    var = build_variant(PREFIXES[7], num_classes=10, **overrides).eval()
    load_weights(var, ref.state_dict())
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(var(x), ref(x))
    assert var.stages[0].blocks[0].dwconv.kernel_size == (kernel, kernel)
    # Off the roadmap too: the override sets the kernel whatever 07 says.
    assert meta("03", kernel_size=kernel).stages[1].blocks[1].dwconv.kernel_size == (kernel, kernel)


def _stride_free(model) -> bool:
    return all(m.stride == (1, 1) for s in model.stages for m in s.blocks.modules() if isinstance(m, nn.Conv2d))


def _sample(n: int, seed: int = 18) -> list[frozenset[str]]:
    rng = random.Random(seed)
    return [frozenset(c for c in CHANGE_IDS if rng.random() < 0.5) for _ in range(n)]


@pytest.mark.parametrize("changes", _sample(10), ids=variant_name)
def test_sampled_combinations_build_count_run_and_mean_what_they_say(changes):
    model = meta(changes)
    params, macs = count_params(model), count_macs(model)
    assert params > 1e6 and macs > 1e8
    block = model.stages[1].blocks[1]
    kxk = block.dwconv if "03" in changes else block.conv
    dim = model.config.dims[1]
    hidden = block.pwconv1.weight.shape[0]
    assert hidden == (4 * dim if "05" in changes else dim // 4)
    assert model.config.depths == ((3, 3, 9, 3) if "01" in changes else (3, 4, 6, 3))
    assert model.config.stem_dim == (96 if "04" in changes else 64)
    assert hasattr(model.stem, "pool") != ("02" in changes)
    assert (kxk.groups == kxk.in_channels) == ("03" in changes)
    assert kxk.in_channels == (dim if "06" in changes else hidden)
    assert kxk.kernel_size == ((7, 7) if "07" in changes else (3, 3))
    assert isinstance(block.act, nn.GELU) == ("08" in changes)
    norms = [m for m in block.modules() if isinstance(m, (nn.BatchNorm2d, nn.LayerNorm))]
    assert len(norms) == (1 if "10" in changes else 3)
    every_norm = [m for m in model.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm))]
    assert all(isinstance(m, nn.LayerNorm) for m in every_norm) == ("11" in changes)
    assert all(isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d) for m in every_norm) == ("11" not in changes)
    assert _stride_free(model) == ("12a" in changes)
    assert isinstance(model.norm, nn.Identity) != ("12b" in changes)
    assert (block.gamma is not None) == ("12c" in changes)
    # One activation (after pwconv1) per block with 09: count the calls in one forward pass.
    small_model = build_variant(changes, num_classes=10, **small(variant_config(changes))).eval()
    calls = []
    handle = block_act_hook(small_model.stages[0].blocks[1], calls)
    with torch.no_grad():
        out = small_model(torch.randn(2, 3, 64, 64))
    handle.remove()
    assert out.shape == (2, 10) and torch.isfinite(out).all()
    assert len(calls) == (1 if "09" in changes else 3)


def block_act_hook(block, calls):
    return block.act.register_forward_hook(lambda *_: calls.append(1))


def test_meanings_off_the_roadmap():
    # dwconv_up in a standard bottleneck: the 3x3 conv runs first, on the block's (wide) input.
    block = meta("06").stages[1].blocks[1]
    assert [n for n, _ in block.named_children()][:3] == ["conv", "bn2", "pwconv1"]
    assert block.conv.in_channels == 512 and block.pwconv1.out_channels == 128
    # fewer_norms in a block with three: the one after the 3x3 conv stays (named norm); the 1x1 convs get a bias.
    block = meta("10").stages[0].blocks[1]
    assert [n for n, m in block.named_children() if isinstance(m, nn.BatchNorm2d)] == ["norm"]
    assert block.conv.bias is None and block.pwconv1.bias is not None and block.pwconv2.bias is not None
    # layernorm in a stem with a max-pool: the stem's BN becomes a LayerNorm over channels, its conv gets a bias.
    stem = meta("11").stem
    assert isinstance(stem.norm, LayerNorm2d) and isinstance(stem.pool, nn.MaxPool2d) and stem.conv.bias is not None
    # separate downsampling without LayerNorm: the downsampling layer's norm is a BatchNorm, like every other.
    assert isinstance(meta("12a").stages[2].downsample.norm, nn.BatchNorm2d)
    # ConvNeXt-T without the inverted bottleneck: stage 1's first block still widens (96 -> 384): a projection.
    model = meta(without="05")
    assert isinstance(model.stages[0].blocks[0].shortcut, nn.Sequential)
    assert isinstance(model.stages[1].blocks[0].shortcut, nn.Identity)


def test_order_and_spelling_do_not_matter():
    sets = ["02,03,07,11", "11, 07,03,02", ["kernel_7x7", "02", "depthwise_conv", "layernorm"], "resnet50+02+03+07+11"]
    assert len({parse_changes(s) for s in sets}) == 1
    assert len({variant_config(s) for s in sets}) == 1
    assert {variant_name(s) for s in sets} == {"resnet50+02+03+07+11"}
    torch.manual_seed(0)
    a = build_variant("12c,03", num_classes=10, depths=(1, 1, 1, 1))
    torch.manual_seed(0)
    b = build_variant(["03", "layer_scale"], num_classes=10, depths=(1, 1, 1, 1))
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_names_and_groups():
    assert parse_changes("12") == {"12a", "12b", "12c"} == parse_changes("12_separate_downsampling")
    assert parse_changes("separate_downsampling") == {"12a"}
    assert parse_changes("7") == {"07"} and parse_changes("none") == frozenset() and parse_changes("all") == ALL
    assert variant_name(()) == "resnet50" and variant_name(ALL) == "convnext_t"
    assert variant_name(ALL - {"07"}) == "convnext_t-07"
    assert variant_name(ALL - {"12c"}) == "convnext_t-12c" and variant_name(PREFIXES[11]) == "convnext_t-12"
    for subset in _sample(50, seed=3):
        assert parse_changes(variant_name(subset)) == subset  # every label reads back
    assert count_params(meta(without="12")) == count_params(meta(PREFIXES[11]))


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda: parse_changes("07,kernel7"), "unknown change 'kernel7'; valid: 01 stage_ratio"),
        (lambda: parse_changes("13"), "12 (= 12a+12b+12c)"),
        (lambda: parse_changes("  "), "empty change set"),
        (lambda: parse_changes([7]), "change names are strings"),
        (lambda: build_variant("07", without="07"), "not both"),
        (lambda: build_variant("07", layer_scale_init_value=1e-6), "needs change 12c layer_scale"),
        (lambda: build_variant("07", block=nn.Identity), "block is chosen by the change set"),
        (lambda: build_variant("07", kernel_size=4), "kernel_size must be a positive odd integer"),
        (lambda: build_variant("07", width=3), "unknown config field"),
    ],
)
def test_refusals_name_what_is_valid(call, fragment):
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_every_combination_is_valid_and_distinct():
    # Every change is defined on every block, stem and network it can meet, so none of the 2^14 sets is refused,
    # and no two sets give the same network.
    assert valid_combinations() == (2**14, 2**14)
    subsets = (s for n in range(15) for s in itertools.combinations(CHANGE_IDS, n))
    assert len({variant_config(s) for s in subsets}) == 2**14


# --- the command line and its measures -----------------------------------------------------------------------------


def explore(capsys, *args):
    from convnext_steps.cli import main

    try:
        code = main(["explore", *args])
    except SystemExit as e:  # argparse's own errors
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_one_variant_json(capsys):
    code, out, err = explore(capsys, "--changes", "11,07,03,02", "--json", "--no-erf")
    assert code == 0, err
    (row,) = json.loads(out)["rows"]
    model = meta("02,03,07,11")
    assert row["changes"] == ["02", "03", "07", "11"] and row["name"] == "resnet50+02+03+07+11"
    assert row["params"] == count_params(model) and row["gmacs"] == count_macs(model) / 1e9
    assert row["rf_px"] == receptive_field(model) and row["step"] is None


def test_cli_one_variant_text_names_its_step(capsys):
    code, out, _ = explore(capsys, "--without", "12", "--no-erf")
    assert code == 0
    assert "variant convnext_t-12 (= step 11_layernorm)" in out
    assert f"params: {count_params(meta(PREFIXES[11])):,}" in out


def test_receptive_field_of_resnet50_and_convnext_t():
    # ResNet-50's theoretical receptive field is the well-known 427 px; the 7x7 kernels take ConvNeXt-T to 1688.
    assert receptive_field(meta(())) == 427
    assert receptive_field(meta(ALL)) == 1688
    assert receptive_field(meta(without="07")) == 584


def test_cli_leave_one_out_and_add_one(capsys):
    code, out, _ = explore(capsys, "--leave-one-out", "--json")
    rows = json.loads(out)["rows"]
    assert code == 0 and len(rows) == 15 and rows[0]["name"] == "convnext_t" and rows[0]["params"] == 28_589_128
    assert [set(r["changes"]) for r in rows[1:]] == [ALL - {c} for c in CHANGE_IDS]
    code, out, _ = explore(capsys, "--add-one")
    lines = out.splitlines()
    assert code == 0 and lines[2].startswith("resnet50 ") and "25.56" in lines[2]
    assert sum(line.startswith("resnet50+") for line in lines) == 14
    assert "resnet50+01 " in lines[3] and "= step 01_stage_ratio" in lines[3]


def test_cli_diff_against_a_step(capsys):
    code, out, _ = explore(capsys, "--changes", "02,03,07,11", "--diff-against", "12", "--no-erf")
    assert code == 0
    diff = out[out.index("design diff:") :]
    assert diff.startswith("design diff: resnet50+02+03+07+11 -> convnext_t (step 12_separate_downsampling)")
    assert "  01 stage_ratio: Blocks per stage" in diff and "changes removed: none" in diff
    assert "  depths: (3, 4, 6, 3) -> (3, 3, 9, 3)" in diff and "  one_norm: False -> True" in diff
    assert "  02 patchify_stem" not in diff  # both have it
    # Two roadmap steps: the steps' own code diff follows, as `diff 06 07` prints it.
    code, out, _ = explore(capsys, "--changes", "01,02,03,04,05,06", "--diff-against", "07", "--no-erf")
    assert "changes added:\n  07 kernel_7x7" in out and "kernel_size: 3 -> 7" in out
    assert "design diff: 06_dwconv_up -> 07_kernel_7x7" in out


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--changes", "02,kernel7"], "unknown change 'kernel7'; valid: 01 stage_ratio"),
        (["--changes", ""], "empty change set"),
        (["--without", " , "], "empty change set"),
        (["--changes", "07", "--without", "07"], "give --changes (ResNet-50 plus them) or --without"),
        (["--without", "07", "--leave-one-out"], "--without and --leave-one-out together"),
        ([], "give one of --changes SET, --without SET"),
        (["--changes", "07", "--whole"], "--whole goes with --all"),
        (["--changes", "07", "--kernel-size", "4"], "kernel_size must be a positive odd integer"),
        (["--changes", "07", "--diff-against", "v2_tiny"], "extension past the roadmap"),
        (["--changes", "07", "--diff-against", "resnet50+13"], "unknown change '13'"),
        (["--leave-one-out", "--diff-against", "12"], "compares one variant"),
        (["--leave-one-out", "--plot", "/nonexistent/folder/x.png"], "folder /nonexistent/folder does not exist"),
    ],
)
def test_cli_refusals(capsys, args, fragment):
    code, out, err = explore(capsys, *args)
    lines = err.strip().splitlines()
    assert code == 2 and not out and fragment in lines[-1]
    assert len(lines) == 1 or lines[0].startswith("usage:")  # argparse's own errors come under its usage line


def test_cli_latency_in_the_bench_rounds(capsys):
    args = [
        "--changes",
        "02,03,05,06,10",
        "--latency",
        "--rounds",
        "2",
        "--warmup",
        "0",
        "--batch-size",
        "1",
        "--image-size",
        "32",
    ]
    code, out, _ = explore(capsys, *args, "--no-erf", "--json")
    (row,) = json.loads(out)["rows"]
    assert code == 0 and len(row["changes"]) == 5 and row["latency_ms"] > 0 and row["img_per_s"] > 0


def test_erf_is_measured_or_skipped_for_big_models():
    from convnext_steps.explorer_cli import erf_px

    small_net = dict(depths=(1, 1, 1, 1), dims=(16, 32, 64, 128), stem_dim=16)
    side = erf_px("05,12", **small_net)
    assert isinstance(side, int) and side % 2 == 1 and 1 < side <= 160
    assert erf_px(ALL - {"03"}) is None  # 187 M parameters: not built


def test_counting_by_parts_equals_whole_networks():
    from convnext_steps.explorer_cli import costs_by_parts

    for changes in _sample(4, seed=7) + [frozenset(), ALL]:
        model = meta(changes)
        assert costs_by_parts(variant_config(changes)) == (
            count_params(model),
            count_macs(model),
            receptive_field(model),
        )


def test_variants_figure(tmp_path):
    from convnext_steps.explorer_plots import save_variants_figure, variants_figure

    rows = [{"name": n, "params": p, "gmacs": g} for n, p, g in [("resnet50", 25e6, 4.1), ("resnet50+07", 26e6, 4.2)]]
    fig = variants_figure(rows, "add-one")
    assert len(fig.axes) == 2 and [t.get_text() for t in fig.axes[0].get_yticklabels()][0] == "resnet50"
    rows = [dict(r, latency_ms=1.0 + i) for i, r in enumerate(rows)]
    assert len(variants_figure(rows).axes) == 3
    save_variants_figure(rows, tmp_path / "v.png")
    assert (tmp_path / "v.png").read_bytes()[:4] == b"\x89PNG"


def test_plain_titles_say_what_each_variant_is():
    from convnext_steps.explorer_cli import format_rows, variant_row
    from convnext_steps.explorer_plots import variants_figure

    assert variant_title(ALL - {"07"}) == "ConvNeXt-T with 3x3 kernel (-07)"
    assert variant_title(ALL - {"12b", "12c"}) == "ConvNeXt-T with no head norm, no layer scale (-12b-12c)"
    assert variant_title({"07", "02"}) == "ResNet-50 + patchify stem + 7x7 kernel (+02+07)"
    assert variant_title(()) == "ResNet-50" and variant_title("convnext_t") == "ConvNeXt-T"
    assert variant_title(PREFIXES[11] | {"12b"}, base=PREFIXES[11]) == "step 11 + head norm (+12b)"
    assert variant_title(PREFIXES[11], base=PREFIXES[11]) == "step 11"
    assert variant_title({"07"}, base="02") == "ResNet-50 + 7x7 kernel (+07)", "a base it does not contain is ignored"
    assert variant_title("02,03,07", base="02,03", base_label="B") == "B + 7x7 kernel (+07)"
    assert all(c.brings and c.instead and c.brings != c.instead for c in CHANGES)
    assert len({c.instead for c in CHANGES}) == len({c.brings for c in CHANGES}) == len(CHANGES)
    rows = [variant_row(ALL), variant_row(ALL - {"07"})]
    plain = format_rows(rows, "leave one out", 224, reference=rows[0], plain=True)
    assert "ConvNeXt-T with 3x3 kernel (-07)" in plain and "convnext_t-07" not in plain
    assert "convnext_t-07" in format_rows(rows, "leave one out", 224), "the command line keeps the short labels"
    labels = [t.get_text() for t in variants_figure(rows).axes[0].get_yticklabels()]
    assert labels == ["ConvNeXt-T", "ConvNeXt-T with 3x3 kernel (-07)"]


def test_docs_table_holds_every_meaning():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "explorer.md").read_text()
    for c in CHANGES:
        assert f"| `{c.id}` | `{c.name}` | {c.meaning} | {c.step} |" in doc
