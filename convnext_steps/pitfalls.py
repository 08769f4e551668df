"""Nine mistakes that re-implementations of the ResNet -> ConvNeXt walk-through make, built so they can be checked.

Each pitfall is a small piece of wrong code built from torch layers and this package's own parts, with a measure of
its consequence (how far the outputs move, how the multiply-adds or the shapes change); notebook 14 hands each to
the learner to fix, and `exercises.nb14` judges the fix. tests/test_pitfalls.py asserts that the correct piece
passes each check and the wrong one fails it:

1. GroupNorm(1, C) used as "LayerNorm": it normalises over (C, H, W) at once, not each pixel's C-vector.
2. A grouped 3x3 conv (ResNeXt's 32 groups) where step 03 needs a depthwise one (groups = channels).
3. A downsampling layer before stage 1 as well: 8x before the first stage, a 3x3 final map at 224, not 7x7.
4. Drop-path rates set per stage instead of rising linearly per block over the whole network.
5. The 4x4 patchify stem with its stride left at 1: overlapping windows and no downsampling.
6. `nn.LayerNorm(C)` applied to an NCHW tensor: it normalises the last axis, W, and runs only where W == C.
7. LayerNorm's eps left at PyTorch's 1e-5 instead of ConvNeXt's 1e-6: small activations come out shrunk.
8. The head norm forgotten: the pooled features go to the classifier unnormalised (and ConvNeXt weights do not load).
9. PyTorch's default init instead of ConvNeXt's trunc-normal(0.02): weight scales that depend on each layer's fan-in.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import LN_EPS, LayerNorm2d
from .measure import stage_shapes
from .network import Network
from .steps import step03_depthwise_conv, step11_layernorm, step12_separate_downsampling

__all__ = [
    "groupnorm_as_layernorm",
    "normalises_each_pixel",
    "grouped_bottleneck",
    "GROUPED_CONV_CONFIG",
    "spatial_convs",
    "is_depthwise",
    "stem_then_downsample",
    "EXTRA_DOWNSAMPLE_CONFIG",
    "final_map_size",
    "per_stage_drop_path_rates",
    "set_drop_path_rates",
    "rises_linearly_per_block",
    "stride1_patchify_stem",
    "STRIDE1_STEM_CONFIG",
    "stem_output_shape",
    "GroupNormAsLayerNorm",
    "LayerNormOnNCHW",
    "LayerNormEps1e5",
    "max_output_shift",
    "NO_HEAD_NORM_CONFIG",
    "pytorch_default_init",
    "convnext_init",
    "weight_stds",
]


# 1. GroupNorm(1, C) is not ConvNeXt's LayerNorm --------------------------------------------------------------


def groupnorm_as_layernorm(num_channels: int) -> nn.GroupNorm:
    """The pitfall: GroupNorm with one group, often called "LayerNorm for conv maps"."""
    return nn.GroupNorm(1, num_channels, eps=LN_EPS)


@torch.no_grad()
def normalises_each_pixel(norm: nn.Module, num_channels: int = 8, seed: int = 0, atol: float = 1e-4) -> bool:
    """True when `norm` (fresh affine: scale 1, shift 0) gives every pixel's C-vector mean 0 and variance 1.

    The test map has a different offset and scale at every pixel, as real feature maps do.
    """
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(2, num_channels, 5, 5, generator=generator)
    x = x * (0.5 + 2 * torch.rand(2, 1, 5, 5, generator=generator)) + 3 * torch.randn(2, 1, 5, 5, generator=generator)
    y = norm(x)
    mean, var = y.mean(1), y.var(1, unbiased=False)
    zero_mean = torch.allclose(mean, torch.zeros_like(mean), atol=atol)
    return zero_mean and torch.allclose(var, torch.ones_like(var), atol=atol)


# 2. Grouped instead of depthwise -------------------------------------------------------------------------------


def grouped_bottleneck(
    in_dim: int, dim: int, kernel_size: int, stride: int = 1, drop_path: float = 0.0, groups: int = 32
) -> nn.Module:
    """The pitfall: step 03's bottleneck with its kxk conv split into ResNeXt's 32 groups, not depthwise."""
    block = step03_depthwise_conv.Bottleneck(in_dim, dim, kernel_size, stride, drop_path)
    width = block.dwconv.in_channels
    block.dwconv = nn.Conv2d(
        width, width, kernel_size, stride=stride, padding=kernel_size // 2, groups=groups, bias=False
    )
    return block


GROUPED_CONV_CONFIG = step03_depthwise_conv.CONFIG.replace(block=grouped_bottleneck)


def spatial_convs(model: Network) -> list[nn.Conv2d]:
    """The blocks' kxk convs (k > 1): the layers step 03 makes depthwise."""
    return [
        m for stage in model.stages for m in stage.blocks.modules() if isinstance(m, nn.Conv2d) and m.kernel_size[0] > 1
    ]


def is_depthwise(conv: nn.Conv2d) -> bool:
    """One filter per channel: groups == in_channels == out_channels."""
    return conv.groups == conv.in_channels == conv.out_channels


# 3. A downsampler before stage 1 -------------------------------------------------------------------------------


