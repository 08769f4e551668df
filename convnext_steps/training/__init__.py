"""The trainer, in the official ConvNeXt code's shape: `recipe` (a typed, frozen Recipe and its presets),
`options` (the command line), `data` (datasets, augmentation, loaders), `optim` (AdamW groups, warm-up +
cosine), `engine` (`train_one_epoch`, `evaluate`), `checkpoint` (atomic writer, safe reader, RNG state),
`snapshot` (what last.pt / best.pt hold), `rundir` (the output folder and its write order), `distributed`,
and `entry` (the official main.py: `main`, `run`, `train`).

    from convnext_steps.training import run, read_metrics
    rows = run(["--step", "12", "--data", "synthetic", "--recipe", "small", "--image-size", "32",
                "--epochs", "3", "--output", "runs/s12"])

Names are imported on first use: `convert` reads checkpoints through `training.checkpoint`, which must
not pull in the trainer (and, through it, `convert` again).
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "run": "entry",
    "train": "entry",
    "main": "entry",
    "build_parser": "options",
    "Recipe": "recipe",
    "Preset": "recipe",
    "PRESETS": "recipe",
    "resolve_recipe": "recipe",
    "build_network": "recipe",
    "read_metrics": "rundir",
    "RunFolder": "rundir",
    "load_checkpoint": "snapshot",
    "CHECKPOINT_FORMAT": "snapshot",
    "train_one_epoch": "engine",
    "evaluate": "engine",
    "TrainState": "engine",
    "Trainer": "engine",
    "save_atomic": "checkpoint",
    "load_file": "checkpoint",
    "read_checkpoint": "checkpoint",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
