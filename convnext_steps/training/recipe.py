"""The training recipe: one typed, frozen `Recipe`, resolved in one place (`resolve_recipe`).

A run's recipe is a preset's defaults, then the options given, then the network's own defaults (drop path,
layer scale, EMA). Two presets (`--recipe`):

- "paper" (default): the paper's ImageNet-1K recipe (Appendix A.1; min_lr from the official code), lr scaled
  linearly with the effective batch / 4096.
- "small": for runs of minutes on small data. At batch 32 the paper's scaling gives a peak lr of 3e-5, and
  MixUp / CutMix / RandAugment / erasing / EMA need hundreds of epochs to pay off: a few epochs learn nothing.
  It keeps AdamW, the cosine schedule, weight decay and label smoothing, at a fixed lr (1e-3: at 2e-3 and batch
  32 the full-size ConvNeXt-T collapses to the uniform prediction), with light augmentation.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..explorer import build_variant, parse_changes, variant_name
from ..family import FAMILY, convnext
from ..roadmap import get_step

__all__ = [
    "FAMILY_NAMES",
    "Preset",
    "PRESETS",
    "Recipe",
    "ARCH_FIELDS",
    "resolve_recipe",
    "build_network",
    "has_batchnorm",
    "option_name",
]

FAMILY_NAMES = tuple(f"convnext_{size}" for size in FAMILY)  # --model's choices


@dataclass(frozen=True)
class Preset:
    """A named set of recipe defaults; each one is overridden by its option when that is given."""

    name: str
    epochs: int
    batch_size: int  # per process and micro-step
    lr: float  # peak lr; with `lr_batch`, quoted at that effective batch and scaled linearly to the run's
    min_lr: float  # final cosine lr, scaled like `lr`
    lr_batch: int | None
    warmup_fraction: float  # warm-up length as a fraction of the run
    weight_decay: float
    label_smoothing: float
    crop_scale: float  # random-resized crop: the smallest area it keeps
    mixup: float
    cutmix: float
    randaug_ops: int
    randaug_magnitude: int
    reprob: float
    ema: bool | None  # None: on, except for networks with BatchNorm (where the paper finds it hurts)
    ema_decay: float
    drop_path: float | None  # None: the network's own rate (0.1 for the steps, the family member's)


PAPER = Preset(
    "paper",
    epochs=300,
    batch_size=128,
    lr=4e-3,
    min_lr=1e-6,
    lr_batch=4096,
    warmup_fraction=20 / 300,
    weight_decay=0.05,
    label_smoothing=0.1,
    crop_scale=0.08,
    mixup=0.8,
    cutmix=1.0,
    randaug_ops=2,
    randaug_magnitude=9,
    reprob=0.25,
    ema=None,
    ema_decay=0.9999,
    drop_path=None,
)
# The paper's recipe with what only pays over 300 epochs switched off, and an lr that works at small batch.
SMALL = dataclasses.replace(
    PAPER,
    name="small",
    epochs=10,
    batch_size=32,
    lr=1e-3,
    min_lr=1e-5,
    lr_batch=None,
    warmup_fraction=0.1,
    crop_scale=0.35,
    mixup=0.0,
    cutmix=0.0,
    randaug_ops=0,
    reprob=0.0,
    ema=False,
    drop_path=0.0,
)
PRESETS = {"paper": PAPER, "small": SMALL}


@dataclass(frozen=True)
class Recipe:
    """Every choice that decides a run's numbers. Stored in its checkpoints; a resume must not change any."""

    preset: str
    step: str | None  # a roadmap step's full id; exactly one of step, model and changes is set
    model: str | None  # a ConvNeXt family member, e.g. "convnext_tiny"
    changes: str | None  # an explorer variant: ResNet-50 plus these change ids, sorted, e.g. "02,03,07"
    depths: tuple[int, ...] | None  # None: the step's / member's own
    dims: tuple[int, ...] | None
    stem_dim: int | None
    kernel_size: int | None
    drop_path: float
    layer_scale: float | None  # None: the network has no layer scale
    data: str
    data_root: str
    imagenette_size: str
    synthetic_train: int
    synthetic_val: int
    image_size: int
    crop_pct: float
    crop_scale: float
    epochs: int
    warmup_epochs: float
    batch_size: int
    accum_steps: int
    lr: float
    min_lr: float
    weight_decay: float
    label_smoothing: float
    mixup: float
    cutmix: float
    randaug_ops: int
    randaug_magnitude: int
    reprob: float
    ema: bool
    ema_decay: float
    sync_bn: bool
    amp: str  # "bf16", "fp16" or "off"
    seed: int
    world_size: int  # processes; with batch_size and accum_steps it fixes the data order and the batch

    def __post_init__(self):
        if [self.step, self.model, self.changes].count(None) != 2:
            raise ValueError(ONE_NETWORK)
        if self.min_lr > self.lr:
            raise ValueError(f"--min-lr {self.min_lr} is above the peak lr {self.lr}")
        if self.warmup_epochs >= self.epochs:
            raise ValueError(f"--warmup-epochs {self.warmup_epochs} must be shorter than --epochs {self.epochs}")
        if not 0 <= self.randaug_magnitude <= 30:
            raise ValueError(
                f"--randaug-magnitude must be in 0..30 (torchvision's 31 bins), got {self.randaug_magnitude}"
            )

    @property
    def network(self) -> str:
        """What the run trains, as the banner and a sweep name it."""
        return self.step or self.model or variant_name(change_ids(self.changes))

    @property
    def effective_batch(self) -> int:
        return self.batch_size * self.accum_steps * self.world_size

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping, source: str = "the checkpoint") -> Recipe:
        names = [f.name for f in dataclasses.fields(cls)]
        if isinstance(values, Mapping) and "changes" not in values:
            values = {**values, "changes": None}  # written before variants could be trained
        if not isinstance(values, Mapping) or set(values) != set(names):
            found = sorted(values) if isinstance(values, Mapping) else type(values).__name__
            raise ValueError(f"{source} holds no recipe of this version (expected the fields {names}, found {found})")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}  # JSON gives lists
        return cls(**values)


