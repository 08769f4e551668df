"""All plotting, in one place: every function takes data and returns a matplotlib Figure.

The notebooks call these (ending the cell with `plt.show()`), and `save_figures` (behind `python -m convnext_steps
figures`) computes the data once, deterministically, and writes the PNGs that the notebooks and README use.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator
from torch import nn

from .convert import save_atomic
from .measure import block_drop_path_rates, effective_receptive_field, erf_extent, measure_roadmap
from .roadmap import ROADMAP, build_model

__all__ = [
    "SECTIONS", "SWIN_T", "ERF_IMAGE_SIZE", "ERF_INPUTS", "ERF_SEED", "roadmap_rows", "roadmap_figure",
    "params_macs_figure", "macs_latency_figure", "erf_figure", "drop_path_figure", "activation_figure",
    "block_profile_figure", "plot_training_curves", "save_figures",
]

# The paper's grouping of the roadmap (Fig. 2 / Section 2): first step index -> section name.
SECTIONS = {0: "Start", 1: "Macro design", 3: "ResNeXt", 5: "Inverted bottleneck", 6: "Large kernel",
            8: "Micro design"}
SWIN_T = {"top1": 81.3, "gflops": 4.5}  # Swin-T, the paper's Table 1: the target Fig. 2 marks
# What the saved ERF figure measures (notebook 07 measures the same).
ERF_IMAGE_SIZE, ERF_INPUTS, ERF_SEED = 160, 4, 0

_GREY, _BLUE, _ORANGE, _RED = "#9e9e9e", "#1f77b4", "#ff7f0e", "#d62728"


def roadmap_rows() -> list[dict]:
    """The paper's figures for every step (no measuring): rows shaped like `measure_roadmap()["steps"]`."""
    return [dict(id=s.id, title=s.title, paper_gflops=s.paper_gflops, paper_top1=s.paper_top1) for s in ROADMAP]


def roadmap_figure(rows: Sequence[Mapping] | None = None, highlight: int | None = None) -> Figure:
    """Fig. 2 of the paper: top-1 per step as bars, GFLOPs written beside them (and our measured GMACs if given).

    `rows`: dicts with id, title, paper_top1, paper_gflops and optionally gmacs (e.g. `measure_roadmap()["steps"]`);
    default: the paper's figures only. `highlight`: a step index to colour.
    """
    rows = list(rows) if rows is not None else roadmap_rows()
    fig, ax = plt.subplots(figsize=(8.5, 6.4))
    lo, hi = 77.5, 84.4
    ys = [-i for i in range(len(rows))]
    colors = [_ORANGE if i == highlight else (_BLUE if i == len(rows) - 1 else _GREY) for i in range(len(rows))]
    ax.barh(ys, [r["paper_top1"] - lo for r in rows], left=lo, color=colors, height=0.7)
    for y, r in zip(ys, rows):
        text = f"{r['paper_top1']:.2f}   {r['paper_gflops']:.2f}G"
        if "gmacs" in r:
            text += f"  (ours {r['gmacs']:.2f})"
        ax.text(r["paper_top1"] + 0.05, y, text, va="center", fontsize=8)
    ax.set_yticks(ys, [f"{r['id'][:2]}  {r['title']}" for r in rows], fontsize=8)
    for i in SECTIONS:  # a rule and the section's name above its first step
        if 0 < i < len(rows):
            ax.axhline(-i + 0.5, color="black", lw=0.5, alpha=0.4)
        if i < len(rows):
            ax.text(hi - 0.05, -i + 0.38, SECTIONS[i], ha="right", va="top", fontsize=8, style="italic", alpha=0.7)
    ax.axvline(SWIN_T["top1"], color=_RED, ls="--", lw=1)
    ax.text(SWIN_T["top1"], 0.75, f"Swin-T {SWIN_T['top1']} ({SWIN_T['gflops']}G)", color=_RED, fontsize=8,
            ha="center")
    ax.set_xlim(lo, hi)
    ax.set_ylim(-len(rows) + 0.4, 1.2)
    ax.set_xlabel("ImageNet-1K top-1 (%), the paper's Table 10;  GFLOPs: paper (ours: measured GMACs)")
    ax.set_title("ResNet-50 -> ConvNeXt-T, one change at a time (after Liu et al. 2022, Fig. 2)", fontsize=10)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig


