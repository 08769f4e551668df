"""Every pitfall of notebook 14 fails its check, and the correct version passes it."""

import copy

import pytest
import torch
from torch import nn

from convnext_steps import Network, build_model, count_macs, count_params, get_step, pitfalls
from convnext_steps.layers import LayerNorm2d
from convnext_steps.measure import block_drop_path_rates
from convnext_steps.network import drop_path_rates


@pytest.fixture(scope="module")
def convnext_t():
    torch.manual_seed(0)
    return build_model("12")


@pytest.mark.parametrize("channels", [8, 96])
def test_groupnorm_is_not_layernorm(channels):
    assert pitfalls.normalises_each_pixel(LayerNorm2d(channels), channels)
    assert not pitfalls.normalises_each_pixel(pitfalls.groupnorm_as_layernorm(channels), channels)
    gn = pitfalls.groupnorm_as_layernorm(channels)
    assert isinstance(gn, nn.GroupNorm) and gn.num_groups == 1


def test_grouped_conv_is_not_depthwise():
    step = get_step("03")
    right, wrong = step.build(), Network(pitfalls.GROUPED_CONV_CONFIG)
    assert len(pitfalls.spatial_convs(right)) == sum(step.config.depths) == len(pitfalls.spatial_convs(wrong))
    assert all(pitfalls.is_depthwise(c) for c in pitfalls.spatial_convs(right))
    assert not any(pitfalls.is_depthwise(c) for c in pitfalls.spatial_convs(wrong))
    assert round(count_macs(right) / 1e9, 2) == step.paper_gflops
    assert round(count_macs(wrong) / 1e9, 2) != step.paper_gflops
    assert count_params(wrong) > count_params(right)


def test_extra_downsampler_gives_3x3_final_map(convnext_t):
    assert pitfalls.final_map_size(convnext_t, 224) == (7, 7)
    wrong = Network(pitfalls.EXTRA_DOWNSAMPLE_CONFIG)
    assert pitfalls.final_map_size(wrong, 224) == (3, 3)


def test_per_stage_drop_path_is_not_linear(convnext_t):
    depths, rate = convnext_t.config.depths, convnext_t.config.drop_path_rate
    assert rate == 0.1
    right = block_drop_path_rates(convnext_t)
    assert pitfalls.rises_linearly_per_block(right, rate)
    assert right == drop_path_rates(depths, rate)
    wrong_rates = pitfalls.per_stage_drop_path_rates(depths, rate)
    assert len(wrong_rates) == sum(depths) and wrong_rates[0] == 0.0 and wrong_rates[-1] == pytest.approx(rate)
    assert not pitfalls.rises_linearly_per_block(wrong_rates, rate)
    wrong = pitfalls.set_drop_path_rates(copy.deepcopy(convnext_t), wrong_rates)
    assert block_drop_path_rates(wrong) == wrong_rates
    assert block_drop_path_rates(convnext_t) == right  # the original is untouched
    with pytest.raises(ValueError, match="18 rates"):
        pitfalls.set_drop_path_rates(copy.deepcopy(convnext_t), wrong_rates[:-1])


def test_rises_linearly_per_block_edge_cases():
    assert pitfalls.rises_linearly_per_block([0.0, 0.05, 0.1], 0.1)
    assert not pitfalls.rises_linearly_per_block([0.0, 0.05, 0.1], 0.2)
    assert not pitfalls.rises_linearly_per_block([0.1, 0.05, 0.0], 0.1)
    assert pitfalls.rises_linearly_per_block([0.0], 0.1)
    assert not pitfalls.rises_linearly_per_block([], 0.1)


def test_stride1_stem(convnext_t):
    wrong = Network(pitfalls.STRIDE1_STEM_CONFIG)
    assert pitfalls.stem_output_shape(convnext_t, 224) == (96, 56, 56)
    assert pitfalls.stem_output_shape(wrong, 224) == (96, 221, 221)
    assert count_params(wrong) == count_params(convnext_t)  # a parameter count cannot catch it
    assert count_macs(wrong, 64) > 10 * count_macs(convnext_t, 64)
