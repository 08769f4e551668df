"""A step as a backbone: the feature maps of its stages, for a detector's or a segmenter's neck.

The paper's second half (Sections 4.2 and 4.3, https://arxiv.org/abs/2201.03545) puts ConvNeXt under Mask R-CNN and
Cascade Mask R-CNN on COCO and under UperNet on ADE20K: each takes the output of the four stages, at strides 4, 8, 16
and 32 of the input, through a feature pyramid. `Backbone` gives any step (or extension, or family member) that
interface in timm's convention: `feature_info` declares each map's channels (`num_chs`), stride (`reduction`) and the
module that makes it (`module`), and `out_indices` picks the stages. The isotropic nets have one stage, so one scale
(stride 16): a pyramid on them needs upsampled and downsampled copies of that one map (as ViTDet builds), not ours.

>>> backbone = Backbone(build_model("12"), out_indices=(1, 2, 3))
>>> backbone.feature_info.channels(), backbone.feature_info.reduction()
([192, 384, 768], [8, 16, 32])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .network import NetConfig, Network, check_input

__all__ = ["FeatureInfo", "feature_info", "take_indices", "Backbone"]

torch.fx.wrap("check_input")  # a leaf of torch.fx graphs here too (see network.check_input)


class FeatureInfo(list):
    """A list of dicts (`num_chs`, `reduction`, `module`, `index`), one per output map, with timm's accessors."""

    def channels(self) -> list[int]:
        return [f["num_chs"] for f in self]

    def reduction(self) -> list[int]:
        return [f["reduction"] for f in self]

    def module_name(self) -> list[str]:
        return [f["module"] for f in self]


def feature_info(config: NetConfig) -> FeatureInfo:
    """Every stage's output: its width, its stride from the input (the stem's, then x2 per stage), its module."""
    return FeatureInfo(
        {"num_chs": dim, "reduction": config.stem_stride * 2**i, "module": f"stages.{i}", "index": i}
        for i, dim in enumerate(config.dims)
    )


def take_indices(num_stages: int, indices: int | Sequence[int] | None) -> list[int]:
    """Stage indices as timm reads them: None all, an int n the last n, a sequence those (negative from the end)."""
    if indices is None:
        return list(range(num_stages))
    if isinstance(indices, int) and not isinstance(indices, bool):
        if not 0 < indices <= num_stages:
            raise ValueError(
                f"cannot take the last {indices} stages of a network with {num_stages}{_scales(num_stages)}"
            )
        return list(range(num_stages - indices, num_stages))
    taken = []
    for i in indices:
        if isinstance(i, bool) or not isinstance(i, int) or not -num_stages <= i < num_stages:
            raise ValueError(
                f"out_indices {tuple(indices)}: stage index {i!r} is out of range for a network with {num_stages} "
                f"stage(s), valid: 0..{num_stages - 1} or -{num_stages}..-1{_scales(num_stages)}"
            )
        taken.append(i % num_stages)
    if not taken or len(set(taken)) != len(taken) or taken != sorted(taken):
        raise ValueError(f"out_indices {tuple(indices)} must name distinct stages, shallow to deep")
    return taken


def _scales(num_stages: int) -> str:
    return " (isotropic: one stage, so one scale)" if num_stages == 1 else ""


class Backbone(nn.Module):
    """A network's stem and stages, returning the feature maps of the stages in `out_indices` (all by default).

    The modules are the network's own (no copy), under the same names, so the backbone trains the network's weights
    and `feature_info`'s `module` names a module of both. Stages past the last one asked for, the pooling, the head
    norm and the classifier are left out.
    """

    def __init__(self, model: Network, out_indices: int | Sequence[int] | None = None):
        super().__init__()
        config = model.config
        indices = take_indices(len(config.depths), out_indices)
        self.stem = model.stem
        self.stages = nn.ModuleList(model.stages[: indices[-1] + 1])
        self.out_indices: list[int] = indices
        self.feature_info = FeatureInfo(feature_info(config)[i] for i in indices)
        self.in_chans = model.in_chans
        self.reduction = config.stem_stride * 2 ** indices[-1]  # the smallest input is the deepest stage's stride
        self.train(model.training)  # in the network's mode, not nn.Module's default (training)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        check_input(x, self.in_chans, self.reduction)
        features = []
        x = self.stem(x)
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.out_indices:
                features.append(x)
        return features
