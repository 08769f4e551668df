"""The design-space explorer: every roadmap prefix is its step, every change means one thing, bad input is refused."""

import itertools
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
)
from convnext_steps.layers import LayerNorm2d


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
