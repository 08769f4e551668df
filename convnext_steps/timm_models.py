"""The steps in timm: importing this module registers every roadmap step, extension and family member with timm.

    >>> import timm, convnext_steps.timm_models
    >>> model = timm.create_model("convnext_steps_05_inverted_bottleneck", num_classes=10, drop_path_rate=0.1)
    >>> backbone = timm.create_model("convnext_steps_12_separate_downsampling", features_only=True)

Names: `convnext_steps_` + the step id (`convnext_steps_00_resnet50` ... `convnext_steps_12_separate_downsampling`,
`convnext_steps_isotropic_s`, `convnext_steps_v2_tiny`) and `convnext_steps_convnext_<size>` for the family
(`timm.list_models("convnext_steps_*")`). Keyword arguments are timm's (`num_classes`, `in_chans`, `drop_rate`,
`drop_path_rate`, `features_only`, `out_indices`) or fields of the step's `NetConfig` (`depths`, `dims`,
`kernel_size`, ...), checked as `build_model` checks them. There are no pretrained weights: a step is trained here
(`python -m convnext_steps train`) or with timm's own `train.py`, which this module runs with the models registered:
`python -m convnext_steps.timm_models path/to/pytorch-image-models/train.py --model convnext_steps_05_... ...`
(docs/deployment.md). timm has no plugin entry point, so something must import this module first.

`TimmNetwork` is `Network` with timm's model interface. Its state dict is the Network's, key for key, and its
outputs are the Network's; only `forward_features` follows timm (the unpooled last feature map, as timm's ConvNeXt
returns it) instead of the official ConvNeXt code (the pooled, normalised vector), and `forward_head` does the rest.
"""

from __future__ import annotations

import contextlib
import runpy
import sys
from collections.abc import Sequence

import torch
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from torch import nn

from .backbone import feature_info, take_indices
from .family import FAMILY
from .network import NetConfig, Network, check_input
from .roadmap import ALL_STEPS, Step, get_step

__all__ = ["TimmNetwork", "MODEL_NAMES", "model_name"]

torch.fx.wrap("check_input")  # a leaf of torch.fx graphs here too (see network.check_input)

PAPER = "A ConvNet for the 2020s (Liu et al., 2022)"


