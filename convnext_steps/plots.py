"""All plotting, in one place: every function takes data and returns a matplotlib Figure.

The notebooks call these (ending the cell with `plt.show()`), and `figures.save_figures` (behind `python -m
convnext_steps figures`) computes the data, deterministically, and writes the PNGs in `images/`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from torch import nn

from .measure import erf_extent, eval_mode
from .roadmap import ROADMAP

__all__ = [
    "SECTIONS",
    "SWIN_T",
    "ERF_IMAGE_SIZE",
    "ERF_INPUTS",
    "ERF_SEED",
    "roadmap_rows",
    "roadmap_figure",
    "params_macs_figure",
    "macs_latency_figure",
    "operator_share_figure",
    "per_block_figure",
    "erf_figure",
    "drop_path_figure",
    "activation_figure",
    "stage_share_figure",
    "kernel_sweep_figure",
    "component_costs_figure",
    "sample_grid_figure",
    "plot_training_curves",
]

# The paper's grouping of the roadmap (Fig. 2 / Section 2): first step index -> section name.
SECTIONS = {0: "Start", 1: "Macro design", 3: "ResNeXt", 5: "Inverted bottleneck", 6: "Large kernel", 8: "Micro design"}
SWIN_T = {"top1": 81.3, "gflops": 4.5}  # Swin-T, the paper's Table 1: the target Fig. 2 marks
# What the saved ERF figure measures (notebook 07 measures the same).
ERF_IMAGE_SIZE, ERF_INPUTS, ERF_SEED = 160, 4, 0

_GREY, _BLUE, _ORANGE, _RED = "#9e9e9e", "#1f77b4", "#ff7f0e", "#d62728"


def roadmap_rows() -> list[dict]:
    """The paper's figures for every step (no measuring): rows shaped like `measure_roadmap()["steps"]`."""
    return [dict(id=s.id, title=s.title, paper_gflops=s.paper_gflops, paper_top1=s.paper_top1) for s in ROADMAP]


