"""`python -m convnext_steps figures` (`make figures`): every image in `images/`, computed from the package, seeded.

Each figure is one function of this module's `FIGURES` table (file name -> builder); the builders compute their
data the way the notebooks do and draw it with `plots` and `diagrams`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from . import diagrams, plots
from .checkpoint import save_atomic
from .data import SyntheticShapes, build_transform
from .measure import (
    block_drop_path_rates,
    cost_breakdown,
    count_macs,
    effective_receptive_field,
    stage_costs,
    stage_shapes,
)
from .roadmap import EXTENSIONS, ROADMAP, build_model, measure_roadmap
from .steps.ext_v2_grn import GRN
from .steps.step07_kernel_7x7 import KERNEL_SWEEP

__all__ = ["FIGURES", "save_figures"]


def _roadmap() -> Figure:
    return plots.roadmap_figure(measure_roadmap(224, kernel_sweep=False)["steps"])


def _erf() -> Figure:
    erfs = {}
    for step, label in (("06", "3x3 depthwise (step 06)"), ("07", "7x7 depthwise (step 07)")):
        torch.manual_seed(0)
        erfs[label] = effective_receptive_field(
            build_model(step), plots.ERF_IMAGE_SIZE, plots.ERF_INPUTS, plots.ERF_SEED
        )
    return plots.erf_figure(erfs)


def _drop_path() -> Figure:
    model = build_model("12")
    return plots.drop_path_figure({"ConvNeXt-T": block_drop_path_rates(model)}, model.config.depths)


def _stage_share() -> Figure:
    return plots.stage_share_figure({f"{s.id[:2]} {s.title}": stage_costs(s.build()) for s in ROADMAP[:2]})


def _depthwise() -> Figure:
    torch.manual_seed(0)
    dense, depthwise = torch.nn.Conv2d(8, 8, 3, bias=False), torch.nn.Conv2d(8, 8, 3, groups=8, bias=False)
    return diagrams.weight_tensor_figure(dense.weight, depthwise.weight)


def _kernel_sweep() -> Figure:
    rows = [
        dict(kernel_size=k, paper_gflops=g, paper_top1=t, gmacs=count_macs(build_model("07", kernel_size=k)) / 1e9)
        for k, (g, t) in KERNEL_SWEEP.items()
    ]
    return plots.kernel_sweep_figure(rows)


def _components() -> Figure:
    with torch.device("meta"):  # counting needs the structure, not the weights
        return plots.component_costs_figure({s.id[:2]: cost_breakdown(s.build()) for s in ROADMAP})


def _paper_blocks() -> Figure:
    titles = ["ResNet-50 bottleneck (00)", "inverted bottleneck (05)", "depthwise conv up (06)", "ConvNeXt-T (12)"]
    return diagrams.block_diagram_figure(["00", "05", "06", "12"], highlight=False, titles=titles)


def _isotropic_shapes() -> Figure:
    nets = {}
    for step, label in (
        ("12", "ConvNeXt-T (step 12)"),
        ("isotropic_s", "isotropic ConvNeXt-S"),
        ("isotropic_l", "isotropic ConvNeXt-L"),
    ):
        with torch.device("meta"):  # shapes only
            model = build_model(step)
        nets[label] = (stage_shapes(model), model.config.depths)
    return plots.stage_shapes_figure(nets)


def _grn_norms() -> Figure:
    torch.manual_seed(plots.GRN_SEED)
    model = build_model("v2_tiny").eval()
    with torch.no_grad():  # a fresh GRN is the identity: gamma = 1, beta = 0 makes every GRN act
        for m in model.modules():
            if isinstance(m, GRN):
                m.gamma.fill_(1.0)
                m.beta.zero_()
    image, _ = SyntheticShapes(10, 224, seed=plots.GRN_SEED)[plots.GRN_IMAGE]
    stage, block = plots.GRN_BLOCK
    seen = {}
    grn = model.stages[stage].blocks[block].grn
    hook = grn.register_forward_hook(lambda m, args, out: seen.update(x=args[0], y=out))
    with torch.no_grad():
        model(build_transform(False, 224, crop_pct=1.0)(image)[None])
    hook.remove()
    before, after = (torch.linalg.vector_norm(seen[k][0], dim=(0, 1)) for k in ("x", "y"))  # per channel, over H, W
    title = f"GRN of stage {stage + 1}, block {block + 1} (gamma = 1, beta = 0), one synthetic image"
    return plots.channel_norms_figure(before, after, title)


def _step_diagram(step: int | str) -> Callable[[], Figure]:
    return lambda: diagrams.step_diagram_figure(step)


FIGURES: dict[str, Callable[[], Figure]] = {
    "roadmap.png": _roadmap,
    "stage_compute_share.png": _stage_share,
    "dense_vs_depthwise.png": _depthwise,
    "kernel_sweep.png": _kernel_sweep,
    "erf_3x3_vs_7x7.png": _erf,
    "norm_axes.png": diagrams.norm_axes_figure,
    "drop_path_schedule.png": _drop_path,
    "components.png": _components,
    "blocks_resnet_to_convnext.png": _paper_blocks,
    **{f"blocks/{s.id}.png": _step_diagram(s.index) for s in ROADMAP},
    "isotropic_stage_shapes.png": _isotropic_shapes,
    "grn_channel_norms.png": _grn_norms,
    **{f"blocks/{s.id}.png": _step_diagram(s.id) for s in EXTENSIONS},
}


def save_figures(out_dir: str | os.PathLike = "images", names: list[str] | None = None) -> list[Path]:
    """Build and write the figures (all, or the given file names); returns the paths written."""
    out = Path(out_dir)
    unknown = sorted(set(names or []) - set(FIGURES))
    if unknown:
        raise ValueError(f"unknown figure(s) {unknown}; known: {', '.join(FIGURES)}")
    paths = []
    for name in names or FIGURES:
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        fig = FIGURES[name]()
        try:
            save_atomic(path, functools.partial(fig.savefig, dpi=100, format="png"))
        finally:
            plt.close(fig)
        paths.append(path)
    return paths
