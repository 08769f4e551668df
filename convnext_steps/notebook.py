"""Display helpers for the notebooks: a step's design diff, a class's source, a block's shape trace, tables.

Each renders as a Markdown code block in Jupyter; its plain-text form (what a console, or nbval, sees) is the text
itself, with no object address, so it is the same on every run and machine.
"""

from __future__ import annotations

import inspect
import textwrap

from IPython.display import Markdown
from torch import nn

from .design import design_diff
from .measure import count_calls, count_macs, count_params  # count_calls: notebooks 08-10 and exercises import it here
from .roadmap import Step, get_step
from .trace import format_trace, trace_block, trace_stem

__all__ = ["Code", "show_design_diff", "show_class", "show_trace", "step_row", "format_table", "count_calls"]


class Code(Markdown):
    """A fenced code block for Jupyter; `repr()` is the bare text (no object address)."""

    def __init__(self, text: str, language: str = "python"):
        self.text = text.rstrip("\n")
        super().__init__(f"```{language}\n{self.text}\n```")

    def __repr__(self) -> str:
        return self.text


def show_design_diff(step: int | str | Step, other: int | str | Step | None = None) -> Code:
    """`design_diff(step)` (or from `step` to `other`), rendered as a diff block."""
    return Code(design_diff(step, other), "diff")


def show_class(cls: type) -> Code:
    """A class's source, rendered as a Python block."""
    return Code(textwrap.dedent(inspect.getsource(cls)), "python")


def show_trace(
    step: int | str | Step, stage: int = 0, index: int = 1, with_downsample: bool = False, part: str = "block"
) -> Code:
    """Every operation of one block of a step (default: stage 1's second block), or of its stem (part="stem"),
    with its output shape and memory layout."""
    if part == "stem":
        return Code(format_trace(trace_stem(step)), "text")
    return Code(format_trace(trace_block(step, stage, index, with_downsample=with_downsample)), "text")


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
