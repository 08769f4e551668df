"""Training curves of `convnext_steps.train` runs: one panel per metric, one line per run.

Written like `plots.py` (takes data, returns a Figure) so that it can move there as it is.
Rows come from `train.train(...)` or `train.read_metrics(OUTPUT)`.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

__all__ = ["plot_training_curves"]

_LABELS = {
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
        ax.set_ylabel(_LABELS.get(metric, metric))
        ax.grid(alpha=0.3)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    axes[0][0].legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
