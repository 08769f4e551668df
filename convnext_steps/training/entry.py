"""The training entry point (the official repo's main.py): wires recipe, data, model, engine and checkpoints.

    python -m convnext_steps.train --step 12 --data synthetic --output runs/s12 --recipe small --image-size 32
    torchrun --nproc_per_node=8 -m convnext_steps.train --step 12 --data /data/imagenet --output runs/s12

In Python, `run([...])` takes the same arguments and returns the metrics rows.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
import warnings
from collections.abc import Sequence

import torch
import torch.distributed as dist
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from ..convert import load_weights
from .data import batch_mix, build_loaders
from .distributed import Runtime, init_runtime, seed_everything
from .engine import Trainer, TrainState, evaluate, fresh_progress, train_one_epoch
from .optim import build_optimizer, build_scheduler
from .options import build_parser
from .recipe import Recipe, build_network, resolve_recipe
from .rundir import RunFolder
from .snapshot import best_weights, load_checkpoint, restore, restore_weights, snapshot

__all__ = ["run", "train", "main", "build_parser"]

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "off": None}


def run(argv: Sequence[str]) -> list[dict]:
    """Train as `python -m convnext_steps.train ARGV` does, in this process; returns the metrics rows.

    Bad input raises ValueError / OSError with the message the command line prints (argparse's own
    checks exit through SystemExit, as on the command line)."""
    return train(build_parser().parse_args(list(argv)))


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: 0 when done; 2 and one line `error: ...` on stderr for any user or file-system error."""
    args = build_parser().parse_args(argv)
    try:
        train(args)
    except (ValueError, OSError) as e:  # OSError: ConnectionError, FileNotFoundError, disk full, no permission
        print(f"error: {one_line(e)}", file=sys.stderr)
        return 2
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    return 0


