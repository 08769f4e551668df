"""Display helpers for the notebooks: a step's design diff, a class's source, a block's shape trace, tables.

Each renders as a Markdown code block in Jupyter; its plain-text form (what a console, or nbval, sees) is the text
itself, with no object address, so it is the same on every run and machine.
"""

from __future__ import annotations

import html
import inspect
import re
import textwrap

import torch
from IPython.display import Markdown
from torch import nn

from .design import design_diff
from .measure import count_macs, count_params, stage_shapes
from .roadmap import Step, get_step
from .trace import format_trace, trace_block, trace_stem

__all__ = [
    "Code",
    "Diff",
    "show_design_diff",
    "show_class",
    "show_trace",
    "paper_check",
    "step_row",
    "format_table",
]


class Code(Markdown):
    """A fenced code block for Jupyter; `repr()` is the bare text (no object address)."""

    def __init__(self, text: str, language: str = "python"):
        self.text = text.rstrip("\n")
        super().__init__(f"```{language}\n{self.text}\n```")

    def __repr__(self) -> str:
        return self.text


# A diff read like a code review: removed lines red, added green, hunk headers blue, nothing wrapped (it scrolls).
_DIFF_STYLES = {
    "-": "background:#ffebe9;color:#82071e",
    "+": "background:#dafbe1;color:#116329",
    "@": "color:#0550ae",
    "header": "font-weight:bold",
}
_PRE_STYLE = (
    "white-space:pre;overflow-x:auto;font-family:monospace;font-size:12px;line-height:1.35;"
    "padding:6px 8px;background:#f6f8fa;color:#1f2328;border:1px solid #d0d7de;border-radius:4px"
)


class Diff(Code):
    """A unified diff: HTML with inline-styled lines (JupyterLab, nbviewer, GitHub, Sphinx/MyST keep inline styles),
    a fenced `diff` block as Markdown, and the bare text as plain text."""

    def __init__(self, text: str):
        super().__init__(text, "diff")

    def _repr_html_(self) -> str:
        lines = []
        for line in self.text.splitlines():
            if line.startswith(("+++", "---")):
                style = _DIFF_STYLES["header"]
            else:
                style = _DIFF_STYLES.get(line[:1], "")
            escaped = html.escape(line)
            field = re.fullmatch(r"(  \w+: )(.*) -&gt; (.*)", escaped)
            if field and not style:  # a config field that changes: old value red, new value green
                start, old, new = field.groups()
                red, green = _DIFF_STYLES["-"], _DIFF_STYLES["+"]
                escaped = f'{start}<span style="{red}">{old}</span> -&gt; <span style="{green}">{new}</span>'
            lines.append(
                f'<span style="display:inline-block;min-width:100%;{style}">{escaped}</span>' if style else escaped
            )
        return f'<pre style="{_PRE_STYLE}">' + "\n".join(lines) + "</pre>"


def show_design_diff(step: int | str | Step, other: int | str | Step | None = None) -> Diff:
    """`design_diff(step)` (or from `step` to `other`), rendered as a diff: removed lines red, added green."""
    return Diff(design_diff(step, other))


def show_class(cls: type) -> Code:
    """A class's source, rendered as a Python block."""
    return Code(textwrap.dedent(inspect.getsource(cls)), "python")


def show_trace(
    step: int | str | Step,
    stage: int = 0,
    index: int = 1,
    with_downsample: bool = False,
    part: str = "block",
    changed_only: bool = False,
) -> Code:
    """Every operation of one block of a step (default: stage 1's second block), or of its stem (part="stem"),
    with its output shape and memory layout. `changed_only`: only the layers the step changes, each with what it
    was (where the rest of the trace would repeat the previous notebook's)."""
    if changed_only:
        return Code(_format_changes(get_step(step)), "text")
    if part == "stem":
        return Code(format_trace(trace_stem(step)), "text")
    return Code(format_trace(trace_block(step, stage, index, with_downsample=with_downsample)), "text")


