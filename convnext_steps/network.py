"""The one network skeleton every roadmap step shares: stem -> stages -> norm -> head.

A step changes the network only through its `NetConfig`: which stem, block and
downsampling layer to use, and the widths and depths. Everything else (stage
wiring, the stochastic-depth schedule, weight init, input checks) lives here once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["NetConfig", "Network", "Stage", "check_input", "drop_path_rates"]


def _shape(shape: list[int]) -> str:
    """A shape as Python prints a tuple, "(1, 3, 224)", in eager code and TorchScript alike."""
    return "(" + ", ".join([str(d) for d in shape]) + ("," if len(shape) == 1 else "") + ")"


# A leaf in torch.fx graphs (create_feature_extractor), kept there although it returns nothing: the traced graph
# runs the check on real shapes.
@torch.fx.wrap
@torch.fx.node.has_side_effect
def check_input(x: torch.Tensor, in_chans: int, reduction: int) -> None:
    """Raise a ValueError naming what was expected when `x` cannot go through a network with these sizes.

    Skipped while torch.compile, torch.export or torch.jit.trace trace the network (dynamo cannot trace the raise
    with symbolic sizes; jit.trace would bake the branch in): an exported program checks its inputs against the
    sizes it was exported for, the layers check the rest.
    """
    if not torch.jit.is_scripting() and (torch.compiler.is_compiling() or torch.jit.is_tracing()):
        return
    if x.dim() != 4:
        raise ValueError(f"expected a 4-D batch (N, {in_chans}, H, W), got shape {_shape(x.shape)}")
    if x.shape[1] != in_chans:
        raise ValueError(
            f"expected {in_chans} input channels (N, {in_chans}, H, W), got {x.shape[1]} in shape {_shape(x.shape)}"
        )
    if min(x.shape[-2], x.shape[-1]) < reduction:
        raise ValueError(
            f"input {x.shape[-2]}x{x.shape[-1]} is too small: the network downsamples by {reduction}, "
            f"so height and width must each be at least {reduction}"
        )


def drop_path_rates(depths: tuple[int, ...], drop_path_rate: float) -> list[float]:
    """Per-block drop probability, rising linearly from 0 to `drop_path_rate` over all blocks."""
    return torch.linspace(0, drop_path_rate, sum(depths), device="cpu").tolist()


@dataclass(frozen=True)
class NetConfig:
    """Everything that tells one roadmap step's network from another's."""

    stem: Callable[..., nn.Module]  # stem(in_chans, out_dim)
    block: Callable[..., nn.Module]  # block(in_dim, dim, kernel_size, stride, drop_path[, layer_scale_init_value])
    depths: tuple[int, ...]
    dims: tuple[int, ...]  # output width of each stage
    stem_dim: int
    kernel_size: int = 3  # the block's spatial (k x k) conv
    downsample: Callable[..., nn.Module] | None = None  # separate layer between stages; None: stride-2 first block
    head_norm: Callable[[int], nn.Module] | None = None  # norm on the pooled features, before the classifier
    drop_path_rate: float = 0.0
    layer_scale_init_value: float | None = None  # None: the block has no layer scale
    in_chans: int = 3
    stem_stride: int = 4  # how much the stem downsamples: 4 for the roadmap, 16 for the isotropic nets

    def __post_init__(self):
        if len(self.depths) != len(self.dims) or not self.depths:
            raise ValueError(f"depths {self.depths} and dims {self.dims} must be non-empty and of equal length")
        if any(d < 1 for d in self.depths) or any(w < 1 for w in self.dims) or self.stem_dim < 1:
            raise ValueError(f"depths {self.depths}, dims {self.dims} and stem_dim {self.stem_dim} must be positive")
        if type(self.kernel_size) is not int or self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd integer (3, 5, 7, ...), got {self.kernel_size!r}")
        if not 0.0 <= self.drop_path_rate < 1.0:
            raise ValueError(f"drop_path_rate must be in [0, 1), got {self.drop_path_rate}")
        if self.layer_scale_init_value is not None and self.layer_scale_init_value < 0:
            raise ValueError(f"layer_scale_init_value must be >= 0, got {self.layer_scale_init_value}")
        if self.in_chans < 1:
            raise ValueError(f"in_chans must be positive, got {self.in_chans}")
        if type(self.stem_stride) is not int or self.stem_stride < 1:
            raise ValueError(f"stem_stride must be a positive integer, got {self.stem_stride!r}")

    def replace(self, **changes) -> NetConfig:
        """A copy with some fields changed; unknown field names raise a ValueError listing the valid ones."""
        valid = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - valid)
        if unknown:
            raise ValueError(f"unknown config field(s) {unknown}; valid fields: {sorted(valid)}")
        return dataclasses.replace(self, **changes)

    @property
    def reduction(self) -> int:
        """Total spatial downsampling of the network (stem x 2 per later stage)."""
        return self.stem_stride * 2 ** (len(self.depths) - 1)


class Stage(nn.Module):
    """One resolution stage: an optional downsampling layer, then residual blocks."""

    def __init__(self, downsample: nn.Module, blocks: list[nn.Module]):
        super().__init__()
        self.downsample = downsample
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.downsample(x))


class Network(nn.Module):
    """stem -> stages -> global average pool -> norm -> head, built from a `NetConfig`."""

    def __init__(self, config: NetConfig, num_classes: int = 1000):
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be positive, got {num_classes}")
        self.config = config  # read while building only: TorchScript cannot hold a NetConfig
        self.num_classes = num_classes
        self.in_chans = config.in_chans  # plain ints for the input check, which must trace and script
        self.reduction = config.reduction
        self.stem = config.stem(config.in_chans, config.stem_dim)

        rates = iter(drop_path_rates(config.depths, config.drop_path_rate))
        block_options = {"kernel_size": config.kernel_size}
        if config.layer_scale_init_value is not None:
            block_options["layer_scale_init_value"] = config.layer_scale_init_value

        self.stages = nn.ModuleList()
        in_dim = config.stem_dim
        for i, (depth, dim) in enumerate(zip(config.depths, config.dims)):
            stride = 1 if i == 0 else 2  # the stem already downsampled (stem_stride); never before stage 1
            downsample = nn.Identity()
            if config.downsample is not None and i > 0:
                downsample = config.downsample(in_dim, dim)
                in_dim, stride = dim, 1
            blocks = []
            for _ in range(depth):
                blocks.append(config.block(in_dim, dim, stride=stride, drop_path=next(rates), **block_options))
                in_dim, stride = dim, 1
            self.stages.append(Stage(downsample, blocks))

        self.num_features = in_dim  # width of the pooled features that the head reads
        self.norm = config.head_norm(in_dim) if config.head_norm is not None else nn.Identity()
        self.head = nn.Linear(in_dim, num_classes)
        self.apply(_init_weights)

    @torch.jit.export  # scripted models keep it
    def forward_stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Feature maps after the stem and after each stage (for shape checks and probing)."""
        check_input(x, self.in_chans, self.reduction)
        feats = [self.stem(x)]
        for stage in self.stages:
            feats.append(stage(feats[-1]))
        return feats

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.in_chans, self.reduction)
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return self.norm(x.mean((-2, -1)))  # global average pooling, (N, C, H, W) -> (N, C)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x))


def _init_weights(m: nn.Module) -> None:
    # One init for every step (ConvNeXt's), so that comparing steps compares architectures only.
    if isinstance(m, (nn.Conv2d, nn.Linear)):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
