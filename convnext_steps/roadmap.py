"""The roadmap of "A ConvNet for the 2020s" (Liu et al., 2022, Table 10 / Fig. 2) as data.

Each `Step` names its module (which holds only what that step introduces), the paper's figures for it,
and builds its network. GFLOPs are the paper's: one multiply-add counts as one FLOP, 224x224 input.
Top-1 is ImageNet-1K with the paper's 300-epoch recipe.

`EXTENSIONS` go past the paper's table, each written on top of step 12 in the same form: the same paper's
isotropic ConvNeXt-S/B/L (Section 3.3) and the ConvNeXt V2-T block (Woo et al. 2023). They are listed apart
(`ROADMAP` stays the paper's 13 steps), their figures are the published ones named in `source`, and
`get_step` / `build_model` find them by id or unambiguous id prefix ("isotropic_b", "v2").

Each step's title, change and figures are constants of its own module; `measure_roadmap` is the report of them
all beside what `measure` counts (`python -m convnext_steps roadmap`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import ModuleType

import torch

from .measure import count_macs, count_params
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

__all__ = [
    "Step",
    "ROADMAP",
    "STEP_IDS",
    "EXTENSIONS",
    "EXTENSION_IDS",
    "ALL_STEPS",
    "get_step",
    "build_model",
    "top1_change",
    "measure_roadmap",
]


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
    paper_top1_std: float | None = None  # standard deviation of paper_top1's three seeds (Table 10; roadmap only)

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


_ROADMAP_MODULES = (
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
_IDS = tuple(m.__name__.rpartition(".step")[2] for m in _ROADMAP_MODULES)  # "steps.step05_x" -> "05_x"

# Each step's title, change and figures are its module's (TITLE, CHANGE, PAPER_GFLOPS, PAPER_TOP1, PAPER_TOP1_STD).
ROADMAP: tuple[Step, ...] = tuple(
    Step(
        i,
        _IDS[i],
        m.TITLE,
        m.CHANGE,
        m.PAPER_GFLOPS,
        m.PAPER_TOP1,
        m,
        _IDS[i - 1] if i else None,
        paper_top1_std=m.PAPER_TOP1_STD,
    )
    for i, m in enumerate(_ROADMAP_MODULES)
)
STEP_IDS: tuple[str, ...] = _IDS

# Past the paper's table: each written on top of step 12, listed apart from ROADMAP; figures (params, GFLOPs, top-1).
_EXTENSION_ROWS = [
    *(
        (
            f"isotropic_{size.lower()}",
            ext_isotropic,
            f"CONFIG_{size}",
            ext_isotropic.TITLES[size],
            ext_isotropic.CHANGES[size],
            ext_isotropic.PAPER[size],
            ext_isotropic.SOURCES[size],
        )
        for size in "SBL"
    ),
    ("v2_tiny", ext_v2_grn, "CONFIG", ext_v2_grn.TITLE, ext_v2_grn.CHANGE, ext_v2_grn.README["T"], ext_v2_grn.SOURCE),
]
EXTENSIONS: tuple[Step, ...] = tuple(
    Step(len(ROADMAP) + i, id_, title, change, gflops, top1, module, STEP_IDS[-1], config_name, params, source)
    for i, (id_, module, config_name, title, change, (params, gflops, top1), source) in enumerate(_EXTENSION_ROWS)
)
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


def top1_change(step: int | str | Step) -> tuple[float, float]:
    """A roadmap step's top-1 change over the step before it, and that change's standard error.

    Each top-1 in Table 10 is the mean of three seeds with their standard deviation s beside it, so a mean is
    uncertain by about s / sqrt(3) and a difference of two means by sqrt((s_before^2 + s_after^2) / 3). Three runs
    estimate a spread roughly: read two standard errors as a rough line, not a test.
    """
    after = get_step(step)
    if after.previous is None or after.paper_top1_std is None:
        raise ValueError(f"top1_change needs a roadmap step after 00, got {after.id}")
    before = get_step(after.previous)
    return after.paper_top1 - before.paper_top1, math.sqrt((before.paper_top1_std**2 + after.paper_top1_std**2) / 3)


def build_model(step: int | str | Step, num_classes: int = 1000, **overrides) -> Network:
    """Build a roadmap step's (or an extension's) network, e.g. `build_model("07", kernel_size=5)`."""
    return get_step(step).build(num_classes, **overrides)


def measure_roadmap(image_size: int = 224, kernel_sweep: bool = True) -> dict:
    """Params and measured GMACs of every roadmap step (and step 07's kernel sweep) beside the paper's figures,
    and of the extensions past the paper (`roadmap.EXTENSIONS`) beside their published figures."""

    def row(step, overrides=None, **fields):
        with torch.device("meta"):  # structure only: counting needs no weights
            model = step.build(**(overrides or {}))
        return dict(fields, params=count_params(model), gmacs=count_macs(model, image_size) / 1e9)

    def paper(step):
        return dict(
            id=step.id, title=step.title, change=step.change, paper_gflops=step.paper_gflops, paper_top1=step.paper_top1
        )

    steps = [row(step, **paper(step)) for step in ROADMAP]
    sweep = []
    if kernel_sweep:
        step = get_step("07")
        sweep = [
            row(step, {"kernel_size": k}, id=step.id, kernel_size=k, paper_gflops=gflops, paper_top1=top1)
            for k, (gflops, top1) in step07_kernel_7x7.KERNEL_SWEEP.items()
        ]
    extensions = [
        row(step, **paper(step), previous=step.previous, paper_params_m=step.paper_params_m, source=step.source)
        for step in EXTENSIONS
    ]
    return {"image_size": image_size, "steps": steps, "kernel_sweep": sweep, "extensions": extensions}
