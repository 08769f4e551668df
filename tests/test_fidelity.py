"""The mistakes popular write-ups of this walk-through make, each tested as right here."""

import pytest
import torch
from torch import nn
from torchvision.ops import StochasticDepth

from convnext_steps import ROADMAP, build_model
from convnext_steps.layers import DropPath, LayerNorm2d
from convnext_steps.network import drop_path_rates


def test_layernorm_normalises_over_channels_only():
    x = torch.randn(2, 8, 5, 5) * 3 + 1
    ln = LayerNorm2d(8)
    y = ln(x)
    # Each pixel's channel vector has mean 0 and variance 1.
    assert torch.allclose(y.mean(dim=1), torch.zeros(2, 5, 5), atol=1e-5)
    assert torch.allclose(y.var(dim=1, unbiased=False), torch.ones(2, 5, 5), atol=1e-3)
    manual = (x - x.mean(1, keepdim=True)) / torch.sqrt(x.var(1, unbiased=False, keepdim=True) + ln.eps)
    assert torch.allclose(y, manual, atol=1e-5)
    # GroupNorm(1, C) normalises over (C, H, W) at once: a different layer.
    gn = nn.GroupNorm(1, 8, eps=ln.eps)
    assert (gn(x) - y).abs().max() > 0.1


@pytest.mark.parametrize("step", [s for s in ROADMAP if s.index >= 3], ids=lambda s: s.id)
def test_depthwise_means_groups_equal_channels(step):
    convs = [m for m in step.build().modules() if isinstance(m, nn.Conv2d) and m.groups > 1]
    assert len(convs) == sum(step.config.depths)  # one depthwise conv per block
    for conv in convs:
        assert conv.groups == conv.in_channels == conv.out_channels


def test_no_grouped_convs_before_step03():
    for step in ROADMAP[:3]:
        assert all(m.groups == 1 for m in step.build().modules() if isinstance(m, nn.Conv2d))


@pytest.mark.parametrize("step", ROADMAP, ids=lambda s: s.id)
def test_stem_stride_4_and_no_downsampler_before_stage1(step):
    # The 56/28/14/7 map sizes at 224 are checked for every step in test_roadmap.test_stage_shapes.
    model = step.build()
    assert model.stem.conv.stride == ((2, 2) if step.index < 2 else (4, 4))
    if step.index < 2:
        assert model.stem.pool.stride == 2  # ResNet: 7x7/2 conv + 3x3/2 max-pool = 4x
    assert isinstance(model.stages[0].downsample, nn.Identity)
    assert all(m.stride == (1, 1) for m in model.stages[0].modules() if isinstance(m, nn.Conv2d))


def test_final_step_downsamplers_between_stages_only():
    model = build_model(12)
    kinds = [type(s.downsample).__name__ for s in model.stages]
    assert kinds == ["Identity", "Downsample", "Downsample", "Downsample"]
    assert model.stem.conv.kernel_size == (4, 4) and model.stem.conv.stride == (4, 4)


def test_drop_path_rate_rises_linearly_per_block():
    model = build_model(12, drop_path_rate=0.4)
    rates = [b.drop_path.p for s in model.stages for b in s.blocks]
    assert len(rates) == 18
    expected = [0.4 * i / 17 for i in range(18)]
    assert rates == pytest.approx(expected, abs=1e-6)
    # Not per stage: blocks within a stage get different rates.
    assert len(set(rates[3:6])) == 3
    assert drop_path_rates((1, 1), 0.2) == pytest.approx([0.0, 0.2])


def test_stochastic_depth_drops_whole_samples():
    torch.manual_seed(0)
    dp = DropPath(0.5).train()
    x = torch.ones(64, 4, 3, 3)
    y = dp(x)
    per_sample = y.flatten(1)
    dropped = (per_sample == 0).all(1)
    kept = (per_sample == 2.0).all(1)  # survivors are scaled by 1 / (1 - p)
    assert bool((dropped | kept).all()) and 10 < int(dropped.sum()) < 54
    assert torch.equal(dp.eval()(x), x)  # identity at inference


def test_drop_path_equals_torchvision_stochastic_depth():
    x = torch.randn(32, 4, 3, 3)
    for p in (0.0, 0.3, 0.5):
        for train in (True, False):
            torch.manual_seed(1)
            ours = DropPath(p).train(train)(x)
            torch.manual_seed(1)
            assert torch.equal(ours, StochasticDepth(p, "row").train(train)(x))


def test_drop_path_rejects_bad_probability():
    with pytest.raises(ValueError, match=r"drop-path probability must be in \[0, 1\)"):
        DropPath(1.0)


def test_drop_path_rate_is_checked_where_the_network_is_configured():
    with pytest.raises(ValueError, match=r"drop_path_rate must be in \[0, 1\)"):
        build_model(12, drop_path_rate=1.0)


def test_init_trunc_normal_std_002_zero_bias():
    model = build_model(12)
    weights = torch.cat([m.weight.flatten() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))])
    assert abs(weights.std().item() - 0.02) < 0.0005 and abs(weights.mean().item()) < 0.0005
    assert weights.abs().max() < 0.02 * 6
    biases = [m.bias for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert all(torch.count_nonzero(b) == 0 for b in biases)
    gammas = [b.gamma for s in model.stages for b in s.blocks]
    assert all(torch.all(g == 1e-6) for g in gammas)


def test_layer_scale_is_optional():
    assert all(b.gamma is None for s in build_model(12, layer_scale_init_value=0).stages for b in s.blocks)
