"""The trainer, in the official ConvNeXt code's shape: `recipe` (a typed, frozen Recipe and its presets),
`options` (the command line), `data` (datasets, samplers, loaders), `optim` (AdamW groups, warm-up + cosine),
`engine` (`train_one_epoch`, `evaluate`), `checkpoint` (the RNG state a resume restores), `snapshot` (what
last.pt / best.pt hold), `rundir` (the output folder and its write order), `distributed`, and `entry` (the
official main.py: `main`, `run`, `train`). Files are written and read by `convnext_steps.checkpoint`, below the
trainer, which the models and figures share.

    from convnext_steps.training import run, read_metrics
    rows = run(["--step", "12", "--data", "synthetic", "--recipe", "small", "--image-size", "32",
                "--epochs", "3", "--output", "runs/s12"])
"""

from __future__ import annotations

from ..checkpoint import load_file, read_checkpoint, save_atomic
from .engine import Trainer, TrainState, evaluate, train_one_epoch
from .entry import main, run, train
from .options import build_parser
from .recipe import PRESETS, Preset, Recipe, build_network, resolve_recipe
from .rundir import RunFolder, read_metrics
from .snapshot import CHECKPOINT_FORMAT, load_checkpoint

__all__ = [
    "CHECKPOINT_FORMAT",
    "PRESETS",
    "Preset",
    "Recipe",
    "RunFolder",
    "TrainState",
    "Trainer",
    "build_network",
    "build_parser",
    "evaluate",
    "load_checkpoint",
    "load_file",
    "main",
    "read_checkpoint",
    "read_metrics",
    "resolve_recipe",
    "run",
    "save_atomic",
    "train",
    "train_one_epoch",
]
