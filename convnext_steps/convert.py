"""Weight conversion, in one place: read checkpoints in other libraries' layouts into our networks.

Each layout is one function that renames one of *our* state-dict keys to that layout's key. Loading
inverts it over the target model's own keys, so a layout needs only that one direction, and exporting
(`export_state_dict`) is the same function applied forwards: the official layout round-trips.

Layouts recognised:
- "ours": this package's own keys (`stem.conv`, `stages.i.blocks.j.dwconv`, ...).
- "torchvision-resnet": torchvision's (and timm's) ResNet keys (`conv1`, `layer1.0.conv1`, `fc`), step 00.
- "torchvision-convnext": torchvision's ConvNeXt (`features.*`, `classifier.*`), final step and family.
- "timm-convnext": timm's ConvNeXt (`stem.0`, `stages.i.blocks.j.conv_dw`, `mlp.fc1`, `head.fc`), and its
  ConvNeXt V2 (`mlp.grn.weight`).
- "official": facebookresearch/ConvNeXt (`downsample_layers.*`, `stages.i.j.dwconv`, `gamma`, `norm`, `head`), and
  facebookresearch/ConvNeXt-V2 (`stages.i.j.grn.gamma`, shaped (1, 1, 1, C) there).
- "official-isotropic": facebookresearch/ConvNeXt's isotropic models (`stem`, `blocks.j.dwconv`, `norm`, `head`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping

import torch
from torch import nn

from .checkpoint import read_checkpoint, state_dict_from

__all__ = [
    "LAYOUTS",
    "KEY_PATTERNS",
    "detect_layout",
    "convert_state_dict",
    "load_weights",
    "fitting_layouts",
    "export_state_dict",
]


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
    key = re.sub(
        r"^stages\.(\d)\.blocks\.(\d+)\.gamma$", lambda m: f"features.{2 * int(m[1]) + 1}.{m[2]}.layer_scale", key
    )
    key = re.sub(
        r"^stages\.(\d)\.blocks\.(\d+)\.(\w+)\.",
        lambda m: f"features.{2 * int(m[1]) + 1}.{m[2]}.{_TV_BLOCK.get(m[3], m[3])}.",
        key,
    )
    key = re.sub(r"^norm\.", "classifier.0.", key)
    return re.sub(r"^head\.", "classifier.2.", key)


_TIMM_BLOCK = {"dwconv": "conv_dw", "pwconv1": "mlp.fc1", "pwconv2": "mlp.fc2", "grn": "mlp.grn"}
_TIMM_GRN = {"gamma": "weight", "beta": "bias"}


def _timm_convnext(key: str) -> str:
    key = re.sub(r"^stem\.conv\.", "stem.0.", key)
    key = re.sub(r"^stem\.norm\.", "stem.1.", key)
    key = re.sub(r"\.downsample\.norm\.", ".downsample.0.", key)
    key = re.sub(r"\.downsample\.conv\.", ".downsample.1.", key)
    key = re.sub(r"^(stages\.\d\.blocks\.\d+)\.(\w+)", lambda m: f"{m[1]}.{_TIMM_BLOCK.get(m[2], m[2])}", key)
    key = re.sub(r"\.grn\.(gamma|beta)$", lambda m: f".grn.{_TIMM_GRN[m[1]]}", key)
    key = re.sub(r"^norm\.", "head.norm.", key)
    return re.sub(r"^head\.(weight|bias)$", r"head.fc.\1", key)


def _official(key: str) -> str:
    key = re.sub(r"^stem\.conv\.", "downsample_layers.0.0.", key)
    key = re.sub(r"^stem\.norm\.", "downsample_layers.0.1.", key)
    key = re.sub(r"^stages\.(\d)\.downsample\.norm\.", r"downsample_layers.\1.0.", key)
    key = re.sub(r"^stages\.(\d)\.downsample\.conv\.", r"downsample_layers.\1.1.", key)
    return re.sub(r"^stages\.(\d)\.blocks\.", r"stages.\1.", key)


def _official_isotropic(key: str) -> str:
    key = re.sub(r"^stem\.conv\.", "stem.", key)
    return re.sub(r"^stages\.0\.blocks\.", "blocks.", key)


# name -> (rename one of our keys into the layout, a key only that layout has)
LAYOUTS: dict[str, tuple[Callable[[str], str], str]] = {
    "ours": (_ours, "stem.conv.weight"),
    "torchvision-resnet": (_torchvision_resnet, "layer1.0.conv1.weight"),
    "torchvision-convnext": (_torchvision_convnext, "features.0.0.weight"),
    "timm-convnext": (_timm_convnext, "stem.0.weight"),
    "official": (_official, "downsample_layers.0.0.weight"),
    "official-isotropic": (_official_isotropic, "blocks.0.dwconv.weight"),
}

_BN = r"(weight|bias|running_mean|running_var|num_batches_tracked)"
_WB = r"(weight|bias)"
# name -> every key that layout's own networks can have; a model fits a layout when all its exported keys match.
KEY_PATTERNS: dict[str, re.Pattern] = {
    name: re.compile(pattern)
    for name, pattern in {
        "ours": r"(stem|norm)\.[\w.]+|stages\.\d+\.(downsample|blocks\.\d+)\.[\w.]+|head\.(weight|bias)",
        "torchvision-resnet": rf"conv1\.weight|bn1\.{_BN}|fc\.{_WB}|layer\d+\.\d+\."
        rf"(conv[123]\.weight|bn[123]\.{_BN}|downsample\.0\.weight|downsample\.1\.{_BN})",
        "torchvision-convnext": rf"features\.\d+\.[01]\.{_WB}|features\.\d+\.\d+\.(block\.[0235]\.{_WB}|layer_scale)"
        rf"|classifier\.[02]\.{_WB}",
        "timm-convnext": rf"stem\.[01]\.{_WB}|stages\.\d+\.downsample\.[01]\.{_WB}|head\.(norm|fc)\.{_WB}"
        rf"|stages\.\d+\.blocks\.\d+\.(conv_dw\.{_WB}|norm\.{_WB}|mlp\.(fc[12]|grn)\.{_WB}|gamma)",
        "official": rf"downsample_layers\.\d+\.[01]\.{_WB}"
        rf"|stages\.\d+\.\d+\.((dwconv|norm|pwconv1|pwconv2)\.{_WB}|gamma|grn\.(gamma|beta))|norm\.{_WB}|head\.{_WB}",
        "official-isotropic": rf"stem\.{_WB}|blocks\.\d+\.((dwconv|norm|pwconv1|pwconv2)\.{_WB}|gamma)"
        rf"|norm\.{_WB}|head\.{_WB}",
    }.items()
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


def _first(keys, n: int = 5) -> str:
    keys = sorted(keys)
    return ", ".join(keys[:n]) + (f" ... (+{len(keys) - n} more)" if len(keys) > n else "")


def convert_state_dict(model: nn.Module, state_dict: Mapping[str, torch.Tensor], layout: str | None = None):
    """`state_dict` (in any known layout) renamed and reshaped to `model`'s keys; checks everything first.

    Returns (converted state dict, detected layout). Raises a ValueError naming the layout and the first
    missing / unexpected / mis-shaped keys when the checkpoint does not fit the model exactly.
    """
    state_dict = state_dict_from(state_dict, "the given object")
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


def load_weights(model: nn.Module, path_or_state_dict, layout: str | None = None, ema: bool = False) -> str:
    """Load a state dict or checkpoint file in any known layout into `model`, strictly.

    Files are read safely (`checkpoint.load_file`: weights_only, or safetensors). A checkpoint may
    be bare or wrap its weights ('model', 'state_dict', 'model_ema', a whole official training checkpoint);
    `ema=True` takes the EMA weights instead, and raises a ValueError when there are none. The model is left
    untouched unless every tensor fits. Returns the detected layout's name.
    """
    if isinstance(path_or_state_dict, (str, os.PathLike)):
        state_dict = read_checkpoint(path_or_state_dict, ema=ema)
    else:
        state_dict = state_dict_from(path_or_state_dict, "the given object", ema=ema)
    converted, layout = convert_state_dict(model, state_dict, layout)
    model.load_state_dict(converted, strict=True)
    return layout


def fitting_layouts(model: nn.Module) -> list[str]:
    """The layouts every one of `model`'s keys has a counterpart in."""
    keys = list(model.state_dict())
    return [name for name, (rename, _) in LAYOUTS.items() if all(KEY_PATTERNS[name].fullmatch(rename(k)) for k in keys)]


