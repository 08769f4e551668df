"""Drawn pictures: block diagrams traced from the models, what a norm normalises over, dense vs depthwise weights.

Like `plots`, every function takes data (or a step) and returns a matplotlib Figure; nothing here is hand-drawn:
a block diagram is `trace.trace_block` of the step's own network, drawn box by box, each box as wide as its
channels (a 1x1 conv that changes the width is a trapezoid), and `changed_ops` decides which boxes are outlined.
"""

from __future__ import annotations

import functools
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import torch
from matplotlib import patheffects
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Patch, Polygon, Rectangle
from torch import nn

from .layers import LayerNorm2d
from .roadmap import ROADMAP, Step, get_step
from .steps.ext_v2_grn import GRN
from .trace import Op, block_at, trace_block, trace_stem

__all__ = [
    "KIND_COLOURS",
    "STEP_VIEWS",
    "block_ops",
    "layer_descriptions",
    "changed_ops",
    "removed_ops",
    "trace_changes",
    "block_diagram_figure",
    "step_diagram_figure",
    "roadmap_strip",
    "norm_axes_figure",
    "weight_tensor_figure",
]

KIND_COLOURS = {
    "conv": "#9ecae1",  # blue
    "linear": "#9ecae1",  # a 1x1 conv written as nn.Linear on channels-last: the same layer
    "depthwise conv": "#fdae6b",  # orange
    "norm": "#a1d99b",  # green
    "activation": "#f7e46d",  # yellow
    "layer scale": "#e7a6d4",  # pink
    "pool": "#bdbdbd",  # grey
}
_LEGEND_NAMES = {"conv": "conv (1x1 as nn.Linear too)", "pool": "max-pool"}
_HIGHLIGHT = "#d62728"
_SKIP = ("input", "identity", "drop path", "permute", "add")
_WIDEST = 3.0  # drawn width of the widest layer of a figure; the others in proportion to their channels
_BOX_H, _GAP = 0.62, 0.38
_HALO = [patheffects.withStroke(linewidth=2.5, foreground="white")]  # labels stay legible across narrow boxes' edges


def block_ops(
    step: int | str | Step, stage: int = 0, index: int = 1, with_downsample: bool = False, part: str = "block"
) -> list[Op]:
    """The traced operations a diagram draws: a block (see `trace.trace_block`) or, with part="stem", the stem."""
    if part not in ("block", "stem"):
        raise ValueError(f"part must be 'block' or 'stem', got {part!r}")
    return list(_traced(get_step(step).id, stage, index, with_downsample, part))


@functools.lru_cache(maxsize=64)
def _traced(step_id: str, stage: int, index: int, with_downsample: bool, part: str) -> tuple[Op, ...]:
    if part == "stem":
        return tuple(trace_stem(step_id))
    return tuple(trace_block(step_id, stage, index, with_downsample=with_downsample))


def _describe(m: nn.Module, op: Op | None) -> tuple:
    """What makes a layer this layer: type, widths, kernel, stride, groups, bias (a 1x1 nn.Linear is a 1x1 conv)."""
    if isinstance(m, nn.Conv2d):
        return ("conv", m.in_channels, m.out_channels, m.kernel_size, m.stride, m.groups, m.bias is not None)
    if isinstance(m, nn.Linear):
        return ("conv", m.in_features, m.out_features, (1, 1), (1, 1), 1, m.bias is not None)
    if isinstance(m, nn.BatchNorm2d):
        return ("BN", m.num_features, m.eps)
    if isinstance(m, (nn.LayerNorm, LayerNorm2d)):  # over channels, on NCHW or on channels-last: one norm
        return ("LN", m.normalized_shape, m.eps, m.weight is not None)
    if isinstance(m, nn.GroupNorm):
        return ("GN", m.num_groups, m.num_channels, m.eps)
    if isinstance(m, GRN):
        return ("GRN", m.gamma.shape[-1], m.eps)
    if isinstance(m, nn.MaxPool2d):
        return ("pool", m.kernel_size, m.stride, m.padding)
    return (type(m).__name__, m.extra_repr())