def one_line(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        text = f"{error.strerror}: {error.filename}" if error.filename else error.strerror
    else:
        text = str(error)
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if "Traceback" in text:  # re-raised from a loader worker: its last line says what went wrong
        return lines[-1].split(": ", 1)[-1]  # without the "ValueError: " the traceback puts before it
    return " ".join(lines)


def train(args: argparse.Namespace) -> list[dict]:
    """Run what `args` (from `build_parser`) asks; returns the metrics history (one dict per epoch)."""
    if args.weights is not None and not args.eval_only:
        raise ValueError("--weights is for --eval-only (training starts from the step's initialisation or --resume)")
    if args.eval_only and (args.weights is None) == (not args.resume):
        raise ValueError("--eval-only needs exactly one of --resume (evaluate OUTPUT/last.pt) and --weights PATH")
    if args.threads:
        torch.set_num_threads(args.threads)
    rt = init_runtime(args.device)
    folder = RunFolder(args.output, writer=rt.is_main)
    folder.check()
    ckpt, recipe = _resume_point(args, folder, rt)
    if not args.eval_only:
        removed = folder.prepare()  # before data and model: a bad --output fails in a second
        if removed:
            _log(rt, args.quiet, f"removed {len(removed)} temp file(s) of interrupted writes: {', '.join(removed)}")
        folder.write_recipe(recipe.to_dict())

    train_loader, val_loader, classes = build_loaders(
        recipe, rt.world_size, rt.rank, args.workers, pin_memory=rt.device.type == "cuda", training=not args.eval_only
    )
    if ckpt is not None and ckpt.get("classes") != list(classes):
        raise ValueError(
            f"{folder.last} was trained on {len(ckpt.get('classes') or [])} classes; --data "
            f"{recipe.data} has {len(classes)} (or other names)"
        )
    model, ema = _network(recipe, len(classes), rt, args.channels_last)
    if args.eval_only:
        return _evaluate_only(args, folder, ckpt, model, ema, val_loader, rt, AMP_DTYPES[recipe.amp])
    trainer = _trainer(recipe, model, ema, len(classes), len(train_loader) // recipe.accum_steps, args, rt)
    if ckpt is not None:
        state = restore(trainer, ckpt, rt, folder.last)
    else:
        state = TrainState()
        seed_everything(recipe.seed + rt.rank)  # per-process streams for mixup and drop path
    return _fit(trainer, state, train_loader, val_loader, recipe, classes, folder, args, rt)


def _resume_point(args, folder: RunFolder, rt: Runtime) -> tuple[dict | None, Recipe]:
    """(the checkpoint to continue from or None, the run's recipe)."""
    ckpt = saved = None
    if args.resume and (args.eval_only or os.path.exists(folder.last) or not os.path.isdir(folder.path)):
        ckpt = load_checkpoint(folder.last)
        saved = ckpt.get("recipe", {})  # {}: refused below as "holds no recipe"
    elif args.resume:  # killed before its first checkpoint: start again, with the recipe it started with
        saved = folder.read_recipe()
        _log(rt, args.quiet, f"{folder.last} not written yet: starting the run from the beginning")
    elif not args.eval_only and os.path.exists(folder.last):
        raise ValueError(f"{folder.last} exists: pass --resume to continue that run, or choose another --output")
    try:
        recipe = resolve_recipe(args, rt.world_size, rt.device.type, saved)
    except ValueError as e:
        source = folder.last if ckpt is not None else folder.recipe
        raise ValueError(f"{source}: {e}" if saved is not None else str(e)) from None
    return ckpt, recipe


def _network(recipe: Recipe, num_classes: int, rt: Runtime, channels_last: bool):
    """The recipe's network on this process's device (the same initial weights in every process), and its EMA."""
    seed_everything(recipe.seed)
    model = build_network(recipe, num_classes)
    if recipe.sync_bn:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    model.to(rt.device, memory_format=torch.channels_last if channels_last else torch.preserve_format)
    ema = None
    if recipe.ema:
        ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(recipe.ema_decay), use_buffers=True)
    return model, ema


def _trainer(recipe: Recipe, model, ema, num_classes: int, steps_per_epoch: int, args, rt: Runtime) -> Trainer:
    optimizer = build_optimizer(model, recipe, rt.device)
    net = model
    if rt.distributed:
        # Depthwise weights (C, 1, k, k) get grads whose strides differ from the bucket's only along the
        # size-1 dimension; DDP warns about that although the layouts are the same memory.
        warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
        device_ids = [rt.device.index] if rt.device.type == "cuda" else None
        net = nn.parallel.DistributedDataParallel(model, device_ids=device_ids)
    if args.compile:
        net = torch.compile(net)
    if rt.device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    return Trainer(
        model=model,
        net=net,
        criterion=nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing),
        optimizer=optimizer,
        scheduler=build_scheduler(optimizer, recipe, steps_per_epoch),
        scaler=torch.amp.GradScaler(rt.device.type, enabled=recipe.amp == "fp16"),
        steps_per_epoch=steps_per_epoch,
        accum_steps=recipe.accum_steps,
        ema=ema,
        mix=batch_mix(recipe.mixup, recipe.cutmix, num_classes),
        amp_dtype=AMP_DTYPES[recipe.amp],
        channels_last=args.channels_last,
    )


def _fit(
    trainer: Trainer,
    state: TrainState,
    train_loader,
    val_loader,
    recipe: Recipe,
    classes,
    folder: RunFolder,
    args,
    rt: Runtime,
) -> list[dict]:
    """The epochs left: train, evaluate, write the epoch's files; returns the whole metrics history."""
    folder.write_history(state.history)  # from last.pt: drops a row a kill left past it, restores one it missed
    _log(rt, args.quiet, _banner(trainer, state, recipe, len(classes), rt))
    save = functools.partial(_save_last, trainer, recipe, classes, folder, rt)
    for epoch in range(state.epoch, recipe.epochs):
        train_loader.sampler.set_epoch(epoch, skip=state.step_in_epoch * recipe.accum_steps * recipe.batch_size)
        bar = _progress_bar(
            rt, args.quiet, trainer.steps_per_epoch, state.step_in_epoch, f"epoch {epoch + 1}/{recipe.epochs}"
        )
        stats = train_one_epoch(trainer, train_loader, state, rt, args.save_every_steps, save, bar)
        if bar is not None:
            bar.close()
        row = _end_epoch(trainer, state, stats, val_loader, recipe, classes, folder, rt)
        _log(
            rt,
            args.quiet,
            f"epoch {row['epoch']}/{recipe.epochs}  train_loss {row['train_loss']:.4f}  "
            f"val_loss {row['val_loss']:.4f}  top1 {row['val_top1']:.2f}  top5 {row['val_top5']:.2f}"
            + (f"  ema_top1 {row['ema_val_top1']:.2f}" if "ema_val_top1" in row else "")
            + f"  lr {row['lr']:.2e}  {row['images_per_s']:.0f} img/s  {row['seconds']:.1f}s",
        )
    return state.history


