"""Optimiser and schedule (the official repo's optim_factory.py and cosine scheduler, from torch's pieces):
AdamW with two parameter groups, linear warm-up then cosine decay per optimizer step."""

from __future__ import annotations

import functools
import math

import torch
from torch import nn

__all__ = ["BETAS", "param_groups", "warmup_cosine", "build_optimizer", "build_scheduler"]

BETAS = (0.9, 0.999)  # the paper's AdamW betas (torch's defaults)


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """AdamW groups: decay on weights (ndim >= 2); none on norms, biases and layer-scale gammas (ndim <= 1)."""
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def warmup_cosine(step: int, warmup_steps: int, total_steps: int, final_ratio: float) -> float:
    """lr multiplier: linear warm-up to 1 over `warmup_steps`, then cosine down to `final_ratio` at the end."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return final_ratio + (1 - final_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def build_optimizer(model: nn.Module, recipe, device: torch.device) -> torch.optim.AdamW:
    return torch.optim.AdamW(
        param_groups(model, recipe.weight_decay), lr=recipe.lr, betas=BETAS, fused=device.type == "cuda" or None
    )


def build_scheduler(optimizer: torch.optim.Optimizer, recipe, steps_per_epoch: int):
    """`recipe`'s warm-up + cosine schedule, stepped once per optimizer step."""
    warmup_steps = round(recipe.warmup_epochs * steps_per_epoch)
    # The plain function above with its numbers bound (a partial, not a closure).
    schedule = functools.partial(
        warmup_cosine,
        warmup_steps=warmup_steps,
        total_steps=steps_per_epoch * recipe.epochs,
        final_ratio=recipe.min_lr / recipe.lr,
    )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