def export_state_dict(model: nn.Module, layout: str = "official") -> dict[str, torch.Tensor]:
    """`model`'s weights renamed into another layout (shapes as ours; torchvision's layer_scale reshaped).

    ValueError when the model does not fit the layout: some key would have no counterpart in that layout's
    networks (e.g. ResNet-50's BatchNorm statistics in the official ConvNeXt layout).
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; valid layouts: {', '.join(LAYOUTS)}")
    rename, vocabulary = LAYOUTS[layout][0], KEY_PATTERNS[layout]
    out, misfits = {}, []
    for key, tensor in model.state_dict().items():
        theirs = rename(key)
        if not vocabulary.fullmatch(theirs):
            misfits.append(f"{key} -> {theirs}")
        if layout == "torchvision-convnext" and key.endswith(".gamma"):
            tensor = tensor.reshape(-1, 1, 1)
        if layout == "official" and key.endswith((".grn.gamma", ".grn.beta")):
            tensor = tensor.reshape(1, 1, 1, -1)  # the official GRN's (1, 1, 1, C)
        out[theirs] = tensor
    if misfits:
        fits = fitting_layouts(model)
        raise ValueError(
            f"this {type(model).__name__} does not fit the {layout!r} layout: {len(misfits)} of its "
            f"{len(out)} tensors have no counterpart there ({_first(misfits, 3)}); layouts it fits: "
            + (", ".join(fits) or "none")
        )
    return out