ARCH_FIELDS = ("step", "model", "changes", "depths", "dims", "stem_dim", "kernel_size", "drop_path", "layer_scale")
OPTION_FIELDS = tuple(f.name for f in dataclasses.fields(Recipe) if f.name != "world_size")
ONE_NETWORK = (
    "give exactly one of --step (a roadmap step, e.g. 12), --changes (a variant: ResNet-50 plus changes, "
    "e.g. 02,03,07) and --model (e.g. convnext_tiny)"
)


def option_name(field: str) -> str:
    """The command-line option that sets a recipe field."""
    return "--recipe" if field == "preset" else "--" + field.replace("_", "-")


def resolve_recipe(
    options: Mapping | argparse.Namespace,
    world_size: int = 1,
    device_type: str = "cpu",
    saved: Recipe | Mapping | None = None,
) -> Recipe:
    """The run's complete recipe from the options given (None or absent: not given).

    Fresh: the preset's defaults, the options given over them, then the network's own defaults, all checked.
    Resume (`saved`, a checkpoint's recipe): `saved` itself, each option given required to equal it.
    """
    given = _given(options)
    if saved is not None:
        return _same_run(given, saved if isinstance(saved, Recipe) else Recipe.from_dict(saved), world_size)
    if [given["step"], given["model"], given["changes"]].count(None) != 2:
        raise ValueError(ONE_NETWORK)
    if given["data"] is None:
        raise ValueError("--data is required: 'synthetic', 'imagenette' or an ImageFolder directory")
    if given["model"] is not None and any(given[k] is not None for k in ("depths", "dims", "stem_dim")):
        raise ValueError("--depths/--dims/--stem-dim override roadmap steps; --model takes the family member's")
    values = _defaults(given, world_size, device_type)
    values.update(_network_defaults(values))
    if values["amp"] == "fp16" and device_type == "cpu":
        raise ValueError("--amp fp16 needs a GPU; use --amp bf16 or off on CPU")
    if values["sync_bn"] and device_type != "cuda" and world_size > 1:
        raise ValueError("--sync-bn works on GPUs only (torch's SyncBatchNorm); drop it for CPU runs")
    return Recipe(**values)


def _given(options: Mapping | argparse.Namespace) -> dict[str, Any]:
    options = vars(options) if isinstance(options, argparse.Namespace) else options
    given = {k: options.get(k) for k in OPTION_FIELDS}
    for k in ("depths", "dims"):
        given[k] = tuple(given[k]) if given[k] is not None else None
    if given["step"] is not None:
        given["step"] = get_step(given["step"]).id  # "12" -> "12_separate_downsampling"; ValueError lists the ids
    if given["changes"] is not None:
        given["changes"] = canonical_changes(given["changes"])
    if given["preset"] is not None and given["preset"] not in PRESETS:
        raise ValueError(f"unknown recipe {given['preset']!r}; valid recipes: {', '.join(PRESETS)}")
    return given


def change_ids(changes: str) -> tuple[str, ...]:
    """The ids in a recipe's `changes` ("" is ResNet-50 itself)."""
    return tuple(changes.split(",")) if changes else ()


