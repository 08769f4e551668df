"""One epoch of training and one pass of evaluation (the official repo's engine.py, from torch's own pieces)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel

from ..measure import eval_mode
from ..precision import autocast
from .distributed import Runtime, all_sum

__all__ = ["TrainState", "Trainer", "fresh_progress", "train_one_epoch", "evaluate"]


def fresh_progress() -> dict:
    """The sums of an epoch in flight, as a mid-epoch checkpoint records them."""
    return {"loss_sum": 0.0, "loss_count": 0, "images": 0, "train_seconds": 0.0, "seconds": 0.0}


@dataclass
class TrainState:
    """Where a run stands; with the tensors (weights, optimizer, RNG), what last.pt records."""

    epoch: int = 0  # epochs finished
    step_in_epoch: int = 0  # optimizer steps done in the epoch in flight
    global_step: int = 0
    best_top1: float = -1.0
    history: list[dict] = field(default_factory=list)  # one metrics row per finished epoch
    progress: dict = field(default_factory=fresh_progress)


@dataclass
class Trainer:
    """What an optimizer step uses (the official engine passes these one by one)."""

    model: nn.Module  # the network: its state_dict is what checkpoints hold
    net: nn.Module  # what runs the batch: `model`, or its DDP / compiled wrapper
    criterion: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    steps_per_epoch: int
    accum_steps: int = 1
    ema: AveragedModel | None = None
    mix: Callable | None = None  # MixUp / CutMix on (images, labels)
    amp_dtype: torch.dtype | None = None
    channels_last: bool = False


def train_one_epoch(
    trainer: Trainer,
    loader,
    state: TrainState,
    rt: Runtime,
    save_every: int = 0,
    save: Callable[[TrainState], None] | None = None,
    bar=None,
) -> dict:
    """Train the rest of epoch `state.epoch` (all of it, or what a resume left); calls `save(state)` every
    `save_every` optimizer steps. Returns the epoch's train_loss, last lr and images/s over all processes,
    and leaves the epoch's sums and times in `state.progress`."""
    progress, start = state.progress, time.perf_counter()
    loss_sum = torch.tensor(progress["loss_sum"], dtype=torch.float64, device=rt.device)
    images_seen, micro, lr = 0, 0, trainer.optimizer.param_groups[0]["lr"]
    trainer.net.train()
    for images, labels in loader:
        micro += 1
        loss_sum += _forward_backward(trainer, images, labels, rt, sync=micro % trainer.accum_steps == 0)
        progress["loss_count"] += 1
        images_seen += len(images)
        if micro % trainer.accum_steps:
            continue
        lr = _optimizer_step(trainer)
        state.step_in_epoch += 1
        state.global_step += 1
        if bar is not None:
            _show_progress(bar, progress, loss_sum, lr, images_seen, start, rt)
        if state.step_in_epoch == trainer.steps_per_epoch:
            break  # the last few micro-batches that make no full optimizer step are dropped
        if save_every and state.global_step % save_every == 0:
            start, images_seen = _bank(progress, loss_sum, images_seen, start), 0
            save(state)
    _bank(progress, loss_sum, images_seen, start)
    train_loss, loss_count, images = all_sum([progress["loss_sum"], progress["loss_count"], progress["images"]], rt)
    return {"train_loss": train_loss / loss_count, "lr": lr, "images_per_s": images / progress["train_seconds"]}


def _forward_backward(trainer: Trainer, images, labels, rt: Runtime, sync: bool) -> torch.Tensor:
    images = images.to(rt.device, non_blocking=True)
    labels = labels.to(rt.device, non_blocking=True)
    targets = labels
    if trainer.mix is not None:
        images, targets = trainer.mix(images, labels)
    if trainer.channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    # DDP all-reduces on the last micro-step only (gradient accumulation).
    with contextlib.nullcontext() if sync or not rt.distributed else trainer.net.no_sync():
        with autocast(rt.device, trainer.amp_dtype):
            loss = trainer.criterion(trainer.net(images), targets)
        trainer.scaler.scale(loss / trainer.accum_steps).backward()
    return loss.detach().double()


def _optimizer_step(trainer: Trainer) -> float:
    """One AdamW step (through the fp16 scaler), the schedule's next lr, the EMA; returns the lr used."""
    lr = trainer.optimizer.param_groups[0]["lr"]
    trainer.scaler.step(trainer.optimizer)
    trainer.scaler.update()
    trainer.optimizer.zero_grad(set_to_none=True)
    trainer.scheduler.step()
    if trainer.ema is not None:
        trainer.ema.update_parameters(trainer.model)
    return lr


def _bank(progress: dict, loss_sum: torch.Tensor, images_seen: int, start: float) -> float:
    """Move this process's running sums and time into `progress` (what a checkpoint records); returns now."""
    now = time.perf_counter()
    progress.update(
        loss_sum=loss_sum.item(),
        images=progress["images"] + images_seen,
        train_seconds=progress["train_seconds"] + now - start,
        seconds=progress["seconds"] + now - start,
    )
    return now


def _show_progress(bar, progress: dict, loss_sum, lr: float, images_seen: int, start: float, rt: Runtime) -> None:
    bar.update(1)
    if bar.n % 10 == 0 or bar.n == bar.total:
        elapsed = progress["train_seconds"] + time.perf_counter() - start
        bar.set_postfix(
            loss=f"{loss_sum.item() / progress['loss_count']:.4f}",
            lr=f"{lr:.2e}",
            img_s=f"{(progress['images'] + images_seen) * rt.world_size / elapsed:.0f}",
        )


@torch.no_grad()
def evaluate(
    model: nn.Module, loader, rt: Runtime, amp_dtype: torch.dtype | None = None, channels_last: bool = False
) -> dict:
    """Cross-entropy, top-1 and top-5 (%) over the whole val set (summed over all processes)."""
    loss_sum = correct1 = correct5 = count = 0.0
    with eval_mode(model):
        for images, labels in loader:
            images, labels = images.to(rt.device, non_blocking=True), labels.to(rt.device, non_blocking=True)
            if channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            with autocast(rt.device, amp_dtype):
                logits = model(images).float()
            loss_sum += F.cross_entropy(logits, labels, reduction="sum").item()
            hits = logits.topk(min(5, logits.shape[1]), dim=1).indices == labels[:, None]
            correct1 += hits[:, 0].sum().item()
            correct5 += hits.any(dim=1).sum().item()
            count += len(labels)
    loss_sum, correct1, correct5, count = all_sum([loss_sum, correct1, correct5, count], rt)
    return {"loss": loss_sum / count, "top1": 100 * correct1 / count, "top5": 100 * correct5 / count}
