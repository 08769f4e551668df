"""The roadmap of "A ConvNet for the 2020s" (Liu et al., 2022, Table 10 / Fig. 2) as data.

Each `Step` names its module (which holds only what that step introduces), the paper's figures for it,
and builds its network. GFLOPs are the paper's: one multiply-add counts as one FLOP, 224x224 input.
Top-1 is ImageNet-1K with the paper's 300-epoch recipe.

`EXTENSIONS` go past the paper's table, each written on top of step 12 in the same form: the same paper's
isotropic ConvNeXt-S/B/L (Section 3.3) and the ConvNeXt V2-T block (Woo et al. 2023). They are listed apart
(`ROADMAP` stays the paper's 13 steps), their figures are the published ones named in `source`, and
`get_step` / `build_model` find them by id or unambiguous id prefix ("isotropic_b", "v2").
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from .network import NetConfig, Network
from .steps import (
    ext_isotropic,
    ext_v2_grn,
    step00_resnet50,
    step01_stage_ratio,
    step02_patchify_stem,
    step03_depthwise_conv,
    step04_wider_96,
    step05_inverted_bottleneck,
    step06_dwconv_up,
    step07_kernel_7x7,
    step08_gelu,
    step09_fewer_activations,
    step10_fewer_norms,
    step11_layernorm,
    step12_separate_downsampling,
)

__all__ = ["Step", "ROADMAP", "STEP_IDS", "EXTENSIONS", "EXTENSION_IDS", "ALL_STEPS", "get_step", "build_model"]


@dataclass(frozen=True)
class Step:
    index: int
    id: str
    title: str
    change: str  # one sentence: what this step changes relative to the previous one
    paper_gflops: float
    paper_top1: float
    module: ModuleType
    previous: str | None = None  # id of the step this one changes (None: the starting point)
    config_name: str = "CONFIG"  # the module's NetConfig (a module may hold several: ext_isotropic)
    paper_params_m: float | None = None  # published parameters in millions (extensions; the roadmap counts them)
    source: str = "Liu et al. 2022, Table 10"  # where paper_gflops and paper_top1 come from

    @property
    def config(self) -> NetConfig:
        return getattr(self.module, self.config_name)

    def build(self, num_classes: int = 1000, **overrides) -> Network:
        """This step's network; `overrides` replace fields of its `NetConfig` (e.g. kernel_size=5)."""
        return Network(self.config_with(**overrides), num_classes)

    def config_with(self, **overrides) -> NetConfig:
        """This step's `NetConfig` with `overrides`, refused where they would not give this step's design."""
        if overrides.get("layer_scale_init_value") is not None and self.config.layer_scale_init_value is None:
            why = " (it arrives with the final step)" if self in ROADMAP else ""
            raise ValueError(f"step {self.id} has no layer scale{why}")
        config = self.config.replace(**overrides)
        if len(self.config.depths) == 1 and (len(config.depths) != 1 or config.stem_dim != config.dims[0]):
            raise ValueError(
                f"step {self.id} is isotropic: one stage, as wide as its stem; give one depth, one width and the "
                f"same stem width (e.g. depths=(6,), dims=(192,), stem_dim=192; --depths 6 --dims 192 --stem-dim 192 "
                f"on the command line), got depths {config.depths}, dims {config.dims}, stem_dim {config.stem_dim}"
            )
        return config


def _steps() -> tuple[Step, ...]:
    rows = [
        (
            "resnet50",
            "ResNet-50",
            "The starting point: torchvision's ResNet-50 (7x7 stem + max-pool, "
            "bottlenecks (3, 4, 6, 3), stride in the 3x3).",
            4.09,
            78.82,
            step00_resnet50,
        ),
        (
            "stage_ratio",
            "Stage compute ratio",
            "Blocks per stage (3, 4, 6, 3) -> (3, 3, 9, 3), Swin-T's 1:1:3:1.",
            4.53,
            79.36,
            step01_stage_ratio,
        ),
        (
            "patchify_stem",
            "Patchify stem",
            "The 7x7/2 conv + max-pool stem becomes a 4x4 conv with stride 4.",
            4.42,
            79.51,
            step02_patchify_stem,
        ),
        (
            "depthwise_conv",
            "Depthwise conv",
            "The bottleneck's 3x3 conv becomes depthwise (groups = channels).",
            2.35,
            78.28,
            step03_depthwise_conv,
        ),
        (
            "wider_96",
            "Width 64 -> 96",
            "The network widens from 64 to 96 base channels, Swin-T's width.",
            5.27,
            80.50,
            step04_wider_96,
        ),
        (
            "inverted_bottleneck",
            "Inverted bottleneck",
            "The block becomes narrow-wide-narrow: 1x1 96->384, depthwise 3x3 on 384, 1x1 384->96.",
            4.64,
            80.64,
            step05_inverted_bottleneck,
        ),
        (
            "dwconv_up",
            "Move the depthwise conv up",
            "The depthwise conv moves to the top of the block, before the two 1x1 convs.",
            4.07,
            79.92,
            step06_dwconv_up,
        ),
        ("kernel_7x7", "Kernel 7x7", "The depthwise kernel grows from 3x3 to 7x7.", 4.15, 80.57, step07_kernel_7x7),
        ("gelu", "ReLU -> GELU", "Every ReLU becomes a GELU.", 4.15, 80.62, step08_gelu),
        (
            "fewer_activations",
            "Fewer activations",
            "Only one GELU is left per block, between the two 1x1 convs.",
            4.15,
            81.27,
            step09_fewer_activations,
        ),
        (
            "fewer_norms",
            "Fewer norms",
            "Only one norm is left per block, after the depthwise conv.",
            4.15,
            81.41,
            step10_fewer_norms,
        ),
        ("layernorm", "BN -> LN", "Every BatchNorm becomes a LayerNorm over channels.", 4.46, 81.47, step11_layernorm),
        (
            "separate_downsampling",
            "Separate downsampling (ConvNeXt-T)",
            "Stages downsample with separate LN + 2x2 stride-2 convs, an LN precedes the head, and blocks gain "
            "layer scale.",
            4.49,
            81.97,
            step12_separate_downsampling,
        ),
    ]
    ids = [f"{i:02d}_{row[0]}" for i, row in enumerate(rows)]
    return tuple(
        Step(i, ids[i], title, change, gflops, top1, module, ids[i - 1] if i else None)
        for i, (_, title, change, gflops, top1, module) in enumerate(rows)
    )


