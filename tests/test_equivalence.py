"""Our networks against the reference implementations, with the same weights: logits must agree."""

import pytest
import timm
import torch
import torchvision
from conftest import randomize_
from timm.models.convnext import checkpoint_filter_fn

from convnext_steps import FAMILY, build_model, convnext, count_params, export_state_dict, load_weights
from convnext_steps.convert import convert_state_dict

TOL = 1e-5


def _logits(model, x):
    with torch.no_grad():
        return model.eval()(x)


@pytest.fixture(scope="module")
def x():
    return torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(7))


def test_step00_equals_torchvision_resnet50(x):
    ref = randomize_(torchvision.models.resnet50())
    ours = build_model(0)
    assert load_weights(ours, ref.state_dict()) == "torchvision-resnet"
    ref_out = _logits(ref, x)
    assert ref_out.std() > 0.1  # non-trivial weights: a wrong model could not match by accident
    assert (_logits(ours, x) - ref_out).abs().max() <= TOL


@pytest.mark.parametrize(
    "reference,layout",
    [
        (torchvision.models.convnext_tiny, "torchvision-convnext"),
        (lambda: timm.create_model("convnext_tiny"), "timm-convnext"),
    ],
    ids=["torchvision", "timm"],
)
def test_final_step_equals_reference_convnext_tiny(x, reference, layout):
    ref = randomize_(reference())
    ours = build_model(12)
    assert load_weights(ours, ref.state_dict()) == layout
    ref_out = _logits(ref, x)
    assert ref_out.std() > 0.1
    assert (_logits(ours, x) - ref_out).abs().max() <= TOL


def test_official_layout_round_trips_and_matches_timm_converter(x):
    ours = randomize_(build_model(12))
    official = export_state_dict(ours, "official")
    assert "downsample_layers.0.0.weight" in official and "stages.2.8.gamma" in official
    assert "stages.0.0.pwconv1.weight" in official and {"norm.weight", "head.weight"} <= set(official)
    again = build_model(12)
    assert load_weights(again, official) == "official"
    for key, tensor in ours.state_dict().items():
        assert torch.equal(again.state_dict()[key], tensor), key
    # Independent check of the official key names: timm's own converter for facebookresearch checkpoints.
    ref = timm.create_model("convnext_tiny")
    ref.load_state_dict(checkpoint_filter_fn({"model": official}, ref))
    assert (_logits(ref, x) - _logits(ours, x)).abs().max() <= TOL


@pytest.mark.parametrize("layout", ["torchvision-convnext", "timm-convnext", "ours"])
def test_export_then_load_is_identity(layout):
    ours = randomize_(build_model(12))
    again = build_model(12)
    assert load_weights(again, export_state_dict(ours, layout)) == layout
    assert all(torch.equal(again.state_dict()[k], v) for k, v in ours.state_dict().items())


def test_checkpoint_wrappers_are_unwrapped(tmp_path):
    ours = randomize_(build_model(12))
    path = tmp_path / "official.pth"
    torch.save({"model": export_state_dict(ours, "official")}, path)  # how facebookresearch ships them
    again = build_model(12)
    assert load_weights(again, path) == "official"
    ddp = {f"module.{k}": v for k, v in ours.state_dict().items()}  # saved from a DDP wrapper
    assert load_weights(build_model(12), {"state_dict": ddp}) == "ours"


@pytest.mark.parametrize(
    "size,reference",
    [
        ("tiny", torchvision.models.convnext_tiny),
        ("small", torchvision.models.convnext_small),
        ("base", torchvision.models.convnext_base),
        ("large", torchvision.models.convnext_large),
        ("xlarge", lambda: timm.create_model("convnext_xlarge")),
    ],
)
def test_family_matches_references(size, reference):
    with torch.device("meta"):  # shapes and counts only: no memory, no init time
        ref, ours = reference(), convnext(size)
    assert count_params(ours) == count_params(ref)
    convert_state_dict(ours, ref.state_dict())  # raises unless every key and shape agrees


def test_family_small_logits_equal_torchvision():
    ref = randomize_(torchvision.models.convnext_small())
    ours = convnext("small")
    load_weights(ours, ref.state_dict())
    small = torch.randn(1, 3, 64, 64)
    assert (_logits(ours, small) - _logits(ref, small)).abs().max() <= TOL


def test_family_parameter_counts():
    with torch.device("meta"):
        counts = {size: count_params(convnext(size)) for size in FAMILY}
    assert counts == {
        "tiny": 28_589_128,
        "small": 50_223_688,
        "base": 88_591_464,
        "large": 197_767_336,
        "xlarge": 350_196_968,
    }


def test_family_options():
    with torch.device("meta"):
        model = convnext("small", drop_path_rate=0.3, layer_scale_init_value=0.0)
        base = convnext("base")
    rates = [b.drop_path.p for s in model.stages for b in s.blocks]
    assert rates[0] == 0.0 and rates[-1] == pytest.approx(0.3) and len(rates) == 36
    assert all(b.gamma is None for s in model.stages for b in s.blocks)
    assert base.stages[3].blocks[2].drop_path.p == pytest.approx(0.5)  # the paper's B rate
    with pytest.raises(ValueError, match="unknown ConvNeXt size 'huge'; valid sizes: tiny, small, base, large, xlarge"):
        convnext("huge")


def test_family_member_takes_any_config_override():
    # A member's own depths and widths give way to the caller's; the stem follows the first width unless told.
    with torch.device("meta"):
        narrow = convnext("small", dims=(64, 128, 256, 512))
        shallow = convnext("base", depths=(1, 1, 3, 1), drop_path_rate=0.0)
        with pytest.raises(ValueError, match="this block keeps width and resolution, got 96 -> 128 channels"):
            convnext("base", stem_dim=96)  # step 12's first stage does not downsample: the stem must match it
    assert narrow.config.dims == (64, 128, 256, 512) and narrow.config.stem_dim == 64
    assert narrow.config.depths == (3, 3, 27, 3) and narrow.stages[-1].blocks[-1].drop_path.p == pytest.approx(0.4)
    assert shallow.config.depths == (1, 1, 3, 1) and shallow.config.dims == (128, 256, 512, 1024)


@pytest.mark.parametrize("step", range(13))
def test_models_are_built_from_this_package_only(step):
    for module in build_model(step).modules():
        origin = type(module).__module__
        assert origin.startswith(("convnext_steps.", "torch.nn.", "torchvision.ops.")), (
            f"{type(module).__name__} from {origin}"
        )
