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


# Pitfalls 6-9 and notebook 14's find-the-bug exercises --------------------------------------------------------


def test_layernorm_on_nchw_normalises_the_width_or_raises():
    x = torch.randn(2, 8, 5, 8)
    wrong, right = pitfalls.LayerNormOnNCHW(8), LayerNorm2d(8)
    assert pitfalls.max_output_shift(wrong, right, x) > 0.5  # runs where W == C, on the wrong axis
    with torch.no_grad():
        y = wrong(x)
    assert torch.allclose(y.mean(-1), torch.zeros(2, 8, 5), atol=1e-5)  # it zeroed each row's mean over W
    with pytest.raises(RuntimeError, match="normalized_shape"):
        wrong(torch.randn(1, 8, 5, 7))


def test_eps_1e5_shrinks_small_activations_only():
    wrong, right = pitfalls.LayerNormEps1e5(8), LayerNorm2d(8)
    assert wrong.eps == 1e-5 and right.eps == 1e-6
    unit = torch.randn(2, 8, 4, 4)
    assert pitfalls.max_output_shift(wrong, right, unit) < 1e-4
    small = 1e-3 * torch.tensor([1.0, -1.0] * 4).reshape(1, 8, 1, 1)
    with torch.no_grad():
        ratio = (wrong(small).std() / right(small).std()).item()
    assert ratio == pytest.approx((2e-6 / 1.1e-5) ** 0.5, rel=1e-3)


def test_forgotten_head_norm_changes_params_and_checkpoint_keys():
    with torch.device("meta"):
        wrong, right = Network(pitfalls.NO_HEAD_NORM_CONFIG), build_model("12")
    assert count_params(right) - count_params(wrong) == 2 * 768
    assert set(right.state_dict()) - set(wrong.state_dict()) == {"norm.weight", "norm.bias"}


def test_default_init_scale_follows_fan_in_and_convnext_init_does_not():
    for fan_in, layer in (
        (49, nn.Conv2d(96, 96, 7, groups=96)),
        (96, nn.Conv2d(96, 384, 1)),
        (768, nn.Linear(768, 1000)),
    ):
        torch.manual_seed(0)
        pitfalls.pytorch_default_init(layer)
        assert layer.weight.std().item() == pytest.approx(1 / (3 * fan_in) ** 0.5, rel=0.05)
        assert layer.bias.abs().max() > 0
        pitfalls.convnext_init(layer)
        assert layer.weight.std().item() == pytest.approx(0.02, rel=0.05) and layer.bias.abs().max() == 0
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Linear(4, 2))
    model.apply(pitfalls.convnext_init)
    assert list(pitfalls.weight_stds(model)) == ["0", "2"]


NB14_FIXES = {
    "14.1": LayerNorm2d,
    "14.2": LayerNorm2d,
    "14.3": LayerNorm2d,
    "14.4": get_step("12").config,
    "14.5": pitfalls.convnext_init,
    "14.6": get_step("03").config.block,
    "14.7": get_step("12").config,
    "14.8": drop_path_rates,
    "14.9": get_step("11").config.stem,
}


def _nb14_bugs():
    from convnext_steps.exercises import nb14

    return {
        "14.1": (pitfalls.GroupNormAsLayerNorm, "outputs are up to "),
        "14.2": (pitfalls.LayerNormOnNCHW, "normalising each row's 8 pixels instead of each pixel's 8 channels"),
        "14.3": (pitfalls.LayerNormEps1e5, "come out 0.43x as large as ConvNeXt's"),
        "14.4": (pitfalls.NO_HEAD_NORM_CONFIG, "1,536 fewer parameters"),
        "14.5": (pitfalls.pytorch_default_init, "0.082 in a 7x7 depthwise conv on 96 channels"),
        "14.6": (nb14._GroupedBottleneck, "16,087,272 parameters, not 15,722,664, and 2.402 GMACs"),
        "14.7": (pitfalls.EXTRA_DOWNSAMPLE_CONFIG, "its last feature map is 3x3, not 7x7"),
        "14.8": (pitfalls.per_stage_drop_path_rates, "stage 1's 3 blocks are never dropped"),
        "14.9": (nb14._Stride1Stem, "it outputs (96, 221, 221), not (96, 56, 56)"),
    }


@pytest.mark.parametrize("exercise_id", sorted(NB14_FIXES))
def test_find_the_bug_stores_the_consequence_and_accepts_the_fix(exercise_id):
    from convnext_steps import exercises

    bug, consequence = _nb14_bugs()[exercise_id]
    verdict = exercises.check(exercise_id, bug)
    assert verdict.ok is None and consequence in repr(verdict), repr(verdict)
    assert repr(verdict).startswith(f"{exercise_id} not attempted yet: this is still the buggy version: ")
    assert repr(verdict).endswith(" above and run both cells again."), "the line says what to do"
    fixed = exercises.check(exercise_id, NB14_FIXES[exercise_id])
    assert fixed.ok is True, repr(fixed)


def test_find_the_bug_names_other_wrong_fixes():
    import torch.nn.functional as F

    from convnext_steps import exercises

    class UnbiasedNorm(nn.LayerNorm):  # "fixed" by hand, with the unbiased variance
        def __init__(self, num_channels, eps=1e-6):
            super().__init__(num_channels, eps=eps)

        def forward(self, x):
            mean, var = x.mean(1, keepdim=True), x.var(1, keepdim=True)
            return (x - mean) / (var + self.eps).sqrt() * self.weight[:, None, None] + self.bias[:, None, None]

    class Eps1e5ByHand(UnbiasedNorm):  # the permute fix, eps left at PyTorch's default
        def forward(self, x):
            return F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, 1e-5).permute(
                0, 3, 1, 2
            )

    assert "unbiased variance" in repr(exercises.check("14.2", UnbiasedNorm))
    assert "its eps is 1e-5" in repr(exercises.check("14.1", Eps1e5ByHand))

    def stepwise(depths, rate):  # linear within each stage, restarting at 0
        return [rate * i / (d - 1) if d > 1 else 0.0 for d in depths for i in range(d)]

    assert "must rise linearly over all 18 blocks" in repr(exercises.check("14.8", stepwise))

    def half_init(m):
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.normal_(m.weight, std=0.01)

    assert "std 0.010; ConvNeXt's have mean 0, std 0.02" in repr(exercises.check("14.5", half_init))