ROADMAP: tuple[Step, ...] = _steps()
STEP_IDS: tuple[str, ...] = tuple(s.id for s in ROADMAP)


def _extensions() -> tuple[Step, ...]:
    final = ROADMAP[-1].id
    iso = "Liu et al. 2022, Table 2 (Sec. 3.3); the official README agrees"
    rows = [
        (
            "isotropic_s",
            "Isotropic ConvNeXt-S",
            "A 16x16 patchify stem, then one stage of 18 blocks at width 384 and "
            "no downsampling, like ViT-S; no layer scale.",
            ext_isotropic,
            "CONFIG_S",
            ext_isotropic.PAPER["S"],
            f"Liu et al. 2022, Table 2 (Sec. 3.3); the official README has top-1 {ext_isotropic.README['S'][2]}",
        ),
        (
            "isotropic_b",
            "Isotropic ConvNeXt-B",
            "A 16x16 patchify stem, then one stage of 18 blocks at width 768 and "
            "no downsampling, like ViT-B; no layer scale.",
            ext_isotropic,
            "CONFIG_B",
            ext_isotropic.PAPER["B"],
            iso,
        ),
        (
            "isotropic_l",
            "Isotropic ConvNeXt-L",
            "A 16x16 patchify stem, then one stage of 36 blocks at width 1024 and no downsampling, like ViT-L.",
            ext_isotropic,
            "CONFIG_L",
            ext_isotropic.PAPER["L"],
            iso,
        ),
        (
            "v2_tiny",
            "ConvNeXt V2-T block",
            "Each block normalises its hidden channels' responses with GRN after the GELU and drops layer scale.",
            ext_v2_grn,
            "CONFIG",
            ext_v2_grn.README["T"],
            "official ConvNeXt-V2 README (top-1 after FCMAE pre-training and fine-tuning)",
        ),
    ]
    return tuple(
        Step(len(ROADMAP) + i, id_, title, change, gflops, top1, module, final, config_name, params, source)
        for i, (id_, title, change, module, config_name, (params, gflops, top1), source) in enumerate(rows)
    )


# Past the paper's table: each written on top of step 12, listed apart from ROADMAP.
EXTENSIONS: tuple[Step, ...] = _extensions()
EXTENSION_IDS: tuple[str, ...] = tuple(s.id for s in EXTENSIONS)
ALL_STEPS: tuple[Step, ...] = ROADMAP + EXTENSIONS


def _valid_ids() -> str:
    return f"valid ids: {', '.join(STEP_IDS)}; extensions: {', '.join(EXTENSION_IDS)}"


def get_step(step: int | str | Step) -> Step:
    """A step by index (0-12), full id, or unambiguous id prefix ("05", "05_inv", "12_sep", "v2").

    Indices are the paper's roadmap only; an extension is found by its id or an id prefix ("isotropic_s").
    """
    if isinstance(step, Step):
        return step
    if isinstance(step, bool) or not isinstance(step, (int, str)):
        raise TypeError(f"step must be an index, an id or an id prefix, got {type(step).__name__}")
    if isinstance(step, int):
        if 0 <= step < len(ROADMAP):
            return ROADMAP[step]
        raise ValueError(f"step index {step} is out of range 0..{len(ROADMAP) - 1}; {_valid_ids()}")
    key = step.strip()
    if key.isdigit() and len(key) < 2:  # "5" means step 05
        key = key.zfill(2)
    matches = [s for s in ALL_STEPS if s.id == key] or [s for s in ALL_STEPS if key and s.id.startswith(key)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ValueError(f"unknown step {step!r}; {_valid_ids()}")
    raise ValueError(f"step {step!r} is ambiguous: it matches {', '.join(s.id for s in matches)}")


def build_model(step: int | str | Step, num_classes: int = 1000, **overrides) -> Network:
    """Build a roadmap step's (or an extension's) network, e.g. `build_model("07", kernel_size=5)`."""
    return get_step(step).build(num_classes, **overrides)