def _format_changes(step: Step) -> str:
    from .diagrams import trace_changes  # matplotlib: only when asked for

    changes = trace_changes(step)
    new = [(n, how) for _, n, how in changes if n is not None]
    lines = format_trace([n for n, _ in new]).splitlines() if new else []
    width = max((len(line) for line in lines), default=0)
    out = [f"{line:<{width}}  <- {how}" for line, (_, how) in zip(lines, new)]
    out += [f"gone: {o.name} ({o.label})" for o, n, _ in changes if n is None]
    head = f"what {step.id} changes in the block against {step.previous} (all else as before):"
    return "\n".join([head, *out]) if out else f"{step.id} changes no layer of the block against {step.previous}"


def paper_check(
    step: int | str | Step, model: nn.Module | None = None, previous_model: nn.Module | None = None
) -> Code:
    """A step against the one before it and the paper: the feature maps of one 224x224 image (printed where they
    change), exact parameter counts, multiply-adds by PyTorch's FLOP counter (one multiply-add = one FLOP, the
    paper's convention) beside Table 10's GFLOPs and top-1. Models built on the meta device cost nothing here."""
    step = get_step(step)
    previous = get_step(step.previous) if step.previous is not None else None
    with torch.device("meta"):
        model = model if model is not None else step.build()
        if previous is not None:
            previous_model = previous_model if previous_model is not None else previous.build()
    shapes = stage_shapes(model, 224)
    if previous is not None and stage_shapes(previous_model, 224) == shapes:
        lines = [f"feature maps after the stem and stages 1-4: as step {previous.id[:2]}'s"]
    else:
        lines = ["feature maps (C, H, W) after the stem and stages 1-4: " + ", ".join(map(str, shapes))]
    rows = ([step_row(previous, previous_model)] if previous is not None else []) + [step_row(step, model)]
    lines += ["", format_table(rows), ""]
    lines.append(f"our GMACs round to the paper's GFLOPs: {round(rows[-1]['gmacs'], 2) == step.paper_gflops}")
    return Code("\n".join(lines), "text")


def step_row(step: int | str | Step, model: nn.Module, image_size: int = 224) -> dict:
    """One table row: a built step's parameters and measured GMACs beside the paper's GFLOPs and top-1."""
    step = get_step(step)
    return dict(
        id=step.id,
        params=count_params(model),
        gmacs=count_macs(model, image_size) / 1e9,
        paper_gflops=step.paper_gflops,
        paper_top1=step.paper_top1,
    )


# column -> (header, format); other columns print with str(), or 2 decimals for floats
_COLUMNS = {
    "id": ("step", "{}"),
    "params": ("params", "{:,}"),
    "gmacs": ("GMACs (ours)", "{:.3f}"),
    "paper_gflops": ("GFLOPs (paper)", "{:.2f}"),
    "paper_top1": ("top-1 (paper)", "{:.2f}"),
    "paper_params_m": ("params (M, published)", "{:g}"),
    "latency_ms": ("latency (ms)", "{:.1f}"),
    "ms_per_gmac": ("ms per GMAC", "{:.1f}"),
    "rounds_to_paper": ("rounds to paper", "{}"),
}


def format_table(rows: list[dict], columns: tuple[str, ...] | None = None) -> str:
    """A fixed-width text table (first column left-aligned), for printing deterministic numbers."""
    if not rows:
        raise ValueError("format_table needs at least one row")
    columns = columns or tuple(rows[0])
    missing = sorted({c for r in rows for c in columns if c not in r})
    if missing:
        raise KeyError(f"rows lack column(s) {missing}; they have {sorted(rows[0])}")

    def cell(column, value):
        fmt = _COLUMNS.get(column, (column, "{:.2f}" if isinstance(value, float) else "{}"))[1]
        return fmt.format(value)

    table = [[_COLUMNS.get(c, (c,))[0] for c in columns]] + [[cell(c, r[c]) for c in columns] for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    return "\n".join(
        "  ".join(text.ljust(w) if i == 0 else text.rjust(w) for i, (text, w) in enumerate(zip(line, widths))).rstrip()
        for line in table
    )