def stem_then_downsample(in_chans: int, dim: int) -> nn.Module:
    """The pitfall: the patchify stem followed by one more LN + 2x2 stride-2 layer (5 reductions, not 4)."""
    stem = step11_layernorm.PatchifyStem(in_chans, dim)
    return nn.Sequential(stem, step12_separate_downsampling.Downsample(dim, dim))


EXTRA_DOWNSAMPLE_CONFIG = step12_separate_downsampling.CONFIG.replace(stem=stem_then_downsample)


def final_map_size(model: Network, image_size: int = 224) -> tuple[int, int]:
    """(H, W) of the last stage's feature map."""
    return stage_shapes(model, image_size)[-1][1:]


# 4. Per-stage drop-path rates ----------------------------------------------------------------------------------


def per_stage_drop_path_rates(depths: tuple[int, ...], drop_path_rate: float) -> list[float]:
    """The pitfall: one rate per stage (0 in stage 1 ... `drop_path_rate` in the last), flat within each stage."""
    last = len(depths) - 1
    return [drop_path_rate * i / max(last, 1) for i, depth in enumerate(depths) for _ in range(depth)]


def set_drop_path_rates(model: Network, rates: list[float]) -> Network:
    """Give the model's blocks these drop-path probabilities (one per block, in forward order)."""
    blocks = [block for stage in model.stages for block in stage.blocks]
    if len(rates) != len(blocks):
        raise ValueError(f"expected {len(blocks)} rates (one per block), got {len(rates)}")
    for block, p in zip(blocks, rates):
        block.drop_path.p = float(p)
    return model


def rises_linearly_per_block(rates: list[float], drop_path_rate: float, tol: float = 1e-6) -> bool:
    """True for the paper's schedule: 0 at the first block, `drop_path_rate` at the last, equal steps between."""
    if len(rates) < 2:
        return len(rates) == 1 and abs(rates[0]) <= tol
    step = drop_path_rate / (len(rates) - 1)
    return all(abs(p - i * step) <= tol for i, p in enumerate(rates))


# 5. A stride-1 "patchify" stem ---------------------------------------------------------------------------------


def stride1_patchify_stem(in_chans: int, dim: int) -> nn.Module:
    """The pitfall: step 11/12's stem with the 4x4 conv's stride left at its default of 1."""
    stem = step11_layernorm.PatchifyStem(in_chans, dim)
    stem.conv = nn.Conv2d(in_chans, dim, kernel_size=4)  # stride=4 forgotten
    return stem


STRIDE1_STEM_CONFIG = step12_separate_downsampling.CONFIG.replace(stem=stride1_patchify_stem)


@torch.no_grad()
def stem_output_shape(model: Network, image_size: int = 224) -> tuple[int, ...]:
    """(C, H, W) of the stem's output for one image (runs the stem only)."""
    x = torch.zeros(1, model.config.in_chans, image_size, image_size)
    return tuple(model.stem(x).shape[1:])


# 1 (as a class, for the checkers) and 6-9 ------------------------------------------------------------------------


class GroupNormAsLayerNorm(nn.GroupNorm):
    """Pitfall 1 as a layer: GroupNorm(1, C) under LayerNorm's signature."""

    def __init__(self, num_channels: int, eps: float = LN_EPS):
        super().__init__(1, num_channels, eps=eps)


class LayerNormOnNCHW(nn.LayerNorm):
    """Pitfall 6: `nn.LayerNorm(C)` on an (N, C, H, W) map, without moving the channels last. F.layer_norm
    normalises the trailing axis, W: it raises unless W == C, and where W == C it normalises the wrong axis."""

    def __init__(self, num_channels: int, eps: float = LN_EPS):
        super().__init__(num_channels, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)


class LayerNormEps1e5(LayerNorm2d):
    """Pitfall 7: ConvNeXt's LayerNorm with PyTorch's default eps, 1e-5, instead of 1e-6."""

    def __init__(self, num_channels: int, eps: float = 1e-5):
        super().__init__(num_channels, eps=eps)


@torch.no_grad()
def max_output_shift(wrong: nn.Module, right: nn.Module, x: torch.Tensor) -> float:
    """max |wrong(x) - right(x)| (eval mode), for a consequence in numbers."""
    return (wrong.eval()(x) - right.eval()(x)).abs().max().item()


# 8. The head norm forgotten
NO_HEAD_NORM_CONFIG = step12_separate_downsampling.CONFIG.replace(head_norm=None)


# 9. PyTorch's default init


def pytorch_default_init(m: nn.Module) -> None:
    """The pitfall: each conv and linear layer keeps (re-draws) PyTorch's default init, Kaiming-uniform with
    a = sqrt(5): weights uniform in +-1/sqrt(fan_in), biases uniform too."""
    if isinstance(m, (nn.Conv2d, nn.Linear)):
        m.reset_parameters()


def convnext_init(m: nn.Module) -> None:
    """ConvNeXt's init (the official `_init_weights`): trunc-normal(std 0.02) weights, zero biases."""
    if isinstance(m, (nn.Conv2d, nn.Linear)):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)


@torch.no_grad()
def weight_stds(model: nn.Module) -> dict[str, float]:
    """The standard deviation of each conv and linear layer's weights, by layer name."""
    return {n: m.weight.std().item() for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