class TimmNetwork(Network):
    """A step's network with timm's interface: `num_classes=0` (no classifier), `drop_rate` (dropout before it),
    `reset_classifier`, `get_classifier`, `forward_features` / `forward_head`, `forward_intermediates`,
    `feature_info` and `prune_intermediate_layers` (what timm's `features_only=True` uses)."""

    def __init__(self, config: NetConfig, num_classes: int = 1000, drop_rate: float = 0.0, global_pool: str = "avg"):
        if num_classes < 0:
            raise ValueError(f"num_classes must be >= 0 (0: no classifier), got {num_classes}")
        if not 0.0 <= drop_rate < 1.0:
            raise ValueError(f"drop_rate must be in [0, 1), got {drop_rate}")
        super().__init__(config, max(num_classes, 1))
        _check_pool(global_pool)
        self.global_pool = global_pool
        self.drop_rate = drop_rate
        self.head_drop = nn.Dropout(drop_rate)  # timm's classifier dropout; no parameters, so no state-dict key
        self.head_hidden_size = self.num_features
        self.feature_info = feature_info(config)
        if num_classes == 0:
            self.reset_classifier(0)

    def get_classifier(self) -> nn.Module:
        return self.head

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """A new, freshly initialised classifier for `num_classes` classes (0: none, forward gives the features)."""
        if num_classes < 0:
            raise ValueError(f"num_classes must be >= 0 (0: no classifier), got {num_classes}")
        if global_pool is not None:
            _check_pool(global_pool)
        self.num_classes = num_classes
        self.head = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()
        if num_classes > 0:
            nn.init.trunc_normal_(self.head.weight, std=0.02)
            nn.init.zeros_(self.head.bias)

    def group_matcher(self, coarse: bool = False) -> dict:
        """Parameter groups for timm's layer-wise learning-rate decay (`--layer-decay`), stem first, head last."""
        return {
            "stem": r"^stem",
            "blocks": r"^stages\.(\d+)"
            if coarse
            else [
                (r"^stages\.(\d+)\.downsample", (0,)),
                (r"^stages\.(\d+)\.blocks\.(\d+)", None),
                (r"^norm", (99999,)),
            ],
        }

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        if enable:
            raise NotImplementedError("gradient checkpointing is not implemented for convnext_steps models")

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last stage's feature map, (N, C, H/32, W/32) for the roadmap's steps (timm's convention)."""
        check_input(x, self.in_chans, self.reduction)
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.norm(x.mean((-2, -1)))  # global average pooling, then the head norm (step 12 on)
        x = self.head_drop(x)
        return x if pre_logits else self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def forward_intermediates(
        self,
        x: torch.Tensor,
        indices: int | Sequence[int] | None = None,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
    ) -> list[torch.Tensor] | tuple[torch.Tensor, list[torch.Tensor]]:
        """The stage outputs in `indices` (timm's meaning); `norm` changes nothing: no norm acts on the maps."""
        if output_fmt != "NCHW":
            raise ValueError(f"output_fmt must be 'NCHW', got {output_fmt!r}")
        take = take_indices(len(self.stages), indices)
        check_input(x, self.in_chans, self.reduction)
        intermediates = []
        x = self.stem(x)
        stages = self.stages[: take[-1] + 1] if stop_early or intermediates_only else self.stages
        for i, stage in enumerate(stages):
            x = stage(x)
            if i in take:
                intermediates.append(x)
        return intermediates if intermediates_only else (x, intermediates)

    def prune_intermediate_layers(
        self, indices: int | Sequence[int] = 1, prune_norm: bool = False, prune_head: bool = True
    ) -> list[int]:
        """Drop the stages after the last one in `indices` and (with `prune_head`) the head; the kept indices."""
        take = take_indices(len(self.stages), indices)
        self.stages = self.stages[: take[-1] + 1]
        self.reduction = self.config.stem_stride * 2 ** take[-1]
        if prune_head or prune_norm or take[-1] < len(self.feature_info) - 1:
            self.norm = nn.Identity()  # the head norm is sized for the pooled last stage
            self.num_features = self.head_hidden_size = self.feature_info[take[-1]]["num_chs"]
            self.reset_classifier(0)
        return take


def _check_pool(global_pool: str) -> None:
    if global_pool != "avg":
        raise ValueError(f"global_pool must be 'avg' (the paper's global average pooling), got {global_pool!r}")


def model_name(step: Step | str) -> str:
    """timm's name for a step: `convnext_steps_` + its id."""
    return f"convnext_steps_{get_step(step).id}"


def _pretrained_cfg(reduction: int, description: str) -> dict:
    side = 224 // reduction
    return {
        "url": "",  # no weights: trained here or by timm's train.py
        "num_classes": 1000,
        "input_size": (3, 224, 224),
        "pool_size": (side, side),
        "crop_pct": 0.875,
        "interpolation": "bicubic",
        "mean": IMAGENET_DEFAULT_MEAN,
        "std": IMAGENET_DEFAULT_STD,
        "first_conv": "stem.conv",
        "classifier": "head",
        "license": "mit",
        "description": description,
        "paper_ids": "arXiv:2201.03545",
        "paper_name": PAPER,
    }


def _build(config_with, num_classes: int = 1000, in_chans: int = 3, drop_rate: float = 0.0, global_pool="avg",
           device=None, dtype=None, **overrides) -> TimmNetwork:  # fmt: skip
    config = config_with(in_chans=in_chans, **overrides)
    with torch.device(device) if device is not None else contextlib.nullcontext():
        model = TimmNetwork(config, num_classes, drop_rate, global_pool)
    return model.to(dtype) if dtype is not None else model


def _create(name: str, config_with, num_stages: int, pretrained: bool = False, **kwargs) -> nn.Module:
    if pretrained:
        raise ValueError(
            f"{name} has no pretrained weights: train it (python -m convnext_steps train, or timm's train.py), or "
            "create it with checkpoint_path=... to load a checkpoint"
        )
    return build_model_with_cfg(
        lambda **kw: _build(config_with, **kw),
        name,
        pretrained=False,
        feature_cfg={"feature_cls": "getter", "out_indices": tuple(range(num_stages))},
        **kwargs,
    )


def _family_config_with(size: str):
    member = FAMILY[size]
    base = get_step("12")

    def config_with(**overrides) -> NetConfig:
        overrides = {
            "depths": member.depths,
            "dims": member.dims,
            "stem_dim": member.dims[0],
            "drop_path_rate": member.drop_path_rate,
            **overrides,
        }
        return base.config_with(**overrides)

    return config_with


def _entries() -> dict[str, tuple[object, int, dict]]:
    entries = {}
    for step in ALL_STEPS:
        description = f"{step.title}: {step.change} ({step.source})"
        entries[model_name(step)] = (
            step.config_with,
            len(step.config.depths),
            _pretrained_cfg(step.config.reduction, description),
        )
    for size, member in FAMILY.items():
        cfg = _pretrained_cfg(32, f"ConvNeXt-{size}: step 12 at depths {member.depths}, widths {member.dims} ({PAPER})")
        entries[f"convnext_steps_convnext_{size}"] = (_family_config_with(size), len(member.depths), cfg)
    return entries


_ENTRIES = _entries()
MODEL_NAMES: tuple[str, ...] = tuple(_ENTRIES)
# timm reads each entry point's pretrained config from its module's `default_cfgs`, by entry-point name.
default_cfgs = generate_default_cfgs({name: cfg for name, (_, _, cfg) in _ENTRIES.items()})


def _entry_point(name: str, config_with, num_stages: int):
    def create(pretrained: bool = False, **kwargs) -> nn.Module:
        return _create(name, config_with, num_stages, pretrained, **kwargs)

    create.__name__ = create.__qualname__ = name  # timm registers an entry point under its function's name
    create.__module__ = __name__
    create.__doc__ = f"timm entry point for {name}."
    return create


if __name__ != "__main__":  # run as a script, main() below imports (and so registers) the module by its own name
    for _name, (_config_with, _num_stages, _) in _ENTRIES.items():
        globals()[_name] = register_model(_entry_point(_name, _config_with, _num_stages))


def main(argv: list[str] | None = None) -> None:
    """Run a script (timm's train.py, validate.py, ...) with this package's models registered: `python -m
    convnext_steps.timm_models SCRIPT [ARGS...]`."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0].startswith("-"):
        print(
            "usage: python -m convnext_steps.timm_models SCRIPT.py [ARGS...]  (e.g. timm's train.py)", file=sys.stderr
        )
        raise SystemExit(2)
    sys.argv = list(argv)
    runpy.run_path(argv[0], run_name="__main__")


if __name__ == "__main__":
    from convnext_steps import timm_models

    timm_models.main()
