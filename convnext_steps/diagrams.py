"""Drawn pictures: block diagrams traced from the models, what a norm normalises over, dense vs depthwise weights.

Like `plots`, every function takes data (or a step) and returns a matplotlib Figure; nothing here is hand-drawn:
a block diagram is `trace.trace_block` of the step's own network, drawn box by box.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Patch, Rectangle

from .roadmap import Step, get_step
from .trace import Op, trace_block, trace_stem

__all__ = [
    "KIND_COLOURS",
    "STEP_VIEWS",
    "block_ops",
    "changed_ops",
    "block_diagram_figure",
    "step_diagram_figure",
    "norm_axes_figure",
    "weight_tensor_figure",
]

KIND_COLOURS = {
    "conv": "#9ecae1",
    "linear": "#9ecae1",
    "depthwise conv": "#fdae6b",
    "norm": "#a1d99b",
    "activation": "#dadaeb",
    "layer scale": "#d9d9d9",
    "pool": "#d9d9d9",
}
_HIGHLIGHT = "#d62728"
_SKIP = ("input", "identity", "drop path", "permute", "add")


def block_ops(
    step: int | str | Step, stage: int = 0, index: int = 1, with_downsample: bool = False, part: str = "block"
) -> list[Op]:
    """The traced operations a diagram draws: a block (see `trace.trace_block`) or, with part="stem", the stem."""
    if part == "stem":
        return trace_stem(step)
    if part != "block":
        raise ValueError(f"part must be 'block' or 'stem', got {part!r}")
    return trace_block(step, stage, index, with_downsample=with_downsample)


def _drawn(ops: Sequence[Op]) -> list[Op]:
    return [o for o in ops if o.kind not in _SKIP and o.branch != "shortcut"]


def _shortcut_label(ops: Sequence[Op]) -> str:
    parts = [o.label for o in ops if o.branch == "shortcut" and o.kind != "identity"]
    return " + ".join(parts) if parts else "identity"


def _key(o: Op) -> tuple[str, str, str]:
    # A 1x1 conv written as nn.Linear on channels-last is the same layer (steps/rewrites.py): not a change.
    kind = "conv" if o.kind == "linear" else o.kind
    return o.branch, kind, o.label.replace(" (linear)", " conv")


def changed_ops(before: Sequence[Op], after: Sequence[Op]) -> list[bool]:
    """For each drawn op of `after`: True where it is new or changed against `before` (difflib matching)."""
    old, new = [_key(o) for o in _drawn(before)], [_key(o) for o in _drawn(after)]
    changed = [True] * len(new)
    for block in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_matching_blocks():
        for j in range(block.b, block.b + block.size):
            changed[j] = False
    return changed


def _column(ax, x: float, title: str, ops: Sequence[Op], changed: Sequence[bool] | None, shortcut_changed: bool):
    drawn = _drawn(ops)
    changed = changed or [False] * len(drawn)
    y, box_h, gap, width = 0.0, 0.62, 0.38, 2.6
    ax.text(x, y + 0.9, title, ha="center", va="bottom", fontsize=9, weight="bold")
    ax.text(x, y + 0.35, f"input {_shape(ops[0])}", ha="center", va="bottom", fontsize=7, color="#555555")
    top = y + 0.3
    layout, prev_bottom, add_y = "NCHW", top, None
    after_add = False
    for op, is_changed in zip(drawn, changed):
        if op.branch == "after" and not after_add:  # the residual add comes first
            add_y = y - 0.35
            ax.add_patch(Circle((x, add_y), 0.22, fill=False, lw=1.2))
            ax.text(x, add_y, "+", ha="center", va="center", fontsize=11)
            _arrow(ax, x, prev_bottom, add_y + 0.22)
            prev_bottom, y, after_add = add_y - 0.22, add_y - 0.22 - gap, True
        box_top = y
        note = ""
        if op.layout != layout and op.layout in ("NCHW", "NHWC"):
            note, layout = f"permute to {op.layout}", op.layout
        if note:
            ax.text(
                x + 0.08, (prev_bottom + box_top) / 2, note, fontsize=6.5, style="italic", va="center", color="#555555"
            )
        _arrow(ax, x, prev_bottom, box_top)
        colour = KIND_COLOURS.get(op.kind, "#eeeeee")
        ax.add_patch(
            FancyBboxPatch(
                (x - width / 2, box_top - box_h),
                width,
                box_h,
                boxstyle="round,pad=0.02",
                fc=colour,
                ec=_HIGHLIGHT if is_changed else "black",
                lw=2.4 if is_changed else 0.8,
            )
        )
        ax.text(x, box_top - box_h / 2, op.label, ha="center", va="center", fontsize=7.5)
        prev_bottom, y = box_top - box_h, box_top - box_h - gap
    downsampling = [i for i, o in enumerate(drawn) if o.branch == "downsample"]
    if downsampling:  # a dashed frame around the separate downsampling layer
        frame_top = -downsampling[0] * (box_h + gap) + 0.12
        frame_bottom = -downsampling[-1] * (box_h + gap) - box_h - 0.12
        ax.add_patch(
            Rectangle(
                (x - width / 2 - 0.12, frame_bottom),
                width + 0.24,
                frame_top - frame_bottom,
                fill=False,
                ls="--",
                lw=0.8,
                ec="#555555",
            )
        )
        ax.text(
            x - width / 2 - 0.3,
            (frame_top + frame_bottom) / 2,
            "downsampling",
            ha="center",
            va="center",
            rotation=90,
            fontsize=6.5,
            color="#555555",
        )
    residual = any(o.kind == "add" for o in ops)
    if not residual:  # a stem: no residual add, no shortcut
        ax.text(x, y + gap - 0.12, f"output {_shape(ops[-1])}", ha="center", va="top", fontsize=7, color="#555555")
        return y
    if not after_add:
        add_y = y - 0.25
        if layout != "NCHW":  # back to channels-first before the residual add
            ax.text(
                x + 0.08,
                (prev_bottom + add_y + 0.22) / 2,
                "permute to NCHW",
                fontsize=6.5,
                style="italic",
                va="center",
                color="#555555",
            )
        ax.add_patch(Circle((x, add_y), 0.22, fill=False, lw=1.2))
        ax.text(x, add_y, "+", ha="center", va="center", fontsize=11)
        _arrow(ax, x, prev_bottom, add_y + 0.22)
        prev_bottom, y = add_y - 0.22, add_y - 0.22 - gap
    # The shortcut: from the block's input (below any downsampling layer) down the right side to the add.
    first_block = next((i for i, o in enumerate(drawn) if o.branch != "downsample"), 0)
    start = top if first_block == 0 else -first_block * (box_h + gap) + gap / 2
    side = x + width / 2 + 0.25
    colour = _HIGHLIGHT if shortcut_changed else "black"
    ax.plot([x, side, side], [start, start, add_y], color=colour, lw=1.2 if not shortcut_changed else 2.2)
    _arrow(ax, side, add_y, add_y, x_end=x + 0.22, colour=colour)
    ax.text(
        side + 0.16,
        (start + add_y) / 2,
        "shortcut: " + _shortcut_label(ops),
        fontsize=6.5,
        va="center",
        ha="center",
        rotation=90,
        rotation_mode="anchor",
        color=colour,
    )
    ax.text(x, y + gap - 0.12, f"output {_shape(ops[-1])}", ha="center", va="top", fontsize=7, color="#555555")
    return y


def _shape(op: Op) -> str:
    return "(" + ", ".join(str(d) for d in op.shape[1:]) + ")"


def _arrow(ax, x, y0, y1, x_end=None, colour="black"):
    ax.add_patch(
        FancyArrowPatch(
            (x, y0),
            (x_end if x_end is not None else x, y1),
            arrowstyle="-|>",
            mutation_scale=8,
            lw=0.9,
            color=colour,
            shrinkA=0,
            shrinkB=0,
        )
    )


def block_diagram_figure(
    steps: Sequence[int | str | Step],
    stage: int = 0,
    index: int = 1,
    with_downsample: bool = False,
    highlight: bool = True,
    titles: Sequence[str] | None = None,
    part: str = "block",
) -> Figure:
    """Block diagrams of several steps side by side, traced from their networks.

    Each column is one block (default: stage 1's second block), top to bottom: its layers with kind, kernel and
    widths, the memory-layout changes, the residual add and the shortcut (identity or projection) on the right.
    With `highlight`, the layers a column adds or changes against the column to its left are outlined in red.
    """
    steps = [get_step(s) for s in steps]
    traced = [block_ops(s, stage, index, with_downsample, part) for s in steps]
    titles = titles or [f"{s.id[:2]}  {s.title}" if s.id[:2].isdigit() else s.title for s in steps]  # extensions: title
    longest = max(len(_drawn(ops)) for ops in traced)
    fig, ax = plt.subplots(figsize=(2.9 * len(steps) + 0.6, 0.78 * longest + 1.6))
    bottom = 0.0
    for i, (ops, title) in enumerate(zip(traced, titles)):
        changed = changed_ops(traced[i - 1], ops) if highlight and i > 0 else None
        shortcut_changed = bool(highlight and i > 0 and _shortcut_label(ops) != _shortcut_label(traced[i - 1]))
        bottom = min(bottom, _column(ax, 4.0 * i, title, ops, changed, shortcut_changed))
    ax.set_xlim(-2.3, 4.0 * (len(steps) - 1) + 2.0)
    ax.set_ylim(bottom - 0.3, 1.3)
    ax.set_aspect("equal")
    ax.axis("off")
    handles = [
        Patch(fc=KIND_COLOURS[k], ec="black", label=k)
        for k in ("conv", "depthwise conv", "norm", "activation", "layer scale")
    ]
    if highlight and len(steps) > 1:
        handles.append(Patch(fc="white", ec=_HIGHLIGHT, lw=2, label="new or changed vs. the left"))
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=7, frameon=False)
    where = f"stage {stage + 1}, block {index + 1}" + (" and what precedes it" if with_downsample else "")
    where = "the stem" if part == "stem" else where
    fig.suptitle(f"Traced from the networks: {where}, 224x224 input", fontsize=9)
    fig.tight_layout(rect=(0, 0.07, 1, 0.97))
    return fig


# Where each step's change shows (default: stage 1's second block): the stem for step 02, and the first block of
# stage 2 with what precedes it for step 12, whose change is the separate downsampling layer.
STEP_VIEWS = {2: {"part": "stem"}, 12: {"stage": 1, "index": 0, "with_downsample": True}}


def step_diagram_figure(step: int | str | Step) -> Figure:
    """A step's block diagram beside its predecessor's, the layers it changes outlined in red."""
    step = get_step(step)
    steps = [step] if step.previous is None else [step.previous, step]
    return block_diagram_figure(steps, **STEP_VIEWS.get(step.index, {}))


def norm_axes_figure(n: int = 3, c: int = 6, hw: int = 5) -> Figure:
    """Which values one normalisation group covers: BatchNorm, ConvNeXt's LayerNorm, GroupNorm(1, C).

    Each panel is a batch laid out as N samples side by side, each sample C rows (channels) by H*W columns
    (pixels). The shaded cells share one mean and one variance.
    """
    groups = {
        "BatchNorm: one channel,\nover the batch and all pixels": lambda s, ch, p: ch == 2,
        "ConvNeXt's LayerNorm: one pixel,\nover its channels": lambda s, ch, p: s == 1 and p == 2,
        "GroupNorm(1, C): one sample,\nover channels and pixels": lambda s, ch, p: s == 1,
    }
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups), 2.9))
    for ax, (title, inside) in zip(axes, groups.items()):
        for s in range(n):
            x0 = s * (hw + 1)
            for ch in range(c):
                for p in range(hw):
                    ax.add_patch(
                        Rectangle(
                            (x0 + p, c - 1 - ch),
                            1,
                            1,
                            fc="#3182bd" if inside(s, ch, p) else "white",
                            ec="#999999",
                            lw=0.6,
                        )
                    )
            ax.text(x0 + hw / 2, -0.5, f"sample {s + 1}", ha="center", va="top", fontsize=8)
        ax.text(-0.4, c / 2, "C (channels)", rotation=90, ha="right", va="center", fontsize=8)
        ax.text(n * (hw + 1) / 2 - 0.5, c + 0.3, "H x W (pixels) of each sample", ha="center", va="bottom", fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.set_xlim(-1.6, n * (hw + 1))
        ax.set_ylim(-1.6, c + 1.4)
        ax.set_aspect("equal")
        ax.axis("off")
    fig.tight_layout()
    return fig


def weight_tensor_figure(dense: torch.Tensor, depthwise: torch.Tensor) -> Figure:
    """A dense conv's weight (C_out, C_in, k, k) beside a depthwise one (C, 1, k, k), as grids of k x k kernels.

    Row i, column j of a grid is the kernel that carries input channel j into output channel i; the depthwise
    conv has only the diagonal: channel i feeds channel i alone.
    """
    if dense.ndim != 4 or depthwise.ndim != 4 or depthwise.shape[1] != 1:
        raise ValueError(
            f"expected (C_out, C_in, k, k) and (C, 1, k, k) weights, got {tuple(dense.shape)} and "
            f"{tuple(depthwise.shape)}"
        )
    c_out, c_in, k, _ = dense.shape
    full = dense.permute(0, 2, 1, 3).reshape(c_out * k, c_in * k)
    diagonal = torch.full((depthwise.shape[0] * k, depthwise.shape[0] * k), float("nan"))
    for i in range(depthwise.shape[0]):
        diagonal[i * k : (i + 1) * k, i * k : (i + 1) * k] = depthwise[i, 0]
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 4.4))
    limit = max(dense.abs().max().item(), depthwise.abs().max().item())
    for ax, grid, title in (
        (axes[0], full, f"dense {k}x{k} conv: {dense.numel():,} weights"),
        (axes[1], diagonal, f"depthwise {k}x{k} conv: {depthwise.numel():,} weights"),
    ):
        image = ax.imshow(grid.detach().numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_xticks([k * j + (k - 1) / 2 for j in range(grid.shape[1] // k)], range(grid.shape[1] // k), fontsize=7)
        ax.set_yticks([k * i + (k - 1) / 2 for i in range(grid.shape[0] // k)], range(grid.shape[0] // k), fontsize=7)
        for edge in range(1, grid.shape[0] // k):
            ax.axhline(edge * k - 0.5, color="#bbbbbb", lw=0.5)
            ax.axvline(edge * k - 0.5, color="#bbbbbb", lw=0.5)
        ax.set_xlabel("input channel")
        ax.set_ylabel("output channel")
        ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=list(axes), shrink=0.7, label="weight")
    return fig
