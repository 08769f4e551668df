"""Checkpoints from outside: official training checkpoints (args, optimizer, EMA) load with weights_only and an
explicit allowlist; refusals name the refused object; nothing in a malicious pickle runs; exporting checks
that the model fits the layout, for every step and every layout."""

import argparse
import os

import pytest
import torch
import torchvision
from conftest import randomize_

from convnext_steps import LAYOUTS, build_model, export_state_dict, load_weights
from convnext_steps.checkpoint import SAFE_GLOBALS, load_file, read_checkpoint
from convnext_steps.convert import fitting_layouts

TINY = {"depths": (1, 1, 1, 1), "dims": (16, 32, 64, 128), "stem_dim": 16}


def _tiny12(scale=0.1):
    return randomize_(build_model(12, 10, **TINY), scale)


def _same(model, state_dict):
    return all(torch.equal(model.state_dict()[k], v) for k, v in state_dict.items())


@pytest.fixture
def official_training_checkpoint(tmp_path):
    """What facebookresearch/ConvNeXt's main.py saves (utils.save_model), built here: official-layout weights
    and EMA, the AdamW state, the epoch, the loss scaler and the command line as an argparse.Namespace."""
    model, ema = _tiny12(), _tiny12(scale=0.3)
    optimizer = torch.optim.AdamW(model.parameters(), lr=4e-3)
    model(torch.randn(2, 3, 32, 32)).sum().backward()
    optimizer.step()
    args = argparse.Namespace(
        model="convnext_tiny",
        batch_size=128,
        lr=4e-3,
        drop_path=0.1,
        input_size=224,
        model_ema=True,
        model_ema_decay=0.9999,
        output_dir="/checkpoint/convnext",
        seed=0,
        device="cuda",
        resume="",
        layer_scale_init_value=1e-6,
        update_freq=1,
        use_amp=False,
    )
    path = tmp_path / "checkpoint-best.pth"
    torch.save(
        {
            "model": export_state_dict(model, "official"),
            "optimizer": optimizer.state_dict(),
            "epoch": 299,
            "scaler": torch.amp.GradScaler("cpu").state_dict(),
            "args": args,
            "model_ema": export_state_dict(ema, "official"),
        },
        path,
    )
    return path, model, ema


def test_official_training_checkpoint_loads_model_or_ema(official_training_checkpoint):
    path, model, ema = official_training_checkpoint
    assert argparse.Namespace in SAFE_GLOBALS
    again = build_model(12, 10, **TINY)
    assert load_weights(again, path) == "official" and _same(again, model.state_dict())
    assert load_weights(again, path, ema=True) == "official" and _same(again, ema.state_dict())
    assert not _same(again, model.state_dict())  # the EMA's weights really are other weights
    whole = load_file(path)  # everything in it, read with weights_only and the Namespace allowed
    assert whole["epoch"] == 299 and whole["args"].model == "convnext_tiny" and whole["optimizer"]["state"]


def test_the_namespace_is_allowed_only_while_loading(official_training_checkpoint):
    with pytest.raises(Exception, match="argparse.Namespace"):
        torch.load(official_training_checkpoint[0], weights_only=True)  # torch's own default stays strict


def test_ema_only_checkpoint_and_missing_ema(tmp_path):
    ema = _tiny12()
    torch.save({"model_ema": export_state_dict(ema, "official")}, tmp_path / "ema.pth")
    for take_ema in (False, True):  # the only weights there: taken either way
        again = build_model(12, 10, **TINY)
        assert load_weights(again, tmp_path / "ema.pth", ema=take_ema) == "official" and _same(again, ema.state_dict())
    torch.save({"model": ema.state_dict(), "epoch": 3}, tmp_path / "plain.pth")
    with pytest.raises(
        ValueError,
        match=r"plain.pth holds no EMA weights \(looked for 'model_ema', 'state_dict_ema', "
        r"'ema'; found: 'model', 'epoch'\)",
    ):
        load_weights(build_model(12, 10, **TINY), tmp_path / "plain.pth", ema=True)
    with pytest.raises(ValueError, match="the given object holds no EMA weights"):
        load_weights(build_model(12, 10, **TINY), ema.state_dict(), ema=True)