def layer_descriptions(
    step: int | str | Step, stage: int = 0, index: int = 1, with_downsample: bool = False, part: str = "block"
) -> dict[str, tuple]:
    """Module name (as `block_ops` names its ops) -> what defines that layer (see `_describe`), for one view."""
    return dict(_descriptions(get_step(step).id, stage, index, with_downsample, part))


@functools.lru_cache(maxsize=64)
def _descriptions(step_id: str, stage: int, index: int, with_downsample: bool, part: str) -> tuple:
    with torch.device("meta"):  # structure only
        model = get_step(step_id).build()
    if part == "stem":
        return tuple((n, _describe(m, None)) for n, m in model.stem.named_modules() if n)
    described = [(n, _describe(m, None)) for n, m in block_at(model, stage, index).named_modules() if n]
    if with_downsample:
        described += [
            (f"downsample.{n}", _describe(m, None)) for n, m in model.stages[stage].downsample.named_modules() if n
        ]
    return tuple(described)


def _drawn(ops: Sequence[Op]) -> list[Op]:
    return [o for o in ops if o.kind not in _SKIP and o.branch != "shortcut"]


def _shortcut_label(ops: Sequence[Op]) -> str:
    parts = [o.label for o in ops if o.branch == "shortcut" and o.kind != "identity"]
    return " + ".join(parts) if parts else "identity"


@dataclass(frozen=True)
class _Layer:
    name: str
    branch: str
    what: tuple


def _layers(ops: Sequence[Op], described: dict[str, tuple] | None) -> list[_Layer]:
    described = described or {}
    return [_Layer(o.name, o.branch, described.get(o.name, (o.kind, o.label))) for o in _drawn(ops)]


def _align(old: list[_Layer], new: list[_Layer]) -> list[tuple[int, int]]:
    """The best order-keeping pairing of old and new layers (Needleman-Wunsch, no gap cost).

    A pair scores 3 when name and description agree, 2 when only the description does (a layer renamed, or moved
    into another class), 1 when only the name does (the layer in that place, changed); other pairs are not allowed.
    """

    def score(a: _Layer, b: _Layer) -> int:
        if a.branch != b.branch:
            return 0
        return 2 * (a.what == b.what) + (a.name == b.name)

    best = [[0] * (len(new) + 1) for _ in range(len(old) + 1)]
    for i in range(len(old) - 1, -1, -1):
        for j in range(len(new) - 1, -1, -1):
            s = score(old[i], new[j])
            best[i][j] = max(best[i + 1][j], best[i][j + 1], best[i + 1][j + 1] + s if s else 0)
    pairs, i, j = [], 0, 0
    while i < len(old) and j < len(new):
        s = score(old[i], new[j])
        if s and best[i][j] == best[i + 1][j + 1] + s:
            pairs.append((i, j))
            i, j = i + 1, j + 1
        elif best[i][j] == best[i + 1][j]:
            i += 1
        else:
            j += 1
    return pairs


def changed_ops(
    before: Sequence[Op],
    after: Sequence[Op],
    described_before: dict[str, tuple] | None = None,
    described_after: dict[str, tuple] | None = None,
) -> list[bool]:
    """For each drawn op of `after`: True where it is new, or its type, width, kernel, groups, bias or place changed.

    Layers are paired in order (`_align`); an unpaired layer is new (or moved: the pairing keeps the order), a
    paired one changed where its description differs. Descriptions come from `layer_descriptions`; without them
    the traced labels are compared (they show type, widths, kernel, stride and groups, but not the bias).
    """
    old, new = _layers(before, described_before), _layers(after, described_after)
    changed = [True] * len(new)
    for i, j in _align(old, new):
        changed[j] = old[i].what != new[j].what
    return changed


