"""A sweep's table and plot: final and best val top-1 per run, mean ± std per network over seeds.

    ROOT/results.csv   one row per network: runs finished, mean and sample std (n - 1) of the final and the best
                       val top-1 over seeds, each seed's final and best top-1 (empty: not finished), and the
                       network's parameters and GMACs at the run's image size
    ROOT/results.png   Fig. 2 of the paper in its shape: one bar per network (the mean final top-1), the std as
                       an error bar, each seed a dot, the GMACs written beside

Both are computed from the runs' own metrics.csv (the last row is the final top-1, the highest the best) and
written atomically. Only finished runs count; the others show as missing.
"""

from __future__ import annotations

import csv
import io
import os
import statistics
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from ..checkpoint import save_atomic
from ..measure import count_macs, count_params
from .recipe import Recipe, build_network
from .rundir import RunFolder, read_metrics

if TYPE_CHECKING:  # for the annotation only: sweep imports this module
    from .sweep import Run

__all__ = ["run_result", "aggregate", "format_table", "write_report", "sweep_figure"]


def run_state(run: Run) -> tuple[str, int]:
    """('done' | 'started' | 'new', epochs finished): done when metrics.csv holds all the recipe's epochs."""
    folder = RunFolder(run.folder)
    if not os.path.isdir(folder.path):
        return "new", 0
    recipe = folder.read_recipe()
    epochs = len(read_metrics(folder.metrics)) if os.path.isfile(folder.metrics) else 0
    if recipe is not None and epochs >= recipe.get("epochs", epochs + 1):
        return "done", epochs
    return "started", epochs


def run_result(run) -> dict | None:
    """{'final_top1', 'best_top1', 'epochs'} of a finished run (from its metrics.csv), else None."""
    state, epochs = run_state(run)
    if state != "done":
        return None
    rows = read_metrics(os.path.join(run.folder, "metrics.csv"))
    return {"final_top1": rows[-1]["val_top1"], "best_top1": max(r["val_top1"] for r in rows), "epochs": epochs}


def aggregate(runs: Sequence) -> list[dict]:
    """One row per network, in the sweep's order (see the module's docstring for the columns)."""
    table: dict[str, dict] = {}
    seeds = sorted({r.seed for r in runs})
    for run in runs:
        row = table.setdefault(run.target.name, {"network": run.target.name, "results": {}, "cost": None})
        row["results"][run.seed] = run_result(run)
        if row["cost"] is None and row["results"][run.seed] is not None:
            row["cost"] = network_cost(run.folder)
    rows = [_row(row["network"], row["results"], seeds) for row in table.values()]
    for row, found in zip(rows, table.values()):
        row.update(found["cost"] or {"params": None, "gmacs": None})
    return rows


def network_cost(folder: str) -> dict:
    """{'params', 'gmacs'} of a finished run's network at its image size, counted on the meta device."""
    run = RunFolder(folder)
    recipe = Recipe.from_dict(run.read_recipe(), run.recipe)
    classes = torch.load(run.last, map_location="cpu", weights_only=True, mmap=True)["classes"]
    with torch.device("meta"):  # shapes only: no weights allocated
        model = build_network(recipe, len(classes))
    return {"params": count_params(model), "gmacs": count_macs(model, recipe.image_size) / 1e9}


def _row(network: str, results: dict, seeds: list[int]) -> dict:
    done = [results[s] for s in seeds if results.get(s) is not None]
    row: dict = {"network": network, "runs": len(done), "seeds": len(seeds)}
    for metric in ("final_top1", "best_top1"):
        values = [r[metric] for r in done]
        row[f"{metric}_mean"] = statistics.mean(values) if values else None
        row[f"{metric}_std"] = statistics.stdev(values) if len(values) > 1 else None
    for s in seeds:
        for metric in ("final_top1", "best_top1"):
            row[f"{metric}_seed{s}"] = results[s][metric] if results.get(s) is not None else None
    return row


