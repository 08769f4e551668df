"""Bad input gets a clear error naming what was expected, and nothing is lost."""

import pytest
import torch
import torchvision

from convnext_steps import build_model, export_state_dict, load_weights
from convnext_steps.checkpoint import read_checkpoint


@pytest.fixture(scope="module")
def convnext_t():
    return build_model(12).eval()


def test_wrong_channel_count(convnext_t):
    with pytest.raises(ValueError, match=r"expected 3 input channels \(N, 3, H, W\), got 1"):
        convnext_t(torch.zeros(1, 1, 64, 64))
    with pytest.raises(ValueError, match=r"expected a 4-D batch"):
        convnext_t(torch.zeros(3, 64, 64))


def test_input_too_small(convnext_t):
    with pytest.raises(ValueError, match="31x64 is too small.*downsamples by 32.*at least 32"):
        convnext_t(torch.zeros(1, 3, 31, 64))


@pytest.mark.parametrize("step", [0, 5, 11, 12])
@pytest.mark.parametrize("size", [(32, 32), (33, 47), (40, 96)])
def test_any_supported_size_at_least_32_works(step, size):
    model = build_model(step, num_classes=7).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, *size)).shape == (2, 7)


def test_other_in_chans():
    model = build_model(12, in_chans=1, num_classes=2).eval()
    assert model(torch.zeros(1, 1, 32, 32)).shape == (1, 2)


def _snapshot(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_checkpoint_of_another_architecture(convnext_t):
    before = _snapshot(convnext_t)
    resnet = torchvision.models.resnet50().state_dict()
    with pytest.raises(ValueError, match=r"'torchvision-resnet' layout does not fit.*missing keys: .*unexpected keys"):
        load_weights(convnext_t, resnet)
    assert all(torch.equal(convnext_t.state_dict()[k], v) for k, v in before.items())  # untouched


def test_checkpoint_of_another_size_is_refused_before_anything_is_copied(convnext_t):
    before = _snapshot(convnext_t)
    with torch.device("meta"):  # ConvNeXt-T's depths at ConvNeXt-B's widths, saved in torchvision's layout
        wider = export_state_dict(build_model(12, stem_dim=128, dims=(128, 256, 512, 1024)), "torchvision-convnext")
    wider = {k: torch.zeros(v.shape) for k, v in wider.items()}
    with pytest.raises(
        ValueError, match=r"'torchvision-convnext' layout.*shape mismatches.*classifier\.0\.bias \(1024,\) vs \(768,\)"
    ):
        load_weights(convnext_t, wider)
    assert all(torch.equal(convnext_t.state_dict()[k], v) for k, v in before.items())


def test_step_mismatch_names_layout_and_keys():
    resnet = torchvision.models.resnet50().state_dict()
    with pytest.raises(ValueError, match=r"'torchvision-resnet' layout does not fit.*unexpected keys: layer2\.3"):
        load_weights(build_model(1), resnet)  # step 01 has (3, 3, 9, 3) blocks, ResNet-50 (3, 4, 6, 3)


def test_unrecognised_layout(convnext_t):
    with pytest.raises(ValueError, match=r"unrecognised checkpoint layout \(first keys: encoder\.weight\).*official"):
        load_weights(convnext_t, {"encoder.weight": torch.zeros(3)})
    with pytest.raises(ValueError, match="unknown layout 'keras'"):
        load_weights(convnext_t, convnext_t.state_dict(), layout="keras")


def test_missing_file(convnext_t, tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint not found: .*nope.pt"):
        load_weights(convnext_t, tmp_path / "nope.pt")


def test_corrupt_file(convnext_t, tmp_path):
    path = tmp_path / "corrupt.pt"
    path.write_bytes(b"this is not a checkpoint" * 10)
    with pytest.raises(ValueError, match="cannot read checkpoint .*corrupt.pt"):
        load_weights(convnext_t, path)


def test_truncated_file(convnext_t, tmp_path):
    path = tmp_path / "truncated.pt"
    torch.save(convnext_t.state_dict(), path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError, match="cannot read checkpoint"):
        read_checkpoint(path)


def test_file_without_state_dict(tmp_path):
    path = tmp_path / "list.pt"
    torch.save([torch.zeros(2)], path)
    with pytest.raises(ValueError, match="holds no state dict"):
        read_checkpoint(path)


def test_unsafe_pickle_is_refused(tmp_path):
    path = tmp_path / "pickle.pt"
    torch.save({"model": {"w": torch.zeros(1)}, "note": object()}, path)  # arbitrary objects: not weights_only
    with pytest.raises(ValueError, match="cannot read checkpoint"):
        read_checkpoint(path)