def removed_ops(
    before: Sequence[Op],
    after: Sequence[Op],
    described_before: dict[str, tuple] | None = None,
    described_after: dict[str, tuple] | None = None,
) -> list[bool]:
    """For each drawn op of `before`: True where `after` has no such layer any more (a moved layer is not removed)."""
    old, new = _layers(before, described_before), _layers(after, described_after)
    pairs = _align(old, new)
    kept, paired_new = {i for i, _ in pairs}, {j for _, j in pairs}
    arriving = [b for j, b in enumerate(new) if j not in paired_new]
    moved = {(b.branch, b.what) for b in arriving} | {(b.branch, b.name) for b in arriving}  # moved is not gone
    return [i not in kept and not {(a.branch, a.what), (a.branch, a.name)} & moved for i, a in enumerate(old)]


def trace_changes(step: int | str | Step) -> list[tuple[Op | None, Op | None, str]]:
    """What a step changes in its block (seen as in `step_diagram_figure`): (old, new, what) in the new order.

    (old, new, what): the layer in that place changed, `what` says how; (None, new, "new here"): new; (None, new,
    "moved here", or "moved here, was <its old label>"): a layer of the old block, by name, now in another place;
    (old, None, "gone"): gone. Unchanged layers are left out.
    """
    step = get_step(step)
    if step.previous is None:
        raise ValueError(f"step {step.id} is the starting point: nothing before it to compare with")
    view = STEP_VIEWS.get(step.index, {})
    before, after = block_ops(step.previous, **view), block_ops(step, **view)
    described = layer_descriptions(step.previous, **view), layer_descriptions(step, **view)
    old, new = _layers(before, described[0]), _layers(after, described[1])
    old_ops, new_ops = _drawn(before), _drawn(after)
    pairs = dict((j, i) for i, j in _align(old, new))
    left = {(a.branch, a.name): o for i, (a, o) in enumerate(zip(old, old_ops)) if i not in pairs.values()}
    changes = []
    for j, op in enumerate(new_ops):
        i = pairs.get(j)
        if i is None:
            was = left.pop((new[j].branch, new[j].name), None)  # the old block's layer of that name, left unpaired
            moved = "moved here" if was is None or was.label == op.label else f"moved here, was {was.label}"
            changes.append((None, op, "new here" if was is None else moved))
        elif old[i].what != new[j].what:
            changes.append((old_ops[i], op, _how(old_ops[i], op, old[i].what, new[j].what)))
    gone = removed_ops(before, after, *described)
    return changes + [(o, None, "gone") for o, r in zip(old_ops, gone) if r]


def _how(old: Op, new: Op, was: tuple, now: tuple) -> str:
    if old.label != new.label:
        return f"was {old.label}"
    if was[0] == now[0] == "conv" and was[6] != now[6]:  # (conv, in, out, kernel, stride, groups, bias)
        return "gains a bias" if now[6] else "loses its bias"
    return f"was {was}"


def _channels(op: Op) -> int:
    return op.shape[-1] if op.layout == "NHWC" else op.shape[1]


def _note(ax, x: float, y: float, text: str) -> None:
    ax.text(x + 0.08, y, text, fontsize=6.5, style="italic", va="center", color="#555555")


def _draw_add(ax, x: float, prev_bottom: float, y: float) -> float:
    """The residual add, a circled +, just below `y`; returns its bottom."""
    add_y = y - 0.25
    ax.add_patch(Circle((x, add_y), 0.22, fill=False, lw=1.2))
    ax.text(x, add_y, "+", ha="center", va="center", fontsize=11)
    _arrow(ax, x, prev_bottom, add_y + 0.22)
    return add_y