def canonical_changes(text: str) -> str:
    """A --changes value as the recipe stores it: the explorer's change ids, sorted ("7,kernel_7x7,2" -> "02,07")."""
    try:
        return ",".join(sorted(parse_changes(text)))
    except ValueError as e:
        raise ValueError(f"--changes {text}: {e}") from None


def _defaults(given: dict, world_size: int, device_type: str) -> dict[str, Any]:
    """The preset's values and the data defaults, with the options given over them; lr scaled as the preset says."""
    preset = PRESETS[given["preset"] or "paper"]
    values = {
        **dict.fromkeys(OPTION_FIELDS),
        "preset": preset.name,
        "data_root": "data",
        "imagenette_size": "320px",
        "synthetic_train": 2000,
        "synthetic_val": 500,
        "image_size": 224,
        "crop_pct": 1.0 if given["data"] == "synthetic" else 0.875,
        "accum_steps": 1,
        "sync_bn": False,
        "amp": "bf16" if device_type == "cuda" else "off",
        "seed": 0,
        **{
            f.name: getattr(preset, f.name)
            for f in dataclasses.fields(Preset)
            if f.name in OPTION_FIELDS and f.name not in ("lr", "min_lr")
        },  # those two are scaled below
    }
    values.update({k: v for k, v in given.items() if v is not None})
    values["world_size"] = world_size
    scale = values["batch_size"] * values["accum_steps"] * world_size / preset.lr_batch if preset.lr_batch else 1.0
    if values["lr"] is None:
        values["lr"] = preset.lr * scale
    if values["min_lr"] is None:
        values["min_lr"] = min(preset.min_lr * scale, values["lr"])
    if values["warmup_epochs"] is None:
        values["warmup_epochs"] = values["epochs"] * preset.warmup_fraction
    return values


def _network_defaults(values: dict) -> dict[str, Any]:
    """Drop path, layer scale and EMA where neither preset nor options set them: the network's own."""
    with torch.device("meta"):  # the network's config and layers, without allocating its weights
        network = _build(values, num_classes=1)
    config, found = network.config, {}
    if values["drop_path"] is None:
        found["drop_path"] = config.drop_path_rate
    if values["layer_scale"] is None:
        found["layer_scale"] = config.layer_scale_init_value
    if values["ema"] is None:
        found["ema"] = not has_batchnorm(network)
    if values["image_size"] < config.reduction:
        raise ValueError(
            f"--image-size {values['image_size']} is too small: the network downsamples by {config.reduction}"
        )
    return found


def _same_run(given: dict, saved: Recipe, world_size: int) -> Recipe:
    if _differences(given, saved, ARCH_FIELDS):
        raise ValueError(f"the checkpoint holds another architecture: {_differences(given, saved, ARCH_FIELDS)}")
    if _differences(given, saved, OPTION_FIELDS):
        raise ValueError(
            "options differ from the checkpoint's (leave them out to take the checkpoint's): "
            + _differences(given, saved, OPTION_FIELDS)
        )
    if saved.world_size != world_size:
        raise ValueError(
            f"the checkpoint was written by {saved.world_size} process(es); resume it with the same "
            f"number (now {world_size}) so the data order and batch stay the same"
        )
    return saved


def _differences(given: dict, saved: Recipe, fields) -> str:
    """Each option given that differs from the saved recipe, with both values, as the user would type them."""
    return ", ".join(
        f"{option_name(k)} {_show(given[k])} (checkpoint: {_show(getattr(saved, k))})"
        for k in fields
        if given[k] is not None and given[k] != getattr(saved, k)
    )


def _show(value) -> str:
    return " ".join(map(str, value)) if isinstance(value, tuple) else str(value)  # as typed on the command line


def build_network(recipe: Recipe, num_classes: int) -> nn.Module:
    """The recipe's network, freshly initialised."""
    return _build(recipe.to_dict(), num_classes)


def _build(values: Mapping, num_classes: int) -> nn.Module:
    overrides = {k: values[k] for k in ("depths", "dims", "stem_dim", "kernel_size") if values[k] is not None}
    if values["drop_path"] is not None:
        overrides["drop_path_rate"] = values["drop_path"]
    if values["layer_scale"] is not None:
        overrides["layer_scale_init_value"] = values["layer_scale"]
    if values["model"] is not None:
        return convnext(values["model"].removeprefix("convnext_"), num_classes, **overrides)
    if values.get("changes") is not None:
        return build_variant(change_ids(values["changes"]), None, num_classes, **overrides)
    return get_step(values["step"]).build(num_classes, **overrides)


def has_batchnorm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