def format_table(root: str, table: Sequence[dict]) -> str:
    """The table as text: a line per network."""
    seeds = sorted(
        {int(k.removeprefix("final_top1_seed")) for r in table for k in r if k.startswith("final_top1_seed")}
    )
    width = max([len("network"), *(len(r["network"]) for r in table)])
    head = f"{'network':<{width}}  runs  {'final top-1':>14}  {'best top-1':>14}" + "".join(
        f"  {f'seed {s} final/best':>19}" for s in seeds
    )
    lines = [f"{root}: val top-1 (%), mean ± std over seeds (sample std)", head + f"  {'params':>11}  {'GMACs':>7}"]
    for r in table:
        cells = "".join(f"  {_pair(r[f'final_top1_seed{s}'], r[f'best_top1_seed{s}']):>19}" for s in seeds)
        lines.append(
            f"{r['network']:<{width}}  {r['runs']}/{r['seeds']:<2}  {_mean_std(r, 'final_top1'):>14}  "
            f"{_mean_std(r, 'best_top1'):>14}{cells}  {_count(r['params']):>11}  {_count(r['gmacs'], '.3g'):>7}"
        )
    return "\n".join(lines)


def _mean_std(row: dict, metric: str) -> str:
    mean, std = row[f"{metric}_mean"], row[f"{metric}_std"]
    if mean is None:
        return "-"
    return f"{mean:.2f} ± {std:.2f}" if std is not None else f"{mean:.2f}"


def _count(value, spec: str = ",") -> str:
    return "-" if value is None else format(value, spec)


def _pair(final, best) -> str:
    return "-" if final is None else f"{final:.2f}/{best:.2f}"


def write_report(root: str, runs: Sequence) -> list[dict]:
    """ROOT/results.csv and ROOT/results.png from the finished runs; returns the table's rows."""
    table = aggregate(runs)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(table[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows([{k: "" if v is None else v for k, v in row.items()} for row in table])  # floats as repr
    os.makedirs(root, exist_ok=True)
    save_atomic(os.path.join(root, "results.csv"), text.getvalue().encode())
    save_atomic(os.path.join(root, "results.png"), _png(sweep_figure(table, root)))
    return table


def sweep_figure(table: Sequence[dict], title: str = ""):
    """Fig. 2's shape: a bar per network (top to bottom in the sweep's order) at its mean final top-1, the
    sample std as an error bar, each seed's final top-1 as a dot."""
    import matplotlib  # start-up cost: matplotlib only when a sweep draws its figure

    matplotlib.use("Agg", force=False)  # import order: the backend before pyplot, for headless runs
    import matplotlib.pyplot as plt  # after matplotlib.use, above

    fig, ax = plt.subplots(figsize=(8.5, 0.42 * len(table) + 1.6))
    ys = [-i for i in range(len(table))]
    for y, row in zip(ys, table):
        if row["final_top1_mean"] is None:
            ax.text(0, y, "  not finished", va="center", fontsize=8, color="#9e9e9e")
            continue
        ax.barh(
            y,
            row["final_top1_mean"],
            height=0.7,
            color="#1f77b4",
            alpha=0.8,
            xerr=row["final_top1_std"] or 0,
            capsize=3,
            error_kw={"lw": 1},
        )
        seeds = [v for k, v in row.items() if k.startswith("final_top1_seed") and v is not None]
        ax.plot(seeds, [y] * len(seeds), "o", color="black", ms=3)
        ax.text(
            row["final_top1_mean"],
            y + 0.38,
            f" {_mean_std(row, 'final_top1')}  (n={row['runs']}),  {row['gmacs']:.3g} GMACs",
            va="center",
            fontsize=7,
        )
    ax.set_yticks(ys, [r["network"] for r in table], fontsize=8)
    ax.set_xlabel("final val top-1 (%): bar = mean over seeds, error bar = sample std, dots = seeds")
    ax.set_title(f"{title}: same recipe, seeds" if title else "same recipe, seeds", fontsize=10)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt  # start-up cost, as in sweep_figure

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()
