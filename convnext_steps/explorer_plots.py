"""The explorer's picture: params, multiply-adds and (when measured) latency per variant, side by side."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from .checkpoint import save_atomic

__all__ = ["variants_figure", "save_variants_figure", "check_writable"]

_REFERENCE, _MORE, _LESS = "#636363", "#d95f0e", "#3182bd"  # the first row, more than it, less than it


def variants_figure(rows: Sequence[Mapping], title: str = "") -> Figure:
    """One horizontal bar panel per measure (params, GMACs, latency if every row has it), one bar per variant,
    labelled by its plain title ("ConvNeXt-T with 3x3 kernel (-07)") where the row has one, else by its name.

    The first row is the reference (ConvNeXt-T for leave-one-out, ResNet-50 for add-one), drawn grey with a line
    through every panel; the other bars are orange where they exceed it and blue where they fall below.
    """
    measures = [("params", "params (M)", 1e-6), ("gmacs", "GMACs", 1.0)]
    if rows and all("latency_ms" in r for r in rows):
        measures.append(("latency_ms", "latency (ms / batch)", 1.0))
    names = [r.get("title", r["name"]) for r in rows]  # what each variant is, where the rows say it
    fig, axes = plt.subplots(1, len(measures), figsize=(3.6 * len(measures) + 1.6, 0.32 * len(rows) + 1.2), sharey=True)
    for ax, (key, label, scale) in zip(axes, measures):
        values = [r[key] * scale for r in rows]
        ref = values[0]
        colours = [_REFERENCE] + [_MORE if v > ref else _LESS if v < ref else _REFERENCE for v in values[1:]]
        ax.barh(range(len(rows)), values, color=colours)
        ax.axvline(ref, color=_REFERENCE, lw=1, ls="--")
        ax.set_xlabel(label)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(rows)), names, fontsize=8)
    axes[0].invert_yaxis()
    keys = [Patch(color=c) for c in (_REFERENCE, _MORE, _LESS)]
    labels = [f"{names[0]} (reference, dashed)", f"more than {names[0]}", f"less than {names[0]}"] if rows else []
    fig.legend(keys, labels, fontsize=8, loc="lower center", ncol=3, frameon=False)  # below: no bar hidden
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def save_variants_figure(rows: Sequence[Mapping], path: str | os.PathLike, title: str = "") -> None:
    """Draw `variants_figure` and write it to `path` (PNG) atomically; an OSError names the path."""
    check_writable(path)
    fig = variants_figure(rows, title)
    try:
        save_atomic(path, functools.partial(fig.savefig, dpi=100, format="png"))
    except OSError as e:
        raise ValueError(f"cannot write {path}: {e.strerror or e}") from e
    finally:
        plt.close(fig)


def check_writable(path: str | os.PathLike) -> None:
    """A ValueError naming the problem when a figure could not be written to `path`."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"cannot write {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise ValueError(f"cannot write {path}: folder {folder} is not writable")