def _save_last(trainer: Trainer, recipe: Recipe, classes, folder: RunFolder, rt: Runtime, state: TrainState) -> None:
    folder.save_last(snapshot(trainer, state, recipe, classes, rt))  # every rank joins the RNG gather


def _end_epoch(
    trainer: Trainer,
    state: TrainState,
    stats: dict,
    val_loader,
    recipe: Recipe,
    classes,
    folder: RunFolder,
    rt: Runtime,
) -> dict:
    """Evaluate, append the metrics row, move `state` to the next epoch, write best.pt / last.pt / metrics.csv."""
    eval_start = time.perf_counter()
    val = evaluate(trainer.model, val_loader, rt, trainer.amp_dtype, trainer.channels_last)
    row = {
        "epoch": state.epoch + 1,
        "train_loss": stats["train_loss"],
        "val_loss": val["loss"],
        "val_top1": val["top1"],
        "val_top5": val["top5"],
        "lr": stats["lr"],
        "images_per_s": stats["images_per_s"],
    }
    if trainer.ema is not None:
        ema_val = evaluate(trainer.ema.module, val_loader, rt, trainer.amp_dtype, trainer.channels_last)
        row.update(ema_val_loss=ema_val["loss"], ema_val_top1=ema_val["top1"], ema_val_top5=ema_val["top5"])
    row["seconds"] = state.progress["seconds"] + time.perf_counter() - eval_start
    state.history.append(row)
    is_best = row["val_top1"] > state.best_top1
    if is_best:
        state.best_top1 = row["val_top1"]
    state.epoch, state.step_in_epoch, state.progress = state.epoch + 1, 0, fresh_progress()
    checkpoint = snapshot(trainer, state, recipe, classes, rt)
    folder.end_epoch(checkpoint, best_weights(trainer, recipe, classes, row) if is_best and rt.is_main else None)
    return row


def _evaluate_only(args, folder: RunFolder, ckpt, model, ema, val_loader, rt: Runtime, amp_dtype) -> list[dict]:
    if ckpt is not None:
        restore_weights(model, ema, ckpt, folder.last)
        source = folder.last
    else:
        try:
            layout = load_weights(model, args.weights)  # any layout convert.py knows
        except ValueError as e:
            raise ValueError(f"--weights {args.weights}: {e}") from e
        source, ema = f"{args.weights} ({layout} layout)", None
    row = {"epoch": ckpt["epoch"]} if ckpt else {}
    val = evaluate(model, val_loader, rt, amp_dtype, args.channels_last)
    row.update(val_loss=val["loss"], val_top1=val["top1"], val_top5=val["top5"])
    if ema is not None:
        val = evaluate(ema.module, val_loader, rt, amp_dtype, args.channels_last)
        row.update(ema_val_loss=val["loss"], ema_val_top1=val["top1"], ema_val_top5=val["top5"])
    if rt.is_main:
        print(f"{source}: " + "  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()))
    return [row]


def _banner(trainer: Trainer, state: TrainState, recipe: Recipe, num_classes: int, rt: Runtime) -> str:
    params = sum(p.numel() for p in trainer.model.parameters())
    text = (
        f"{recipe.network}: {params / 1e6:.2f}M params, {num_classes} classes, {rt.world_size} "
        f"process(es) on {rt.device.type}, recipe {recipe.preset}, effective batch {recipe.effective_batch}, "
        f"lr {recipe.lr:.3g}, {trainer.steps_per_epoch} steps/epoch, EMA {'on' if recipe.ema else 'off'}, "
        f"amp {recipe.amp}"
    )
    if state.epoch == recipe.epochs:
        return text + f"; all {recipe.epochs} epochs are done: nothing to do"
    if state.global_step:
        return text + f"; resuming at epoch {state.epoch + 1} step {state.step_in_epoch}"
    return text


def _progress_bar(rt: Runtime, quiet: bool, total: int, initial: int, desc: str):
    if not rt.is_main or quiet:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, dynamic_ncols=True, leave=False, desc=desc)


def _log(rt: Runtime, quiet: bool, text: str) -> None:
    if rt.is_main and not quiet:
        from tqdm import tqdm

        tqdm.write(text)