def test_timm_style_ema_key_and_ddp_prefix():
    model = _tiny12()
    checkpoint = {"state_dict": {}, "state_dict_ema": {f"module.{k}": v for k, v in model.state_dict().items()}}
    again = build_model(12, 10, **TINY)
    assert load_weights(again, checkpoint, ema=True) == "ours" and _same(again, model.state_dict())


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("zipfile", [True, False], ids=["zip", "legacy"])
def test_malicious_pickle_is_refused_and_nothing_runs(tmp_path, zipfile):
    marker, path = tmp_path / "code_ran", tmp_path / "evil.pt"
    torch.save(
        {"model": {"w": torch.zeros(1)}, "payload": _RunsCode(marker)}, path, _use_new_zipfile_serialization=zipfile
    )
    with pytest.raises(ValueError, match=f"cannot read checkpoint {path}: ") as refusal:
        load_weights(build_model(12, 10, **TINY), path)
    if zipfile:  # torch names the call it refused
        assert "refuses to unpickle `posix.system`: its module `posix` is blocked" in str(refusal.value)
    assert not marker.exists()
    with pytest.raises(ValueError):
        read_checkpoint(path)
    assert not marker.exists()


def test_unsafe_global_is_named_with_torchs_reason(tmp_path):
    path = tmp_path / "object.pt"
    torch.save({"model": {"w": torch.zeros(1)}, "note": object()}, path)
    with pytest.raises(
        ValueError,
        match=r"torch.load\(weights_only=True\) refuses to unpickle `builtins.object`: not "
        r"an allowed type .*allowed are tensors, numbers, strings, containers and "
        r"argparse.Namespace",
    ):
        read_checkpoint(path)


def test_what_the_file_holds_is_named_when_it_is_not_weights(tmp_path):
    torch.save({"model": {"w": torch.zeros(1), "step": 3}}, tmp_path / "mixed.pt")
    with pytest.raises(ValueError, match=r"mixed.pt\['model'\] holds no state dict .*'step' is a int"):
        read_checkpoint(tmp_path / "mixed.pt")
    with pytest.raises(ValueError, match=f"{tmp_path} is a directory; expected a checkpoint file"):
        read_checkpoint(tmp_path)


# Which steps fit which layout: every key of the step, renamed, is a key that layout's networks have.
FITS = {
    "ours": set(range(13)),
    "torchvision-resnet": {0, 1, 2},  # bottlenecks with a dense 3x3 conv (step 03 makes it depthwise)
    "torchvision-convnext": {12},
    "timm-convnext": {12},
    "official": {12},
    "official-isotropic": set(),  # the isotropic extensions only (tests/test_extensions.py)
}


@pytest.fixture(scope="module")
def every_step():
    with torch.device("meta"):  # names and shapes only: no memory, no init time
        return [build_model(step) for step in range(13)]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_export_checks_that_the_model_fits_the_layout(layout, every_step):
    for step, model in enumerate(every_step):
        if step in FITS[layout]:
            assert set(export_state_dict(model, layout)) == {LAYOUTS[layout][0](k) for k in model.state_dict()}
        else:
            with pytest.raises(
                ValueError,
                match=rf"does not fit the '{layout}' layout: \d+ of its \d+ tensors have "
                rf"no counterpart there .*; layouts it fits: ours",
            ):
                export_state_dict(model, layout)
        assert fitting_layouts(model) == [name for name in LAYOUTS if step in FITS[name]]
    with torch.device("meta"):
        resnet = torchvision.models.resnet50()  # not one of our networks
    assert fitting_layouts(resnet) == ["torchvision-resnet"]
    if layout != "torchvision-resnet":
        with pytest.raises(ValueError, match="layouts it fits: torchvision-resnet"):
            export_state_dict(resnet, layout)


def test_exports_load_into_the_reference_networks(every_step):
    with torch.device("meta"):  # strict loading checks every name and shape
        torchvision.models.resnet50().load_state_dict(export_state_dict(every_step[0], "torchvision-resnet"))
        torchvision.models.convnext_tiny().load_state_dict(export_state_dict(every_step[12], "torchvision-convnext"))


@pytest.mark.parametrize("kernel_size", [True, False, 3.0, "3", 4, 0])
def test_kernel_size_must_be_a_positive_odd_int(kernel_size):
    with pytest.raises(ValueError, match=f"kernel_size must be a positive odd integer .*got {kernel_size!r}"):
        build_model(7, kernel_size=kernel_size)