def _draw_layer(ax, x: float, top: float, op: Op, widths: tuple[float, float], changed: bool, removed: bool) -> None:
    """One layer's box: as wide as its channels; a trapezoid where it changes the width (a 1x1 conv)."""
    w_in, w_out = widths
    style = dict(
        fc=KIND_COLOURS.get(op.kind, "#eeeeee"),
        ec=_HIGHLIGHT if changed else ("#777777" if removed else "black"),
        lw=2.4 if changed else 0.8,
        ls="--" if removed else "-",
        alpha=0.45 if removed else 1.0,
    )
    if abs(w_in - w_out) > 1e-9:
        corners = [
            (x - w_in / 2, top),
            (x + w_in / 2, top),
            (x + w_out / 2, top - _BOX_H),
            (x - w_out / 2, top - _BOX_H),
        ]
        ax.add_patch(Polygon(corners, closed=True, **style))
    else:
        ax.add_patch(FancyBboxPatch((x - w_out / 2, top - _BOX_H), w_out, _BOX_H, boxstyle="round,pad=0.02", **style))
    ax.text(
        x, top - _BOX_H / 2, op.label, ha="center", va="center", fontsize=7.5, alpha=0.6 if removed else 1.0,
        path_effects=_HALO,
    )  # fmt: skip


def _draw_downsample_frame(ax, x: float, half: float, first: int, last: int) -> None:
    """A dashed frame around the separate downsampling layer (drawn rows `first`..`last`)."""
    frame_top = -first * (_BOX_H + _GAP) + 0.3 + 0.12
    frame_bottom = -last * (_BOX_H + _GAP) + 0.3 - _BOX_H - 0.12
    ax.add_patch(
        Rectangle(
            (x - half - 0.12, frame_bottom), 2 * half + 0.24, frame_top - frame_bottom, fill=False, ls="--", lw=0.8
        )
    )
    ax.text(
        x - half - 0.3, (frame_top + frame_bottom) / 2, "downsampling", ha="center", va="center", rotation=90,
        fontsize=6.5, color="#555555",
    )  # fmt: skip


def _draw_shortcut(ax, x: float, half: float, start: float, add_y: float, label: str, changed: bool) -> None:
    """The shortcut: from the block's input down the right side into the add."""
    side = x + half + 0.25
    colour = _HIGHLIGHT if changed else "black"
    ax.plot([x, side, side], [start, start, add_y], color=colour, lw=2.2 if changed else 1.2)
    _arrow(ax, side, add_y, add_y, x_end=x + 0.22, colour=colour)
    ax.text(
        side + 0.16, (start + add_y) / 2, "shortcut: " + label, fontsize=6.5, va="center", ha="center", rotation=90,
        rotation_mode="anchor", color=colour,
    )  # fmt: skip


def _column(ax, x: float, title: str, ops: Sequence[Op], marks: dict, scale: float) -> float:
    """One block drawn top to bottom at `x`; returns the lowest y used. `marks`: changed, removed, shortcut."""
    drawn = _drawn(ops)
    changed = marks.get("changed") or [False] * len(drawn)
    removed = marks.get("removed") or [False] * len(drawn)
    width = [max(0.3, scale * _channels(o)) for o in drawn]
    half = max([scale * _channels(ops[0]), *width]) / 2
    ax.text(x, 0.9, textwrap.fill(title, 26), ha="center", va="bottom", fontsize=9, weight="bold")  # no run-ins
    ax.text(
        x, 0.35, f"input {_shape(ops[0])}", ha="center", va="bottom", fontsize=7, color="#555555", path_effects=_HALO
    )
    top = y = prev_bottom = 0.3
    layout, add_y, w_prev = "NCHW", None, max(0.3, scale * _channels(ops[0]))
    for i, op in enumerate(drawn):
        if op.branch == "after" and add_y is None:  # the residual add comes before this layer
            add_y = _draw_add(ax, x, prev_bottom, y)
            prev_bottom, y = add_y - 0.22, add_y - 0.22 - _GAP
        if op.layout != layout and op.layout in ("NCHW", "NHWC"):
            _note(ax, x, (prev_bottom + y) / 2, f"permute to {op.layout}")
            layout = op.layout
        _arrow(ax, x, prev_bottom, y)
        _draw_layer(
            ax, x, y, op, (w_prev if op.kind in ("conv", "linear") else width[i], width[i]), changed[i], removed[i]
        )
        prev_bottom, y, w_prev = y - _BOX_H, y - _BOX_H - _GAP, width[i]
    downsampling = [i for i, o in enumerate(drawn) if o.branch == "downsample"]
    if downsampling:
        _draw_downsample_frame(ax, x, half, downsampling[0], downsampling[-1])
    if any(o.kind == "add" for o in ops):  # a block (a stem has no residual add)
        if add_y is None:
            if layout != "NCHW":  # back to channels-first before the residual add
                _note(ax, x, (prev_bottom + y - 0.03) / 2, "permute to NCHW")
            add_y = _draw_add(ax, x, prev_bottom, y)
            prev_bottom, y = add_y - 0.22, add_y - 0.22 - _GAP
        first = next((i for i, o in enumerate(drawn) if o.branch != "downsample"), 0)
        start = top if first == 0 else -first * (_BOX_H + _GAP) + 0.3 + _GAP / 2
        _draw_shortcut(ax, x, half, start, add_y, _shortcut_label(ops), marks.get("shortcut", False))
    ax.text(x, y + _GAP - 0.12, f"output {_shape(ops[-1])}", ha="center", va="top", fontsize=7, color="#555555")
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


