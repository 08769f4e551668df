"""Weight conversion, in one place: read checkpoints in other libraries' layouts into our networks.

Each layout is one function that renames one of *our* state-dict keys to that layout's key. Loading
inverts it over the target model's own keys, so a layout needs only that one direction, and exporting
(`export_state_dict`) is the same function applied forwards: the official layout round-trips.

Layouts recognised:
- "ours": this package's own keys (`stem.conv`, `stages.i.blocks.j.dwconv`, ...).
- "torchvision-resnet": torchvision's (and timm's) ResNet keys (`conv1`, `layer1.0.conv1`, `fc`), step 00.
- "torchvision-convnext": torchvision's ConvNeXt (`features.*`, `classifier.*`), final step and family.
- "timm-convnext": timm's ConvNeXt (`stem.0`, `stages.i.blocks.j.conv_dw`, `mlp.fc1`, `head.fc`).
- "official": facebookresearch/ConvNeXt (`downsample_layers.*`, `stages.i.j.dwconv`, `gamma`, `norm`, `head`).
"""
from __future__ import annotations

import contextlib
import os
import re
from typing import Callable, Mapping

import torch
from torch import nn

__all__ = ["LAYOUTS", "detect_layout", "load_file", "read_checkpoint", "save_atomic", "convert_state_dict", "load_weights", "export_state_dict"]


def _ours(key: str) -> str:
    return key


_TV_BOTTLENECK = {"pwconv1": "conv1", "conv": "conv2", "pwconv2": "conv3", "shortcut": "downsample"}


def _torchvision_resnet(key: str) -> str:
    key = re.sub(r"^stem\.conv\.", "conv1.", key)
    key = re.sub(r"^stem\.norm\.", "bn1.", key)
    key = re.sub(
        r"^stages\.(\d)\.blocks\.(\d+)\.(\w+)\.",
        lambda m: f"layer{int(m[1]) + 1}.{m[2]}.{_TV_BOTTLENECK.get(m[3], m[3])}.",
        key,
    )
    return re.sub(r"^head\.", "fc.", key)


_TV_BLOCK = {"dwconv": "block.0", "norm": "block.2", "pwconv1": "block.3", "pwconv2": "block.5"}


def _torchvision_convnext(key: str) -> str:
    key = re.sub(r"^stem\.conv\.", "features.0.0.", key)
    key = re.sub(r"^stem\.norm\.", "features.0.1.", key)
    key = re.sub(r"^stages\.(\d)\.downsample\.norm\.", lambda m: f"features.{2 * int(m[1])}.0.", key)
    key = re.sub(r"^stages\.(\d)\.downsample\.conv\.", lambda m: f"features.{2 * int(m[1])}.1.", key)
    key = re.sub(r"^stages\.(\d)\.blocks\.(\d+)\.gamma$", lambda m: f"features.{2 * int(m[1]) + 1}.{m[2]}.layer_scale", key)
    key = re.sub(
        r"^stages\.(\d)\.blocks\.(\d+)\.(\w+)\.",
        lambda m: f"features.{2 * int(m[1]) + 1}.{m[2]}.{_TV_BLOCK.get(m[3], m[3])}.",
        key,
    )
    key = re.sub(r"^norm\.", "classifier.0.", key)
    return re.sub(r"^head\.", "classifier.2.", key)


_TIMM_BLOCK = {"dwconv": "conv_dw", "pwconv1": "mlp.fc1", "pwconv2": "mlp.fc2"}


def _timm_convnext(key: str) -> str:
    key = re.sub(r"^stem\.conv\.", "stem.0.", key)
    key = re.sub(r"^stem\.norm\.", "stem.1.", key)
    key = re.sub(r"\.downsample\.norm\.", ".downsample.0.", key)
    key = re.sub(r"\.downsample\.conv\.", ".downsample.1.", key)
    key = re.sub(r"^(stages\.\d\.blocks\.\d+)\.(\w+)", lambda m: f"{m[1]}.{_TIMM_BLOCK.get(m[2], m[2])}", key)
    key = re.sub(r"^norm\.", "head.norm.", key)
    return re.sub(r"^head\.(weight|bias)$", r"head.fc.\1", key)


def _official(key: str) -> str:
    key = re.sub(r"^stem\.conv\.", "downsample_layers.0.0.", key)
    key = re.sub(r"^stem\.norm\.", "downsample_layers.0.1.", key)
    key = re.sub(r"^stages\.(\d)\.downsample\.norm\.", r"downsample_layers.\1.0.", key)
    key = re.sub(r"^stages\.(\d)\.downsample\.conv\.", r"downsample_layers.\1.1.", key)
    return re.sub(r"^stages\.(\d)\.blocks\.", r"stages.\1.", key)


# name -> (rename one of our keys into the layout, a key only that layout has)
LAYOUTS: dict[str, tuple[Callable[[str], str], str]] = {
    "ours": (_ours, "stem.conv.weight"),
    "torchvision-resnet": (_torchvision_resnet, "layer1.0.conv1.weight"),
    "torchvision-convnext": (_torchvision_convnext, "features.0.0.weight"),
    "timm-convnext": (_timm_convnext, "stem.0.weight"),
    "official": (_official, "downsample_layers.0.0.weight"),
}


def detect_layout(state_dict: Mapping[str, torch.Tensor]) -> str:
    """Name of the layout whose signature key the state dict has; ValueError if none matches."""
    for name, (_, signature) in LAYOUTS.items():
        if signature in state_dict:
            return name
    sample = ", ".join(list(state_dict)[:5]) or "(no keys)"
    raise ValueError(
        f"unrecognised checkpoint layout (first keys: {sample}); expected one of: "
        + ", ".join(f"{name} (has {signature!r})" for name, (_, signature) in LAYOUTS.items())
    )


