"""The ConvNeXt family (paper, Table 1 / Section 3): step 12's network at other depths and widths.

Stochastic-depth defaults are the paper's ImageNet-1K rates (T/S/B/L: 0.1/0.4/0.5/0.5); XL, which the
paper trains only with ImageNet-22K pre-training, uses its 22K rate (0.2).
"""

from __future__ import annotations

from dataclasses import dataclass

from .network import Network
from .steps.step12_separate_downsampling import CONFIG as CONVNEXT_T

__all__ = [
    "FamilyMember",
    "FAMILY",
    "convnext",
    "convnext_tiny",
    "convnext_small",
    "convnext_base",
    "convnext_large",
    "convnext_xlarge",
]


@dataclass(frozen=True)
class FamilyMember:
    depths: tuple[int, ...]
    dims: tuple[int, ...]
    drop_path_rate: float


FAMILY = {
    "tiny": FamilyMember((3, 3, 9, 3), (96, 192, 384, 768), 0.1),
    "small": FamilyMember((3, 3, 27, 3), (96, 192, 384, 768), 0.4),
    "base": FamilyMember((3, 3, 27, 3), (128, 256, 512, 1024), 0.5),
    "large": FamilyMember((3, 3, 27, 3), (192, 384, 768, 1536), 0.5),
    "xlarge": FamilyMember((3, 3, 27, 3), (256, 512, 1024, 2048), 0.2),
}


def convnext(
    size: str,
    num_classes: int = 1000,
    drop_path_rate: float | None = None,
    layer_scale_init_value: float = 1e-6,
    **overrides,
) -> Network:
    """ConvNeXt-`size` (tiny/small/base/large/xlarge); `drop_path_rate=None` takes the paper's rate."""
    if size not in FAMILY:
        raise ValueError(f"unknown ConvNeXt size {size!r}; valid sizes: {', '.join(FAMILY)}")
    member = FAMILY[size]
    rate = member.drop_path_rate if drop_path_rate is None else drop_path_rate
    fields = dict(depths=member.depths, dims=member.dims, drop_path_rate=rate) | overrides
    fields.setdefault("stem_dim", fields["dims"][0])  # the stem is as wide as the first stage, unless told
    return Network(CONVNEXT_T.replace(layer_scale_init_value=layer_scale_init_value, **fields), num_classes)


def convnext_tiny(**kwargs) -> Network:
    return convnext("tiny", **kwargs)


def convnext_small(**kwargs) -> Network:
    return convnext("small", **kwargs)


def convnext_base(**kwargs) -> Network:
    return convnext("base", **kwargs)


def convnext_large(**kwargs) -> Network:
    return convnext("large", **kwargs)


def convnext_xlarge(**kwargs) -> Network:
    return convnext("xlarge", **kwargs)
