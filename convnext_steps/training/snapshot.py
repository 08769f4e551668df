"""What a run's checkpoints hold, and how a resume puts it back.

last.pt: the recipe, class names, weights, EMA, optimizer, schedule, fp16 scaler, every process's RNG
state and the `TrainState` (epoch, step, best top-1, metrics history, the epoch in flight's sums).
best.pt: the recipe, class names, epoch, its metrics row and weights ('model', and 'model_ema' with EMA),
a plain weights file that `convert.load_weights` reads.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

import torch

from ..checkpoint import load_file
from ..convert import load_weights
from .checkpoint import rng_state, set_rng_state
from .distributed import Runtime, gather_objects
from .engine import Trainer, TrainState

__all__ = ["CHECKPOINT_FORMAT", "load_checkpoint", "snapshot", "best_weights", "restore", "restore_weights"]

CHECKPOINT_FORMAT = "convnext_steps.train/2"  # /2: the recipe as `Recipe` fields, with its preset


def load_checkpoint(path: str | os.PathLike) -> dict:
    """A training checkpoint written by this trainer; FileNotFoundError / ValueError with the reason otherwise."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint to resume from: {path} does not exist (run without --resume to start)")
    ckpt = load_file(path)
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        found = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ValueError(
            f"{path} is not a training checkpoint of convnext_steps.train "
            f"(expected format {CHECKPOINT_FORMAT!r}, found {found!r})"
        )
    return ckpt


def snapshot(trainer: Trainer, state: TrainState, recipe, classes: Sequence[str], rt: Runtime) -> dict:
    """last.pt's contents. Every process must call it: it gathers their RNG states."""
    rngs = [
        {k: v.cpu() if isinstance(v, torch.Tensor) else v for k, v in r.items()}
        for r in gather_objects(rng_state(rt.device), rt)
    ]
    return {
        "format": CHECKPOINT_FORMAT,
        "recipe": recipe.to_dict(),
        "classes": list(classes),
        "model": trainer.model.state_dict(),
        "ema": trainer.ema.state_dict() if trainer.ema is not None else None,
        "optimizer": trainer.optimizer.state_dict(),
        "scheduler": trainer.scheduler.state_dict(),
        "scaler": trainer.scaler.state_dict(),
        "rng": rngs,
        **dataclasses.asdict(state),
    }


def best_weights(trainer: Trainer, recipe, classes: Sequence[str], row: dict) -> dict:
    """best.pt's contents: the weights of the epoch in `row`."""
    best = {
        "format": CHECKPOINT_FORMAT + "/weights",
        "recipe": recipe.to_dict(),
        "classes": list(classes),
        "epoch": row["epoch"],
        "metrics": row,
        "model": trainer.model.state_dict(),
    }
    if trainer.ema is not None:
        best["model_ema"] = trainer.ema.module.state_dict()
    return best


def restore_weights(model: torch.nn.Module, ema, ckpt: dict, source: str) -> None:
    """The model's (and EMA's) weights from a training checkpoint; ValueError naming `source` if they do not fit."""
    try:
        load_weights(model, ckpt["model"], layout="ours")
        if ema is not None:
            ema.load_state_dict(ckpt["ema"])
    except (KeyError, ValueError, RuntimeError, TypeError, AttributeError) as e:
        raise ValueError(f"{source} does not fit this run: {type(e).__name__}: {e}") from e


def restore(trainer: Trainer, ckpt: dict, rt: Runtime, source: str) -> TrainState:
    """Everything `snapshot` saved, put back (this process's RNG state included); returns where the run stands."""
    restore_weights(trainer.model, trainer.ema, ckpt, source)
    try:
        trainer.optimizer.load_state_dict(ckpt["optimizer"])
        trainer.scheduler.load_state_dict(ckpt["scheduler"])
        trainer.scaler.load_state_dict(ckpt["scaler"])
        state = TrainState(**{f.name: ckpt[f.name] for f in dataclasses.fields(TrainState)})
        rng = ckpt["rng"][rt.rank]
    except (KeyError, ValueError, RuntimeError, TypeError, IndexError) as e:
        raise ValueError(f"{source} does not fit this run: {type(e).__name__}: {e}") from e
    set_rng_state(rng, rt.device)
    return state