def _unwrap(obj, source: str) -> dict[str, torch.Tensor]:
    """The state dict inside a checkpoint: bare, or under 'model' / 'state_dict' / 'model_ema'."""
    for wrapper in ("model", "state_dict", "model_ema"):
        if isinstance(obj, Mapping) and wrapper in obj and isinstance(obj[wrapper], Mapping):
            obj = obj[wrapper]
            break
    if not isinstance(obj, Mapping) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(f"{source} holds no state dict (expected a mapping of parameter names to tensors)")
    prefix = "module."  # saved from a DistributedDataParallel wrapper
    if all(k.startswith(prefix) for k in obj):
        obj = {k[len(prefix):]: v for k, v in obj.items()}
    return dict(obj)


def load_file(path: str | os.PathLike):
    """Whatever the checkpoint file at `path` holds, read safely: torch.load(weights_only=True), or safetensors.

    FileNotFoundError when it is missing, ValueError when it is corrupt, foreign or an unsafe pickle.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        if path.endswith(".safetensors"):
            from safetensors.torch import load_file as load_safetensors  # optional: timm's hub format

            return load_safetensors(path, device="cpu")
        return torch.load(path, map_location="cpu", weights_only=True)
    except ImportError as e:
        raise ValueError(f"reading {path} needs the 'safetensors' package ({e})") from e
    except Exception as e:  # torch raises many types for truncated or foreign files
        raise ValueError(f"cannot read checkpoint {path}: corrupt or not a PyTorch checkpoint "
                         f"({type(e).__name__}: {str(e).split('. ')[0]})") from e


def read_checkpoint(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The state dict stored at `path` (bare, or under 'model' / 'state_dict' / 'model_ema')."""
    return _unwrap(load_file(path), os.fspath(path))


def save_atomic(path: str | os.PathLike, write: Callable | object) -> None:
    """Write `path` all at once: into a temp file in the same folder, fsync, then os.replace.

    `write` is a function given the open binary file, or an object to `torch.save`. A crash leaves the
    previous file intact (and at worst a stray temp file), never a half-written one.
    """
    folder, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # 0o666 & ~umask, like open()
    try:
        with os.fdopen(fd, "wb") as f:
            write(f) if callable(write) else torch.save(write, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _first(keys, n: int = 5) -> str:
    keys = sorted(keys)
    return ", ".join(keys[:n]) + (f" ... (+{len(keys) - n} more)" if len(keys) > n else "")


def convert_state_dict(model: nn.Module, state_dict: Mapping[str, torch.Tensor], layout: str | None = None):
    """`state_dict` (in any known layout) renamed and reshaped to `model`'s keys; checks everything first.

    Returns (converted state dict, detected layout). Raises a ValueError naming the layout and the first
    missing / unexpected / mis-shaped keys when the checkpoint does not fit the model exactly.
    """
    state_dict = _unwrap(state_dict, "the given object")
    layout = layout or detect_layout(state_dict)
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; valid layouts: {', '.join(LAYOUTS)}")
    rename = LAYOUTS[layout][0]
    target = model.state_dict()
    theirs_to_ours = {rename(k): k for k in target}
    missing = [ours for theirs, ours in theirs_to_ours.items() if theirs not in state_dict]
    unexpected = [k for k in state_dict if k not in theirs_to_ours]
    converted, mis_shaped = {}, []
    for theirs, ours in theirs_to_ours.items():
        if theirs not in state_dict:
            continue
        tensor, want = state_dict[theirs], target[ours]
        # Same values, other shape: torchvision's layer_scale is (C, 1, 1) where ours is (C,).
        if tensor.shape != want.shape and [d for d in tensor.shape if d != 1] == [d for d in want.shape if d != 1]:
            tensor = tensor.reshape(want.shape)
        if tensor.shape != want.shape:
            mis_shaped.append(f"{theirs} {tuple(tensor.shape)} vs {tuple(want.shape)}")
        converted[ours] = tensor
    if missing or unexpected or mis_shaped:
        problems = []
        if missing:
            problems.append(f"missing keys: {_first(missing)}")
        if unexpected:
            problems.append(f"unexpected keys: {_first(unexpected)}")
        if mis_shaped:
            problems.append(f"shape mismatches (checkpoint vs model): {_first(mis_shaped, 3)}")
        raise ValueError(
            f"checkpoint in {layout!r} layout does not fit this {type(model).__name__} "
            f"({len(target)} tensors expected, {len(state_dict)} given): " + "; ".join(problems)
        )
    return converted, layout


def load_weights(model: nn.Module, state_dict_or_path, layout: str | None = None) -> str:
    """Load a state dict or checkpoint file in any known layout into `model`, strictly.

    The model is left untouched unless every tensor fits. Returns the detected layout's name.
    """
    if isinstance(state_dict_or_path, (str, os.PathLike)):
        state_dict = read_checkpoint(state_dict_or_path)
    else:
        state_dict = state_dict_or_path
    converted, layout = convert_state_dict(model, state_dict, layout)
    model.load_state_dict(converted, strict=True)
    return layout


def export_state_dict(model: nn.Module, layout: str = "official") -> dict[str, torch.Tensor]:
    """`model`'s weights renamed into another layout (shapes as ours; torchvision's layer_scale reshaped)."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; valid layouts: {', '.join(LAYOUTS)}")
    rename = LAYOUTS[layout][0]
    out = {}
    for key, tensor in model.state_dict().items():
        theirs = rename(key)
        if layout == "torchvision-convnext" and key.endswith(".gamma"):
            tensor = tensor.reshape(-1, 1, 1)
        out[theirs] = tensor
    return out