def params_macs_figure(rows: Sequence[Mapping]) -> Figure:
    """Parameters and multiply-adds per step: ours measured, beside the paper's GFLOPs."""
    rows = list(rows)
    labels = [r["id"][:2] for r in rows]
    xs = range(len(rows))
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    left.bar(xs, [r["params"] / 1e6 for r in rows], color=_GREY)
    left.set_ylabel("parameters (M)")
    left.set_title("Parameters (measured)", fontsize=10)
    width = 0.4
    right.bar([x - width / 2 for x in xs], [r["gmacs"] for r in rows], width, color=_BLUE, label="ours (GMACs)")
    right.bar([x + width / 2 for x in xs], [r["paper_gflops"] for r in rows], width, color=_GREY,
              label="paper (GFLOPs)")
    right.set_ylabel("G multiply-adds at 224x224")
    right.set_title("Multiply-adds: measured vs the paper", fontsize=10)
    right.legend(fontsize=8, loc="lower right")
    for ax in (left, right):
        ax.set_xticks(list(xs), labels, fontsize=8)
        ax.set_xlabel("roadmap step")
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig


def macs_latency_figure(rows: Sequence[Mapping], latency_ms: Sequence[float], device: str = "CPU") -> Figure:
    """Measured GMACs against measured latency, one labelled point per step.

    The dashed line is "latency proportional to MACs", through the first step: where points leave it, MACs
    are not speed. The step with the fewest MACs is drawn in red.
    """
    rows = list(rows)
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    fewest = min(range(len(rows)), key=lambda i: rows[i]["gmacs"])
    for i, (r, ms) in enumerate(zip(rows, latency_ms)):
        ax.scatter(r["gmacs"], ms, color=_RED if i == fewest else _BLUE, zorder=3)
        ax.annotate(r["id"][:2], (r["gmacs"], ms), textcoords="offset points", xytext=(4, 4), fontsize=8)
    per_gmac = latency_ms[0] / rows[0]["gmacs"]
    top = 1.1 * max(r["gmacs"] for r in rows)
    ax.plot([0, top], [0, per_gmac * top], ls="--", color=_GREY, lw=1,
            label=f"latency proportional to MACs (through step {rows[0]['id'][:2]})")
    ax.set_xlim(0, top)
    ax.set_ylim(0, 1.15 * max(max(latency_ms), per_gmac * top))
    ax.set_xlabel("G multiply-adds at 224x224 (measured)")
    ax.set_ylabel(f"latency (ms, {device}, batch 1)")
    ax.set_title(f"Latency vs multiply-adds (red: step {rows[fewest]['id'][:2]}, the fewest MACs)", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def erf_figure(maps: Mapping[str, torch.Tensor], log: bool = True, floor: float = 1e-4) -> Figure:
    """Effective receptive fields side by side, each scaled to its own maximum (log10 scale by default)."""
    fig, axes = plt.subplots(1, len(maps), figsize=(3.6 * len(maps) + 0.8, 3.6), squeeze=False)
    for ax, (label, erf) in zip(axes[0], maps.items()):
        scaled = (erf / erf.max()).clamp_min(floor)
        image = ax.imshow(scaled.log10() if log else scaled, cmap="magma", vmin=torch.tensor(floor).log10().item()
                          if log else 0.0, vmax=0.0 if log else 1.0)
        ax.set_title(f"{label}\n90% of |grad| within {erf_extent(erf, 0.9)} px", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(image, ax=list(axes[0]), shrink=0.8, label="log10 |grad| / max" if log else "|grad| / max")
    return fig


def drop_path_figure(schedules: Mapping[str, Sequence[float]], depths: Sequence[int]) -> Figure:
    """Drop-path probability per block (stages shaded): one line per schedule."""
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    start = 0
    for i, depth in enumerate(depths):
        if i % 2 == 0:
            ax.axvspan(start - 0.5, start + depth - 0.5, color=_GREY, alpha=0.15, lw=0)
        ax.text(start + depth / 2 - 0.5, 1.0, f"stage {i + 1}", transform=ax.get_xaxis_transform(), ha="center",
                va="bottom", fontsize=8)
        start += depth
    for (label, rates), marker in zip(schedules.items(), "os^v"):
        ax.plot(range(len(rates)), rates, marker=marker, ms=4, label=label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("block (forward order)")
    ax.set_ylabel("drop-path probability")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def activation_figure(activations: Mapping[str, nn.Module], lo: float = -4.0, hi: float = 3.0) -> Figure:
    """The given activation modules evaluated on [lo, hi]."""
    x = torch.linspace(lo, hi, 281)
    fig, ax = plt.subplots(figsize=(5, 3.2))
    with torch.no_grad():
        for label, act in activations.items():
            ax.plot(x, act(x.clone()), label=label)
    ax.axhline(0, color="black", lw=0.5)
    ax.axvline(0, color="black", lw=0.5)
    ax.legend(fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _layers(block: nn.Module) -> list[tuple[str, int, str]]:
    """(name, output width, kind) for each conv / linear of a block's residual branch, in registration order."""
    layers = []
    for name, m in block.named_modules():
        if name.startswith("shortcut"):
            continue
        if isinstance(m, nn.Conv2d):
            k = m.kernel_size[0]
            kind = f"{k}x{k} depthwise" if m.groups == m.in_channels == m.out_channels else f"{k}x{k} conv"
            layers.append((name, m.out_channels, kind))
        elif isinstance(m, nn.Linear):
            layers.append((name, m.out_features, "1x1 (linear)"))
    return layers


def block_profile_figure(blocks: Mapping[str, nn.Module]) -> Figure:
    """Width along each block's residual branch: the input, then every conv's output (depthwise hatched)."""
    fig, axes = plt.subplots(1, len(blocks), figsize=(4.2 * len(blocks), 3.2), squeeze=False, sharey=True)
    for ax, (label, block) in zip(axes[0], blocks.items()):
        first = next(m for m in block.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
        width_in = first.in_channels if isinstance(first, nn.Conv2d) else first.in_features
        bars = [("input", width_in, "")] + _layers(block)
        for x, (name, width, kind) in enumerate(bars):
            depthwise = "depthwise" in kind
            ax.bar(x, width, color=_ORANGE if depthwise else (_GREY if not kind else _BLUE),
                   hatch="//" if depthwise else None, edgecolor="black", lw=0.5)
            ax.text(x, width, f"{width}", ha="center", va="bottom", fontsize=8)
        ax.set_xticks(range(len(bars)), [f"{name}\n{kind}" for name, _, kind in bars], fontsize=7)
        ax.set_title(label, fontsize=9)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    axes[0][0].set_ylabel("channels")
    fig.legend(handles=[Patch(color=_BLUE, label="dense conv / linear"),
                        Patch(facecolor=_ORANGE, hatch="//", edgecolor="black", label="depthwise conv")],
               fontsize=8, loc="upper right")
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    return fig


def _save(fig: Figure, path: Path) -> None:
    try:
        save_atomic(path, lambda f: fig.savefig(f, dpi=100, format="png"))
    finally:
        plt.close(fig)


def save_figures(out_dir: str | os.PathLike = "images", image_size: int = 224) -> list[Path]:
    """Compute (seeded) and write the figures the notebooks and README use; returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = measure_roadmap(image_size, kernel_sweep=False)["steps"]
    erfs = {}
    for step, label in (("06", "3x3 depthwise (step 06)"), ("07", "7x7 depthwise (step 07)")):
        torch.manual_seed(0)
        erfs[label] = effective_receptive_field(build_model(step), ERF_IMAGE_SIZE, ERF_INPUTS, ERF_SEED)
    convnext_t = build_model("12")
    figures = {
        "roadmap.png": roadmap_figure(rows),
        "params_macs.png": params_macs_figure(rows),
        "erf_3x3_vs_7x7.png": erf_figure(erfs),
        "drop_path_schedule.png": drop_path_figure({"ConvNeXt-T (ours)": block_drop_path_rates(convnext_t)},
                                                   convnext_t.config.depths),
    }
    paths = []
    for name, fig in figures.items():
        _save(fig, out / name)
        paths.append(out / name)
    return paths


# Training curves of `convnext_steps.train` runs (rows from train.train(...) or train.read_metrics(OUTPUT)).
_CURVE_LABELS = {
    "train_loss": "train loss (label-smoothed)", "val_loss": "val cross-entropy", "val_top1": "val top-1 (%)",
    "val_top5": "val top-5 (%)", "lr": "learning rate", "ema_val_top1": "EMA val top-1 (%)",
    "images_per_s": "images / s",
}


def plot_training_curves(runs: Mapping[str, Sequence[Mapping]], metrics: Sequence[str] = ("train_loss", "val_top1"),
                         title: str | None = None) -> Figure:
    """`metrics` against epoch, one panel each, one line per run; `runs` maps a legend label to its rows."""
    if not runs:
        raise ValueError("no runs to plot: pass {label: rows}, rows from train() or read_metrics()")
    for label, rows in runs.items():
        if not rows:
            raise ValueError(f"run {label!r} has no epochs")
        missing = [m for m in metrics if m not in rows[0]]
        if missing:
            raise ValueError(f"run {label!r} has no column(s) {missing}; it has {sorted(rows[0])}")
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.6 * len(metrics), 3.4), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for label, rows in runs.items():
            ax.plot([r["epoch"] for r in rows], [r[metric] for r in rows], marker="o", ms=3, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(_CURVE_LABELS.get(metric, metric))
        ax.grid(alpha=0.3)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    axes[0][0].legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