def roadmap_figure(rows: Sequence[Mapping] | None = None, highlight: int | None = None) -> Figure:
    """Fig. 2 of the paper: top-1 per step as dots, the figures written in a column on the right.

    Dots, not bars: the differences are tenths of a point, so the axis cannot start at zero, and a bar cut off at
    an arbitrary start would draw a 0.2-point step as a large one. `rows`: dicts with id, title, paper_top1,
    paper_gflops and optionally gmacs (e.g. `measure_roadmap()["steps"]`); default: the paper's figures only.
    `highlight`: a step index to colour.
    """
    rows = list(rows) if rows is not None else roadmap_rows()
    measured = all("gmacs" in r for r in rows)
    fig, ax = plt.subplots(figsize=(9.2, 6.4))
    ys = [-i for i in range(len(rows))]
    top1 = [r["paper_top1"] for r in rows]
    colors = [_ORANGE if i == highlight else (_BLUE if i == len(rows) - 1 else _GREY) for i in range(len(rows))]
    lo, hi = min(top1) - 0.4, max(max(top1), SWIN_T["top1"]) + 0.4
    for y in ys:
        ax.axhline(y, color="#eeeeee", lw=0.8, zorder=0)
    ax.plot(top1, ys, color=_GREY, lw=0.8, zorder=1)  # the path, step by step
    ax.scatter(top1, ys, color=colors, s=46, zorder=3)
    ax.axvline(SWIN_T["top1"], color=_RED, ls="--", lw=1, zorder=2)
    swin = f"Swin-T {SWIN_T['top1']} ({SWIN_T['gflops']}G) "
    ax.text(SWIN_T["top1"], 0.75, swin, color=_RED, fontsize=8, ha="right")
    column = ax.get_yaxis_transform()  # x in axes units: the figures sit right of the plot, clear of every line
    ax.text(
        1.02, 0.75, "top-1   GFLOPs" + ("  (ours)" if measured else ""), transform=column, fontsize=8, weight="bold"
    )
    for y, r in zip(ys, rows):
        text = f"{r['paper_top1']:.2f}   {r['paper_gflops']:.2f}G" + (f"  ({r['gmacs']:.2f})" if measured else "")
        ax.text(1.02, y, text, transform=column, va="center", fontsize=8, family="monospace")
    ax.set_yticks(ys, [f"{r['id'][:2]}  {r['title']}" for r in rows], fontsize=8)
    for i in SECTIONS:  # a rule and the section's name above its first step
        if 0 < i < len(rows):
            ax.axhline(-i + 0.5, color="black", lw=0.5, alpha=0.4)
        if i < len(rows):
            ax.text(lo + 0.05, -i + 0.38, SECTIONS[i], ha="left", va="top", fontsize=8, style="italic", alpha=0.7)
    ax.set_xlim(lo, hi)
    ax.set_ylim(-len(rows) + 0.4, 1.2)
    ax.set_xlabel("ImageNet-1K top-1 (%), the paper's Table 10")
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
    left.bar(xs, [r["params"] / 1e6 for r in rows], color=_BLUE)  # ours, as on the right; grey is the paper's
    left.set_ylabel("parameters (M)")
    left.set_title("Parameters (measured)", fontsize=10)
    width = 0.4
    right.bar([x - width / 2 for x in xs], [r["gmacs"] for r in rows], width, color=_BLUE, label="ours (GMACs)")
    right.bar(
        [x + width / 2 for x in xs], [r["paper_gflops"] for r in rows], width, color=_GREY, label="paper (GFLOPs)"
    )
    right.set_ylabel("G multiply-adds at 224x224")
    right.set_title("Multiply-adds: measured vs the paper", fontsize=10)
    for ax in (left, right):
        ax.set_xticks(list(xs), labels, fontsize=8)
        ax.set_xlabel("roadmap step")
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    # Above the panels, not inside one: inside, it covered the tallest bars (step 04's).
    handles, names = right.get_legend_handles_labels()
    fig.legend(handles, names, fontsize=8, loc="upper right", ncol=len(names), frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return fig


def macs_latency_figure(rows: Sequence[Mapping], latency_ms: Sequence[float], device: str = "CPU") -> Figure:
    """Measured GMACs against measured latency, one labelled point per step.

    The dashed line is "latency proportional to MACs", through the first step: where points leave it, MACs
    are not speed. The step with the fewest MACs is drawn in red.
    """
    rows = list(rows)
    fig, ax = plt.subplots(figsize=(7.2, 4.2))
    fewest = min(range(len(rows)), key=lambda i: rows[i]["gmacs"])
    for i, (r, ms) in enumerate(zip(rows, latency_ms)):
        ax.scatter(r["gmacs"], ms, color=_RED if i == fewest else _BLUE, zorder=3)
    groups = _label_groups([r["gmacs"] for r in rows], latency_ms, [r["id"][:2] for r in rows])
    per_gmac = latency_ms[0] / rows[0]["gmacs"]
    top = 1.1 * max(r["gmacs"] for r in rows)
    ax.plot(
        [0, top],
        [0, per_gmac * top],
        ls="--",
        color=_GREY,
        lw=1,
        label=f"latency proportional to MACs (through step {rows[0]['id'][:2]})",
    )
    ax.set_xlim(0, top)
    ax.set_ylim(0, 1.15 * max(max(latency_ms), per_gmac * top))
    _label_column(ax, groups)
    ax.set_xlabel("G multiply-adds at 224x224 (measured)")
    ax.set_ylabel(f"latency (ms, {device}, batch 1)")
    ax.set_title(f"Latency vs multiply-adds (red: step {rows[fewest]['id'][:2]}, the fewest MACs)", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def operator_share_figure(costs: Mapping[str, Sequence[Mapping]], device: str = "CPU") -> Figure:
    """Each kind of operator's share of the multiply-adds beside its share of the measured time, one panel per
    network. `costs`: label -> rows of `measure.operator_costs(model)`. Where the orange bar is longer than the
    blue one, that kind of operator costs more time than its multiply-adds say."""
    fig, axes = plt.subplots(1, len(costs), figsize=(4.6 * len(costs) + 0.6, 3.3), sharex=True, squeeze=False)
    for ax, (label, rows) in zip(axes[0], costs.items()):
        ys = range(len(rows))
        ax.barh([y - 0.2 for y in ys], [100 * r["mac_share"] for r in rows], 0.4, color=_BLUE, label="multiply-adds")
        ax.barh([y + 0.2 for y in ys], [100 * r["time_share"] for r in rows], 0.4, color=_ORANGE, label="time")
        for y, r in zip(ys, rows):
            ax.text(100 * max(r["mac_share"], r["time_share"]) + 1.5, y, f"{100 * r['time_share']:.0f}% of time",
                    va="center", fontsize=7)  # fmt: skip
        ax.set_yticks(list(ys), [r["kind"] for r in rows], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, 118)
        ax.set_xlabel("share of the forward pass (%)")
        ax.set_title(label, fontsize=10)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    axes[0][0].legend(fontsize=8, loc="lower right")
    fig.suptitle(f"Where the multiply-adds are vs where the time goes ({device}, batch 1, 224x224)", fontsize=10)
    fig.tight_layout()
    return fig


def per_block_figure(counts: Mapping[str, Mapping[str, int]], reference: str | None = None) -> Figure:
    """How many of each kind of layer one block runs, step by step: one panel per kind, one bar per label.

    `counts`: label -> {kind: calls in one block}, e.g. {"08": {"activation": 3, "norm": 3}}. `reference`: a label
    drawn hatched, apart (e.g. a Transformer block to compare with).
    """
    labels = list(counts)
    kinds = list(next(iter(counts.values())))
    fig, axes = plt.subplots(1, len(kinds), figsize=(3.6 * len(kinds) + 0.6, 3.0), squeeze=False, sharey=True)
    for ax, kind in zip(axes[0], kinds):
        for x, label in enumerate(labels):
            ref = label == reference
            ax.bar(
                x, counts[label][kind], color="white" if ref else _BLUE, edgecolor=_BLUE, hatch="//" if ref else None
            )
            ax.text(x, counts[label][kind] + 0.05, str(counts[label][kind]), ha="center", va="bottom", fontsize=8)
        ax.set_xticks(range(len(labels)), labels, fontsize=8, rotation=30, ha="right")
        ax.set_title(f"{kind}s per block", fontsize=10)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    axes[0][0].set_ylabel("calls in one block")
    fig.tight_layout()
    return fig


def _label_groups(xs: Sequence[float], ys: Sequence[float], labels: Sequence[str], near: float = 0.03):
    """Points that would share a label's place (within `near` of each axis's range) get one label: "07-11" or
    "01, 05". Returns (x, y, text) per group, left to right."""
    span_x, span_y = (max(xs) - min(xs)) or 1.0, (max(ys) - min(ys)) or 1.0
    groups: list[list[int]] = []
    for i in sorted(range(len(xs)), key=lambda i: (xs[i], ys[i])):
        for g in groups:
            j = g[0]
            if abs(xs[i] - xs[j]) < near * span_x and abs(ys[i] - ys[j]) < 2 * near * span_y:
                g.append(i)
                break
        else:
            groups.append([i])
    out = []
    for g in groups:
        g.sort()
        run = len(g) > 2 and g == list(range(g[0], g[-1] + 1))
        text = f"{labels[g[0]]}-{labels[g[-1]]}" if run else ", ".join(labels[i] for i in g)
        out.append((sum(xs[i] for i in g) / len(g), sum(ys[i] for i in g) / len(g), text))
    return out


def _label_column(ax, groups: Sequence[tuple[float, float, str]], gap: float = 0.045) -> None:
    """Labels in a column right of the plot, in the order of their points' heights, each joined to its point by a
    thin line: points that crowd each other keep legible labels."""
    bottom, top = ax.get_ylim()
    order = sorted(groups, key=lambda g: g[1])
    heights = []
    for _, y, _ in order:  # data height as a fraction of the axis, pushed up to keep `gap` between labels
        h = (y - bottom) / (top - bottom)
        heights.append(max(h, heights[-1] + gap) if heights else h)
    shift = max(0.0, heights[-1] - 0.98) if heights else 0.0
    for (x, y, text), h in zip(order, heights):
        ax.annotate(
            text, (x, y), xytext=(1.03, h - shift), textcoords="axes fraction", fontsize=8, va="center",
            arrowprops=dict(arrowstyle="-", color="#bbbbbb", lw=0.6, shrinkA=0, shrinkB=3),
        )  # fmt: skip


def erf_figure(
    maps: Mapping[str, torch.Tensor], log: bool = True, floor: float = 1e-6, note: str = "untrained weights"
) -> Figure:
    """Effective receptive fields side by side, then how much of each lies within a centred square of each size.

    Maps: |d(centre output)/d(input)| scaled to its own maximum, on a log10 scale by default, white where the
    gradient is below `floor` (or exactly zero: pixels the output cannot see). `note` goes into the titles: say
    what the weights are (an untrained network shows its wiring, not what training makes of it).
    """
    n = len(maps)
    fig, axes = plt.subplots(
        1, n + 3, figsize=(3.4 * n + 5.4, 3.6), gridspec_kw={"width_ratios": [1] * n + [0.06, 0.3, 1.3], "wspace": 0.3}
    )
    axes[n + 1].axis("off")  # room for the colour bar's label
    cmap = plt.get_cmap("magma_r").copy()
    cmap.set_under("white")
    vmin = torch.tensor(floor).log10().item() if log else floor
    for ax, (label, erf) in zip(axes, maps.items()):
        scaled = erf / erf.max()
        shown = torch.where(scaled > floor, scaled, torch.zeros(())).clamp_min(1e-30)
        image = ax.imshow((shown.log10() if log else shown).numpy(), cmap=cmap, vmin=vmin, vmax=0.0 if log else 1.0)
        ax.set_title(f"{label}\n90% of |grad| within {erf_extent(erf, 0.9)} px", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(image, cax=axes[n], extend="min", label="log10 |grad| / max" if log else "|grad| / max")
    axes[n].set_box_aspect(12)
    right = axes[-1]
    for (label, erf), colour in zip(maps.items(), (_GREY, _ORANGE, _BLUE, _RED)):
        sides, shares = _mass_within(erf)
        right.plot(sides, shares, color=colour, label=label.split(" (")[0])
    right.axhline(0.9, color="black", lw=0.5, ls=":")
    right.set_box_aspect(0.8)
    fig.subplots_adjust(bottom=0.16, top=0.8, left=0.02, right=0.98)
    right.set_xlabel("side of the centred square (input pixels)")
    right.set_ylabel("share of |grad| inside")
    right.set_ylim(0, 1.02)
    right.legend(fontsize=8, loc="lower right")
    right.grid(alpha=0.3)
    fig.suptitle(f"Effective receptive field of the last stage's centre pixel ({note})", fontsize=10)
    return fig


def _mass_within(erf: torch.Tensor) -> tuple[list[int], list[float]]:
    """Share of the map's mass in the centred square of each odd side (centre: as `measure.erf_extent`)."""
    total = erf.sum()
    cy = round(((erf.sum(1) * torch.arange(erf.shape[0])).sum() / total).item())
    cx = round(((erf.sum(0) * torch.arange(erf.shape[1])).sum() / total).item())
    sides, shares = [], []
    for r in range(max(erf.shape) // 2 + 1):
        sides.append(2 * r + 1)
        shares.append((erf[max(cy - r, 0) : cy + r + 1, max(cx - r, 0) : cx + r + 1].sum() / total).item())
    return sides, shares


def drop_path_figure(schedules: Mapping[str, Sequence[float]], depths: Sequence[int]) -> Figure:
    """Drop-path probability per block (stages shaded): one line per schedule."""
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    start = 0
    for i, depth in enumerate(depths):
        if i % 2 == 0:
            ax.axvspan(start - 0.5, start + depth - 0.5, color=_GREY, alpha=0.15, lw=0)
        ax.text(
            start + depth / 2 - 0.5,
            1.0,
            f"stage {i + 1}",
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="bottom",
            fontsize=8,
        )
        start += depth
    # Schedules may coincide: each its own dash, marker and size, so a line drawn over another still shows.
    styles = zip("os^v", ("-", "--", ":", "-."), (7, 4, 3, 2), (2.6, 1.4, 1.2, 1.0))
    for (label, rates), (marker, dash, size, width) in zip(schedules.items(), styles):
        ax.plot(range(len(rates)), rates, marker=marker, ms=size, ls=dash, lw=width, mfc="none", label=label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("block (forward order)")
    ax.set_ylabel("drop-path probability")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def activation_figure(
    activations: Mapping[str, nn.Module], lo: float = -4.0, hi: float = 3.0, ylabel: str = "activation(x)"
) -> Figure:
    """The given activation modules (or any elementwise modules) evaluated on [lo, hi]."""
    x = torch.linspace(lo, hi, 281)
    fig, ax = plt.subplots(figsize=(5, 3.2))
    with torch.no_grad():
        for label, act in activations.items():
            ax.plot(x, act(x.clone()), label=label)
    ax.axhline(0, color="black", lw=0.5)
    ax.axvline(0, color="black", lw=0.5)
    ax.set_xlabel("input x")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def stage_share_figure(costs: Mapping[str, Sequence[Mapping]]) -> Figure:
    """Each network's multiply-adds split over stem, stages and head, as shares of its total (one bar each).

    `costs`: label -> rows of `measure.stage_costs(model)`.
    """
    labels = list(costs)
    parts = [r["part"] for r in next(iter(costs.values()))]
    colours = plt.get_cmap("viridis")([i / max(1, len(parts) - 1) for i in range(len(parts))])
    fig, ax = plt.subplots(figsize=(8, 0.8 * len(labels) + 1.4))
    for y, label in enumerate(labels):
        total = sum(r["macs"] for r in costs[label])
        left = 0.0
        for part, colour in zip(costs[label], colours):
            share = 100 * part["macs"] / total
            ax.barh(y, share, left=left, color=colour, edgecolor="white", height=0.6)
            if share >= 6:
                ax.text(
                    left + share / 2,
                    y,
                    f"{part['part']}\n{share:.0f}%",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if part["part"] in parts[:3] else "black",
                )
            left += share
        ax.text(101, y, f"{total / 1e9:.2f} GMACs", va="center", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(0, 115)
    ax.set_xlabel("share of the network's multiply-adds at 224x224 (%)")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig


def kernel_sweep_figure(rows: Sequence[Mapping]) -> Figure:
    """The paper's kernel-size sweep: top-1 (paper) and GFLOPs (paper, and our measured GMACs) against kernel size.

    `rows`: dicts with kernel_size, paper_top1, paper_gflops and optionally gmacs.
    """
    ks = [r["kernel_size"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.3))
    left.plot(ks, [r["paper_top1"] for r in rows], marker="o", color=_BLUE)
    best = max(r["paper_top1"] for r in rows)
    left.axhline(best, color=_GREY, ls=":", lw=1)
    left.set_ylabel("ImageNet-1K top-1 (%), paper")
    left.set_title("Accuracy saturates at 7x7", fontsize=10)
    right.plot(ks, [r["paper_gflops"] for r in rows], marker="s", color=_GREY, label="paper (GFLOPs)")
    if all("gmacs" in r for r in rows):
        right.plot(ks, [r["gmacs"] for r in rows], marker="o", ls="--", color=_ORANGE, label="ours (GMACs)")
    base = rows[0]["paper_gflops"]
    for k, r in zip(ks[1:], rows[1:]):
        grown = f"+{100 * (r['paper_gflops'] / base - 1):.0f}%"
        right.annotate(
            grown, (k, r["paper_gflops"]), textcoords="offset points", xytext=(0, 7), ha="center", fontsize=8
        )
    right.set_ylim(0, 1.2 * max(r["paper_gflops"] for r in rows))  # from zero: the growth at its true size
    right.set_ylabel("G multiply-adds at 224x224")
    right.set_title(f"Cost grows slowly (vs {ks[0]}x{ks[0]}): the depthwise conv is small", fontsize=10)
    right.legend(fontsize=8, loc="lower right")
    for ax in (left, right):
        ax.set_xticks(ks, [f"{k}x{k}" for k in ks])
        ax.set_xlabel("depthwise kernel")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


_COMPONENT_COLOURS = {"stem": "#756bb1", "blocks": _BLUE, "downsampling": _ORANGE, "head": "#31a354"}


def component_costs_figure(costs: Mapping[str, Sequence[Mapping]]) -> Figure:
    """Parameters and multiply-adds of every step, stacked by component (stem, blocks, downsampling, head).

    `costs`: step label -> rows of `measure.cost_breakdown(model)`.
    """
    labels = list(costs)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for ax, key, unit, title in (
        (axes[0], "params", 1e6, "parameters (M)"),
        (axes[1], "macs", 1e9, "GMACs at 224x224"),
    ):
        bottom = [0.0] * len(labels)
        for component, colour in _COMPONENT_COLOURS.items():
            values = [sum(r[key] for r in costs[label] if r["component"] == component) / unit for label in labels]
            ax.bar(range(len(labels)), values, bottom=bottom, color=colour, label=component, width=0.7)
            bottom = [b + v for b, v in zip(bottom, values)]
        ax.set_xticks(range(len(labels)), labels, fontsize=8)
        ax.set_xlabel("roadmap step")
        ax.set_ylabel(title)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    # Above both panels, not inside one: inside, it covered the tallest bars (step 04's).
    handles, names = axes[1].get_legend_handles_labels()
    fig.legend(handles, names, fontsize=8, loc="upper center", ncol=len(names), frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return fig


def sample_grid_figure(images: Sequence[torch.Tensor], labels: Sequence[str], columns: int = 10) -> Figure:
    """A grid of (3, H, W) uint8 or [0, 1] float images, each titled with its label."""
    rows = -(-len(images) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(1.1 * columns, 1.25 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, label in zip(axes.flat, images, labels):
        image = image.float() / 255 if image.dtype == torch.uint8 else image
        ax.imshow(image.permute(1, 2, 0).clamp(0, 1).numpy())
        ax.set_title(label.replace("_", " "), fontsize=7)
    fig.tight_layout()
    return fig


# Training curves of `convnext_steps.train` runs (rows of OUTPUT/metrics.csv, as `read_metrics` returns them).
_CURVE_LABELS = {
    "train_loss": "train loss (label-smoothed)",
    "val_loss": "val cross-entropy",
    "val_top1": "val top-1 (%)",
    "val_top5": "val top-5 (%)",
    "lr": "learning rate",
    "ema_val_top1": "EMA val top-1 (%)",
    "images_per_s": "images / s",
}


def plot_training_curves(
    runs: Mapping[str, Sequence[Mapping]], metrics: Sequence[str] = ("train_loss", "val_top1"), title: str | None = None
) -> Figure:
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


# Past the paper's roadmap: notebooks 16 (isotropic ConvNeXt) and 17 (ConvNeXt V2's GRN).
__all__ += ["GRN_SEED", "GRN_IMAGE", "GRN_BLOCK", "stage_shapes_figure", "channel_norms_figure"]
# What the saved GRN figure measures (notebook 17 measures the same): weights seeded with GRN_SEED, image GRN_IMAGE
# of SyntheticShapes(10, 224, seed=GRN_SEED), the GRN of block GRN_BLOCK = (stage, block), counted from 0.
GRN_SEED, GRN_IMAGE, GRN_BLOCK = 0, 3, (0, 1)


def stage_shapes_figure(nets: Mapping[str, tuple[Sequence[Sequence[int]], Sequence[int]]]) -> Figure:
    """Resolution and width through each network, block by block: a hierarchy's staircase vs an isotropic line.

    `nets`: label -> (`measure.stage_shapes(model)`: (C, H, W) after the stem and after each stage, the network's
    `config.depths`). Each stage's blocks run at the shape that stage outputs.
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    ticks = {left: set(), right: set()}
    for (label, (shapes, depths)), marker in zip(nets.items(), "os^vD"):
        xs, hs, cs, start = [0], [shapes[0][1]], [shapes[0][0]], 0  # block 0: the stem's output
        for (c, h, _), depth in zip(shapes[1:], depths):
            xs += [start + 0.5, start + depth]
            hs += [h, h]
            cs += [c, c]
            start += depth
        for ax, ys in ((left, hs), (right, cs)):
            ax.plot(xs, ys, marker=marker, ms=4, drawstyle="steps-pre", label=label)
            ticks[ax].update(ys)
    for ax, name in ((left, "height = width of the feature map"), (right, "channels")):
        ax.set_yscale("log", base=2)
        ax.set_yticks(sorted(ticks[ax]), [str(t) for t in sorted(ticks[ax])])
        ax.minorticks_off()
        ax.set_xlabel("block (forward order; 0: after the stem)")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    left.set_title("Resolution (224x224 input)", fontsize=10)
    right.set_title("Width", fontsize=10)
    left.legend(fontsize=8)
    fig.tight_layout()
    return fig


def channel_norms_figure(before: torch.Tensor, after: torch.Tensor, title: str = "") -> Figure:
    """What a layer does to each channel's energy: per-channel L2 norms before and after it (1-D tensors).

    Left: histograms of each channel's norm relative to the mean channel's. Right: each channel's norm after against
    before, with the line of no change.
    """
    if before.ndim != 1 or before.shape != after.shape:
        raise ValueError(
            f"expected two 1-D tensors of per-channel norms of one length, got {tuple(before.shape)} and "
            f"{tuple(after.shape)}"
        )
    before, after = before.detach().double(), after.detach().double()
    rel_before, rel_after = before / before.mean(), after / after.mean()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    top = max(rel_before.max().item(), rel_after.max().item())
    bins = torch.linspace(0, top * 1.02, 41).tolist()
    for rel, label, colour in ((rel_before, "before", _GREY), (rel_after, "after", _BLUE)):
        spread = (rel.std() / rel.mean()).item()
        left.hist(
            rel.tolist(),
            bins=bins,
            histtype="stepfilled",
            alpha=0.45,
            color=colour,
            label=f"{label} (std / mean {spread:.2f})",
        )
    left.set_xlabel("channel L2 norm / mean over channels")
    left.set_ylabel("channels")
    left.legend(fontsize=8)
    right.scatter(before.tolist(), after.tolist(), s=6, color=_BLUE)
    line = [0.0, before.max().item()]
    right.plot(line, line, ls="--", color=_GREY, lw=1, label="no change")
    right.set_xlabel("channel L2 norm before")
    right.set_ylabel("channel L2 norm after")
    right.legend(fontsize=8, loc="upper left")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


# Notebooks 00-06 and 14 (helper h16a) -----------------------------------------------------------------------------


@torch.no_grad()
def block_layer_macs(block: nn.Module, input_shape: Sequence[int]) -> list[tuple[str, int]]:
    """(layer name, multiply-adds) of each conv and linear layer one block runs, in call order, for one input of
    `input_shape` (C, H, W); shortcuts excluded. A conv's MACs are its weight count times its output pixels. Works
    on a block built on the meta device (only shapes are used)."""
    calls: list[tuple[str, int]] = []
    names = {m: n for n, m in block.named_modules() if n}

    def hook(m, args, out):
        if names[m].split(".")[0] == "shortcut":
            return
        pixels = out.shape[-2] * out.shape[-1] if isinstance(m, nn.Conv2d) else out[..., 0].numel()
        calls.append((names[m], m.weight.numel() * pixels))

    handles = [m.register_forward_hook(hook) for m in names if isinstance(m, (nn.Conv2d, nn.Linear))]
    device = next(block.parameters()).device
    try:
        with eval_mode(block):
            block(torch.zeros(1, *input_shape, device=device))
    finally:
        for handle in handles:
            handle.remove()
    return calls


def layer_macs_figure(blocks: Mapping[str, Sequence[tuple[str, int]]], title: str = "") -> Figure:
    """One block's multiply-adds layer by layer, for several versions of it side by side (horizontal bars, in call
    order, each bar labelled with its MACs and its share of the block). `blocks`: label -> `block_layer_macs(...)`."""
    fig, axes = plt.subplots(1, len(blocks), figsize=(4.6 * len(blocks), 2.6), sharex=True)
    axes = [axes] if len(blocks) == 1 else list(axes)
    top = max(m for rows in blocks.values() for _, m in rows)
    for ax, (label, rows) in zip(axes, blocks.items()):
        total = sum(m for _, m in rows)
        names = [n for n, _ in rows]
        colours = [_ORANGE if "dwconv" in n else _BLUE for n in names]
        ax.barh(range(len(rows)), [m / 1e6 for _, m in rows], color=colours)
        for y, (_, m) in enumerate(rows):
            ax.text(m / 1e6 + top / 1e6 * 0.02, y, f"{m / 1e6:.1f} M ({100 * m / total:.0f}%)", va="center", fontsize=8)
        ax.set_yticks(range(len(rows)), names, fontsize=9)
        ax.invert_yaxis()
        ax.set_xlim(0, top / 1e6 * 1.45)
        ax.set_xlabel("M multiply-adds")
        ax.set_title(f"{label}: {total / 1e6:.1f} M in all", fontsize=10)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def block_widths_figure(blocks: Mapping[str, Sequence[tuple[str, int]]]) -> Figure:
    """The channel count of each tensor inside a block, in forward order, one line per version: wide -> narrow ->
    wide against narrow -> wide -> narrow. `blocks`: label -> [(after which layer, channels), ...]."""
    fig, ax = plt.subplots(figsize=(7, 3))
    for (label, rows), colour, marker in zip(blocks.items(), (_GREY, _BLUE, _ORANGE), "osD"):
        ax.plot(range(len(rows)), [c for _, c in rows], marker=marker, color=colour, label=label, drawstyle="steps-mid")
        for x, (_, c) in enumerate(rows):
            ax.annotate(
                str(c), (x, c), textcoords="offset points", xytext=(0, 5), ha="center", fontsize=8, color=colour
            )
    names = [n for n, _ in next(iter(blocks.values()))]
    ax.set_xticks(range(len(names)), names, fontsize=8)
    ax.set_xlabel("tensor after (forward order)")
    ax.set_ylabel("channels")
    top = max(c for rows in blocks.values() for _, c in rows)
    ax.set_ylim(0, top * 1.2)
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig


def window_figure(maps: Mapping[str, torch.Tensor], patch: int = 4) -> Figure:
    """The input pixels one output depends on (a non-zero gradient: its theoretical receptive field), one panel per
    map, on a grid of `patch` x `patch` cells (the patches a patchify stem cuts), each titled with the window's
    height x width. `maps`: label -> an (H, W) map such as `measure.effective_receptive_field(..., stage=0)`."""
    fig, axes = plt.subplots(1, len(maps), figsize=(3.6 * len(maps), 3.8))
    axes = [axes] if len(maps) == 1 else list(axes)
    for ax, (label, erf) in zip(axes, maps.items()):
        seen = erf > 0
        ys, xs = seen.nonzero().unbind(1)
        h, w = int(ys.max() - ys.min()) + 1, int(xs.max() - xs.min()) + 1
        ax.imshow(seen.numpy(), cmap=plt.get_cmap("Blues"), vmin=0, vmax=1.4)
        size = erf.shape[-1]
        for t in range(0, size + 1, patch):
            ax.axhline(t - 0.5, color=_GREY, lw=0.4)
            ax.axvline(t - 0.5, color=_GREY, lw=0.4)
        ax.set_title(f"{label}\ndepends on a {h}x{w} window", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"Input pixels one stem output depends on (blue; grid: {patch}x{patch} patches)", fontsize=10)
    fig.tight_layout()
    return fig
