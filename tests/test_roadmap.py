"""The roadmap as data: ids, lookup, parameter counts and multiply-adds against the paper."""

import pytest
import torch
import torchvision

from convnext_steps import ALL_STEPS, ROADMAP, STEP_IDS, build_model, count_macs, count_params, get_step
from convnext_steps.measure import _meta_forward, stage_shapes
from convnext_steps.roadmap import top1_change
from convnext_steps.steps.step07_kernel_7x7 import KERNEL_SWEEP

EXPECTED_IDS = [
    "00_resnet50",
    "01_stage_ratio",
    "02_patchify_stem",
    "03_depthwise_conv",
    "04_wider_96",
    "05_inverted_bottleneck",
    "06_dwconv_up",
    "07_kernel_7x7",
    "08_gelu",
    "09_fewer_activations",
    "10_fewer_norms",
    "11_layernorm",
    "12_separate_downsampling",
]
# Table 10 of the paper: (GFLOPs, top-1) per step.
PAPER = [
    (4.09, 78.82),
    (4.53, 79.36),
    (4.42, 79.51),
    (2.35, 78.28),
    (5.27, 80.50),
    (4.64, 80.64),
    (4.07, 79.92),
    (4.15, 80.57),
    (4.15, 80.62),
    (4.15, 81.27),
    (4.15, 81.41),
    (4.46, 81.47),
    (4.49, 81.97),
]


@pytest.fixture(scope="module")
def macs():
    with torch.device("meta"):  # counting needs the structure only
        return {s.id: count_macs(s.build()) for s in ROADMAP}


@pytest.mark.parametrize("step", ALL_STEPS, ids=lambda s: s.id)
def test_skipping_norms_and_activations_counts_exactly_what_the_whole_pass_counts(step):
    # count_macs skips the meta decompositions of norms and activations: every module's counts must stay the same.
    small = dict(depths=(1,), dims=(32,), stem_dim=32) if len(step.config.depths) == 1 else dict(depths=(1, 1, 1, 1))
    with torch.device("meta"):
        model = step.build(**small)
    fast, whole = (
        {
            name: sum(c.values())
            for name, c in _meta_forward(model, 64, 3, skip_uncounted=skip).get_flop_counts().items()
        }
        for skip in (True, False)
    )
    assert fast == whole and fast["Global"] > 0  # per module (an op may differ: mm + add for addmm, same FLOPs)


# Table 10's standard deviations over the three seeds of each step.
PAPER_STD = [0.07, 0.07, 0.18, 0.08, 0.02, 0.03, 0.08, 0.14, 0.14, 0.06, 0.09, 0.09, 0.06]


def test_top1_change_and_its_standard_error_from_three_seeds():
    assert [s.paper_top1_std for s in ROADMAP] == PAPER_STD
    change, se = top1_change("05")  # 80.50 ± 0.02 -> 80.64 ± 0.03
    assert change == pytest.approx(0.14) and se == pytest.approx((0.02**2 + 0.03**2) ** 0.5 / 3**0.5)
    within = [s.id[:2] for s in ROADMAP[1:] if abs(top1_change(s)[0]) < 2 * top1_change(s)[1]]
    assert within == ["02", "08", "11"]
    for bad in ("00", "v2_tiny"):
        with pytest.raises(ValueError, match=f"top1_change needs a roadmap step after 00, got {get_step(bad).id}"):
            top1_change(bad)


def test_ids_in_paper_order():
    assert list(STEP_IDS) == EXPECTED_IDS
    assert [s.index for s in ROADMAP] == list(range(13))
    assert [(s.paper_gflops, s.paper_top1) for s in ROADMAP] == PAPER
    for s in ROADMAP:
        assert s.title and s.change.endswith(".")
        assert s.module.__name__ == f"convnext_steps.steps.step{s.id}"
        assert s.previous == (ROADMAP[s.index - 1].id if s.index else None)


@pytest.mark.parametrize("step", [s for s in ROADMAP if s.index <= 10], ids=lambda s: s.id)
def test_macs_match_paper_to_two_decimals(step, macs):
    assert round(macs[step.id] / 1e9, 2) == step.paper_gflops


@pytest.mark.parametrize("k", sorted(KERNEL_SWEEP))
def test_kernel_sweep_macs_match_paper(k):
    assert round(count_macs(build_model("07", kernel_size=k)) / 1e9, 2) == KERNEL_SWEEP[k][0]


def test_layernorm_and_final_step_macs(macs):
    # LN adds no multiply-adds: step 11 counts exactly what step 10 counts.
    assert macs["11_layernorm"] == macs["10_fewer_norms"]
    # The final step counts exactly what torchvision's ConvNeXt-T counts (4.456 G).
    assert macs["12_separate_downsampling"] == count_macs(torchvision.models.convnext_tiny())
    assert round(macs["12_separate_downsampling"] / 1e9, 3) == 4.456


def test_resnet50_macs_equal_torchvision(macs):
    assert macs["00_resnet50"] == count_macs(torchvision.models.resnet50())


def test_exact_parameter_counts():
    assert count_params(build_model(0)) == 25_557_032 == count_params(torchvision.models.resnet50())
    assert count_params(build_model(12)) == 28_589_128 == count_params(torchvision.models.convnext_tiny())


@pytest.mark.parametrize("step", ROADMAP, ids=lambda s: s.id)
def test_stage_shapes(step):
    model = step.build()
    width = step.config.stem_dim
    shapes = stage_shapes(model, 224)
    # Stem: 4x down (never stride 1); stages 1-4: 56, 28, 14, 7 - no downsampling before stage 1.
    assert shapes[0] == (width, 56, 56)
    assert shapes[1:] == [(d, 56 // 2**i, 56 // 2**i) for i, d in enumerate(step.config.dims)]
    assert model(torch.zeros(2, 3, 64, 64)).shape == (2, 1000)


def test_lookup_by_index_id_and_prefix():
    assert get_step(5).id == get_step("05_inverted_bottleneck").id == get_step("05").id == get_step("5").id
    assert get_step("12_sep") is ROADMAP[12]
    assert get_step(ROADMAP[3]) is ROADMAP[3]
    model = build_model("07", num_classes=10, kernel_size=5)
    assert model.head.out_features == 10
    assert model.stages[0].blocks[0].dwconv.kernel_size == (5, 5)


@pytest.mark.parametrize("bad", ["13", "99_nope", "resnet", 13, -1, ""])
def test_unknown_step_lists_valid_ids(bad):
    with pytest.raises(ValueError, match="valid ids: 00_resnet50, 01_stage_ratio.*12_separate_downsampling"):
        get_step(bad)


def test_wrong_step_type():
    with pytest.raises(TypeError, match="index, an id or an id prefix"):
        get_step(5.0)


def test_overrides_are_validated():
    with pytest.raises(ValueError, match="unknown config field.*'kernal_size'.*valid fields"):
        build_model("07", kernal_size=5)
    with pytest.raises(ValueError, match="has no layer scale"):
        build_model("05", layer_scale_init_value=1e-6)
    with pytest.raises(ValueError, match="num_classes must be positive"):
        build_model(0, num_classes=0)


@pytest.mark.parametrize("k", [4, 0, -3, 2.0])
def test_kernel_size_must_be_odd_and_positive(k):
    with pytest.raises(ValueError, match="kernel_size must be a positive odd integer"):
        build_model("07", kernel_size=k)


def test_negative_drop_path_rate():
    with pytest.raises(ValueError, match=r"drop_path_rate must be in \[0, 1\)"):
        build_model(12, drop_path_rate=-0.1)