def _legend(fig, kinds: set[str], highlighted: bool, removed: bool) -> None:
    """Only what the figure draws: its kinds of layer, the outline and the faded boxes where they occur."""
    kinds = {"conv" if k == "linear" else k for k in kinds}
    handles = [Patch(fc=KIND_COLOURS[k], ec="black", label=_LEGEND_NAMES.get(k, k)) for k in KIND_COLOURS if k in kinds]
    if highlighted:
        handles.append(Patch(fc="white", ec=_HIGHLIGHT, lw=2, label="new or changed vs. the left"))
    if removed:
        handles.append(Patch(fc="white", ec="#777777", ls="--", label="gone on the right"))
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=7, frameon=False)


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
    widths, each box as wide as its channels, the memory-layout changes, the residual add and the shortcut
    (identity or projection) on the right. With `highlight`, the layers a column adds or changes against the
    column to its left are outlined in red, and layers the next column drops are drawn faded and dashed.
    """
    steps = [get_step(s) for s in steps]
    view = (stage, index, with_downsample, part)
    traced = [block_ops(s, *view) for s in steps]
    described = [layer_descriptions(s, *view) for s in steps] if highlight else [None] * len(steps)
    titles = titles or [f"{s.id[:2]}  {s.title}" if s.id[:2].isdigit() else s.title for s in steps]  # extensions: title
    longest = max(len(_drawn(ops)) + 1 for ops in traced)
    widest = max(_channels(o) for ops in traced for o in ops if o.kind not in _SKIP or o.kind == "input")
    fig, ax = plt.subplots(figsize=(3.2 * len(steps) + 0.6, 0.78 * longest + 1.6))
    bottom, marks = 0.0, [{} for _ in steps]
    for i in range(1, len(steps) if highlight else 0):
        marks[i]["changed"] = changed_ops(traced[i - 1], traced[i], described[i - 1], described[i])
        marks[i]["shortcut"] = _shortcut_label(traced[i]) != _shortcut_label(traced[i - 1])
        marks[i - 1]["removed"] = removed_ops(traced[i - 1], traced[i], described[i - 1], described[i])
    for i, (ops, title) in enumerate(zip(traced, titles)):
        bottom = min(bottom, _column(ax, 4.4 * i, title, ops, marks[i], _WIDEST / widest))
    ax.set_xlim(-2.4, 4.4 * (len(steps) - 1) + 2.3)
    title_lines = max(textwrap.fill(t, 26).count("\n") + 1 for t in titles)
    ax.set_ylim(bottom - 0.3, 1.3 + 0.32 * (title_lines - 1))
    ax.set_aspect("equal")
    ax.axis("off")
    _legend(
        fig,
        {o.kind for ops in traced for o in _drawn(ops)},
        highlighted=any(any(m.get("changed") or []) or m.get("shortcut") for m in marks),
        removed=any(any(m.get("removed") or []) for m in marks),
    )
    where = f"stage {stage + 1}, block {index + 1}" + (" and what precedes it" if with_downsample else "")
    where = "the stem" if part == "stem" else where
    fig.suptitle(f"Traced from the networks: {where}, 224x224 input; box width = channels", fontsize=9)
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


# The roadmap strip's boxes past the paper's 13 steps: (label, notebook, the extension steps it covers).
_EXTENSION_BOXES = (
    ("isotropic", "16", ("isotropic_s", "isotropic_b", "isotropic_l")),
    ("V2 GRN", "17", ("v2_tiny",)),
)
_SECTIONS = {
    0: "start",
    1: "macro design",
    3: "ResNeXt",
    5: "inverted\nbottleneck",
    6: "large kernel",
    8: "micro design",
}
_SHORT = ("ResNet-50", "stage ratio", "patchify", "depthwise", "width 96", "inverted", "dwconv up", "7x7", "GELU",
          "fewer acts", "fewer norms", "BN -> LN", "downsampling")  # fmt: skip


def roadmap_strip(step: int | str | Step | None = None) -> Figure:
    """ "You are here": the paper's 13 steps in a row (grouped as in its Fig. 2), this step highlighted, the steps
    before it shaded; the extensions past the paper (notebooks 16 and 17) apart on the right. `None`: no highlight.
    """
    here = get_step(step).id if step is not None else None
    fig, ax = plt.subplots(figsize=(10, 1.25))
    passed = here is not None and any(s.id == here for s in ROADMAP)
    index = {s.id: s.index for s in ROADMAP}.get(here, len(ROADMAP) if here else -1)
    for s in ROADMAP:
        fc = "#ff7f0e" if s.id == here else ("#c6dbef" if s.index < index or not passed and here else "white")
        _strip_box(ax, s.index, s.id[:2], _SHORT[s.index], fc, bold=s.id == here)
    for first, name in _SECTIONS.items():
        last = min([i for i in _SECTIONS if i > first], default=len(ROADMAP)) - 1
        ax.plot([first - 0.42, last + 0.42], [0.62, 0.62], color="#777777", lw=0.8)
        ax.text((first + last) / 2, 0.68, name, ha="center", va="bottom", fontsize=6.5, style="italic")
    x0 = len(ROADMAP) + 0.6
    ax.text(x0 + 0.5, 0.68, "past the paper", ha="center", va="bottom", fontsize=6.5, style="italic")
    for k, (label, notebook, ids) in enumerate(_EXTENSION_BOXES):
        _strip_box(ax, x0 + k, notebook, label, "#ff7f0e" if here in ids else "white", bold=here in ids, dashed=True)
    ax.set_xlim(-0.6, x0 + len(_EXTENSION_BOXES) - 0.4)
    ax.set_ylim(-0.95, 1.12)
    ax.set_aspect("equal")
    ax.axis("off")
    fig.subplots_adjust(0, 0, 1, 1)
    return fig


def _strip_box(ax, x: float, number: str, title: str, fc: str, bold: bool, dashed: bool = False) -> None:
    ax.add_patch(
        FancyBboxPatch(
            (x - 0.4, -0.4), 0.8, 0.8, boxstyle="round,pad=0.03", fc=fc, ec="black", lw=1.6 if bold else 0.7,
            ls="--" if dashed else "-",
        )
    )  # fmt: skip
    ax.text(x, 0.0, number, ha="center", va="center", fontsize=8, weight="bold" if bold else "normal")
    ax.text(x, -0.5, title, ha="center", va="top", fontsize=6)


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
