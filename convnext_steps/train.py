"""Train any roadmap step (or ConvNeXt family member) with the paper's recipe; resumable; torchrun-ready.

    python -m convnext_steps.train --step 12 --data synthetic --output runs/s12 --epochs 10 --image-size 64
    torchrun --nproc_per_node=8 -m convnext_steps.train --step 12 --data /data/imagenet --output runs/s12

The recipe (paper, Appendix A.1; the official repo's defaults) is built from torch's and torchvision's own
pieces: AdamW with linear lr scaling, warm-up then cosine, label smoothing, transforms.v2 MixUp / CutMix /
RandAugment / RandomErasing, stochastic depth and layer scale in the networks, EMA via
torch.optim.swa_utils. Every epoch appends a row to OUTPUT/metrics.csv and writes OUTPUT/last.pt (and
OUTPUT/best.pt) atomically. `--resume` restores everything, RNG states included, so a killed run resumed
from its last checkpoint ends with the same metrics as one that was never stopped.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import math
import os
import random
import sys
import time
import warnings
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from .cli import _non_negative_float, _non_negative_int, _positive_float, _positive_int, _unit_float
from .convert import load_file, save_atomic

__all__ = ["build_parser", "main", "train", "evaluate", "save_atomic", "load_checkpoint", "read_metrics",
           "param_groups", "warmup_cosine", "resolve_recipe", "PAPER_RECIPE", "CHECKPOINT_FORMAT"]

CHECKPOINT_FORMAT = "convnext_steps.train/1"
KILL_ENV = "CONVNEXT_STEPS_KILL_AFTER_STEP"  # test-only: os._exit right after this optimizer step (a hard kill)

# The paper's ImageNet-1K recipe (Appendix A.1; min_lr from the official code).
# lr and min_lr are per 4096 images: they scale linearly with the effective batch.
PAPER_RECIPE = {
    "epochs": 300, "warmup_fraction": 20 / 300, "batch": 4096, "lr": 4e-3, "min_lr": 1e-6, "betas": (0.9, 0.999),
    "weight_decay": 0.05, "label_smoothing": 0.1, "mixup": 0.8, "cutmix": 1.0, "randaug_ops": 2,
    "randaug_magnitude": 9, "reprob": 0.25, "ema_decay": 0.9999, "image_size": 224, "crop_pct": 0.875,
}
FAMILY_NAMES = ("convnext_tiny", "convnext_small", "convnext_base", "convnext_large", "convnext_xlarge")

# Options that decide the numbers: stored in checkpoints, taken from the checkpoint on --resume.
RECIPE_KEYS = (
    "step", "model", "depths", "dims", "stem_dim", "kernel_size", "drop_path", "layer_scale",
    "data", "data_root", "imagenette_size", "synthetic_train", "synthetic_val", "image_size", "crop_pct",
    "epochs", "warmup_epochs", "batch_size", "accum_steps", "lr", "min_lr", "weight_decay",
    "label_smoothing", "mixup", "cutmix", "randaug_ops", "randaug_magnitude", "reprob",
    "ema", "ema_decay", "sync_bn", "amp", "seed",
)
ARCH_KEYS = ("step", "model", "depths", "dims", "stem_dim", "kernel_size", "drop_path", "layer_scale")


# ---------------------------------------------------------------------------------------------------------
# Command line


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m convnext_steps.train",
        description="Train a roadmap step with the paper's recipe (defaults scaled to your batch size). "
        "Options left out on --resume are taken from the checkpoint; options given must match it.",
    )
    g = p.add_argument_group("model")
    g.add_argument("--step", help="roadmap step: index, id or id prefix (00 ... 12); "
                   "see `python -m convnext_steps roadmap`")
    g.add_argument("--model", choices=FAMILY_NAMES, help="a ConvNeXt family member instead of a step")
    g.add_argument("--depths", type=_positive_int, nargs="+", metavar="N", help="blocks per stage (override)")
    g.add_argument("--dims", type=_positive_int, nargs="+", metavar="C", help="stage widths (override)")
    g.add_argument("--stem-dim", type=_positive_int, metavar="C", help="stem width (override)")
    g.add_argument("--kernel-size", type=_positive_int, metavar="K", help="block conv kernel (override)")
    g.add_argument("--drop-path", type=_unit_float(high_open=True), metavar="P",
                   help="stochastic depth rate (default: the step's 0.1, or the family member's)")
    g.add_argument("--layer-scale", type=_non_negative_float, metavar="V",
                   help="layer-scale init (default 1e-6 where the network has it; 0 turns it off)")

    g = p.add_argument_group("data")
    g.add_argument("--data", help="'synthetic', 'imagenette', or a folder with train/ and val/ in ImageFolder layout")
    g.add_argument("--data-root", help="where --data imagenette is downloaded (default: data)")
    g.add_argument("--imagenette-size", choices=("160px", "320px", "full"), help="Imagenette variant (default 320px)")
    g.add_argument("--synthetic-train", type=_positive_int, metavar="N",
                   help="synthetic training images (default 2000)")
    g.add_argument("--synthetic-val", type=_positive_int, metavar="N", help="synthetic validation images (default 500)")
    g.add_argument("--image-size", type=_positive_int, metavar="N", help="training resolution (default 224)")
    g.add_argument("--crop-pct", type=_unit_float(low_open=True), metavar="F",
                   help="eval: resize to N/F, centre-crop N (default 0.875; 1.0 for synthetic)")

    g = p.add_argument_group("optimisation")
    g.add_argument("--epochs", type=_positive_int, help="default 300")
    g.add_argument("--warmup-epochs", type=_non_negative_float, metavar="E",
                   help="linear warm-up length (default: epochs / 15, the paper's 20 of 300; may be fractional)")
    g.add_argument("--batch-size", type=_positive_int, metavar="B",
                   help="images per process per micro-step (default 128)")
    g.add_argument("--accum-steps", type=_positive_int, metavar="K", help="micro-steps per optimizer step (default 1)")
    g.add_argument("--lr", type=_positive_float, help="peak learning rate (default 4e-3 x effective batch / 4096)")
    g.add_argument("--min-lr", type=_non_negative_float, help="final cosine lr (default 1e-6 x effective batch / 4096)")
    g.add_argument("--weight-decay", type=_non_negative_float,
                   help="AdamW decay on weights, not norms/biases (default 0.05)")

    g = p.add_argument_group("regularisation (0 turns each off)")
    g.add_argument("--label-smoothing", type=_unit_float(high_open=True), metavar="S", help="default 0.1")
    g.add_argument("--mixup", type=_non_negative_float, metavar="ALPHA", help="MixUp alpha (default 0.8)")
    g.add_argument("--cutmix", type=_non_negative_float, metavar="ALPHA", help="CutMix alpha (default 1.0)")
    g.add_argument("--randaug-ops", type=_non_negative_int, metavar="N", help="RandAugment ops per image (default 2)")
    g.add_argument("--randaug-magnitude", type=_non_negative_int, metavar="M",
                   help="RandAugment magnitude 0-30 (default 9)")
    g.add_argument("--reprob", type=_unit_float(), metavar="P", help="random-erasing probability (default 0.25)")
    g.add_argument("--ema", action=argparse.BooleanOptionalAction, default=None,
                   help="keep an EMA of the weights (default: on, off for networks with BatchNorm)")
    g.add_argument("--ema-decay", type=_unit_float(low_open=True, high_open=True), metavar="D", help="default 0.9999")
    g.add_argument("--sync-bn", action=argparse.BooleanOptionalAction, default=None,
                   help="SyncBatchNorm across processes (GPU only; default off, as in the paper)")
    g.add_argument("--amp", choices=("bf16", "fp16", "off"), help="mixed precision (default: bf16 on GPU, off on CPU)")
    g.add_argument("--seed", type=int, help="default 0")

    g = p.add_argument_group("run")
    g.add_argument("--output", required=True, metavar="DIR", help="metrics.csv, last.pt and best.pt go here")
    g.add_argument("--resume", action="store_true", help="continue from DIR/last.pt")
    g.add_argument("--eval-only", action="store_true",
                   help="evaluate DIR/last.pt (with --resume) or --weights on the val set, then stop")
    g.add_argument("--weights", metavar="PATH", help="with --eval-only: weights in any layout convert.py reads")
    g.add_argument("--save-every-steps", type=_non_negative_int, default=0, metavar="N",
                   help="also write DIR/last.pt every N optimizer steps (default 0: at epoch ends only)")
    g.add_argument("--workers", type=_non_negative_int, default=4, help="data-loading processes per rank (default 4)")
    g.add_argument("--channels-last", action="store_true", help="NHWC memory format (faster convs on GPUs)")
    g.add_argument("--compile", action="store_true", help="torch.compile the training model")
    g.add_argument("--device", help="default: cuda (this rank's GPU) when available, else cpu")
    g.add_argument("--threads", type=_positive_int, help="torch CPU threads (default: torch's choice)")
    g.add_argument("--quiet", action="store_true", help="no progress bars or per-epoch lines")
    return p


# ---------------------------------------------------------------------------------------------------------
# Recipe: defaults filled in, checked against a checkpoint's on --resume


def resolve_recipe(args: argparse.Namespace, world_size: int, device_type: str, saved: dict | None = None) -> dict:
    """The run's complete recipe (plain types). Fresh: the paper's defaults, scaled to the effective batch.
    Resume: `saved`, with any option given on the command line required to equal it."""
    given = {k: getattr(args, k) for k in RECIPE_KEYS}
    for k in ("depths", "dims"):
        if given[k] is not None:
            given[k] = list(given[k])
    if given["step"] is not None:
        from .roadmap import get_step

        given["step"] = get_step(given["step"]).id  # "12" -> "12_separate_downsampling"; ValueError lists the ids
    if saved is not None:
        def differences(keys):
            return ", ".join(f"--{k.replace('_', '-')} {given[k]} (checkpoint: {saved[k]})" for k in keys
                             if given[k] is not None and given[k] != saved[k])

        if differences(ARCH_KEYS):
            raise ValueError(f"the checkpoint holds another architecture: {differences(ARCH_KEYS)}")
        if differences(RECIPE_KEYS):
            raise ValueError("options differ from the checkpoint's (leave them out to take the checkpoint's): "
                             + differences(RECIPE_KEYS))
        if saved["world_size"] != world_size:
            raise ValueError(f"the checkpoint was written by {saved['world_size']} process(es); resume it with the "
                             f"same number (now {world_size}) so the data order and batch stay the same")
        return dict(saved)

    if (given["step"] is None) == (given["model"] is None):
        raise ValueError("give exactly one of --step (a roadmap step, e.g. 12) and --model (e.g. convnext_tiny)")
    if given["data"] is None:
        raise ValueError("--data is required: 'synthetic', 'imagenette' or an ImageFolder directory")
    r = dict(given)
    if r["model"] is not None and any(r[k] is not None for k in ("depths", "dims", "stem_dim")):
        raise ValueError("--depths/--dims/--stem-dim override roadmap steps; --model takes the family member's")
    synthetic = r["data"] == "synthetic"
    defaults = {
        "data_root": "data", "imagenette_size": "320px", "synthetic_train": 2000, "synthetic_val": 500,
        "image_size": PAPER_RECIPE["image_size"], "crop_pct": 1.0 if synthetic else PAPER_RECIPE["crop_pct"],
        "epochs": PAPER_RECIPE["epochs"], "batch_size": 128, "accum_steps": 1,
        "weight_decay": PAPER_RECIPE["weight_decay"], "label_smoothing": PAPER_RECIPE["label_smoothing"],
        "mixup": PAPER_RECIPE["mixup"], "cutmix": PAPER_RECIPE["cutmix"], "randaug_ops": PAPER_RECIPE["randaug_ops"],
        "randaug_magnitude": PAPER_RECIPE["randaug_magnitude"], "reprob": PAPER_RECIPE["reprob"],
        "ema_decay": PAPER_RECIPE["ema_decay"], "sync_bn": False, "amp": "bf16" if device_type == "cuda" else "off",
        "seed": 0,
    }
    for k, v in defaults.items():
        if r[k] is None:
            r[k] = v
    r["world_size"] = world_size
    effective_batch = r["batch_size"] * r["accum_steps"] * world_size
    scale = effective_batch / PAPER_RECIPE["batch"]
    if r["lr"] is None:
        r["lr"] = PAPER_RECIPE["lr"] * scale
    if r["min_lr"] is None:
        r["min_lr"] = min(PAPER_RECIPE["min_lr"] * scale, r["lr"])
    if r["min_lr"] > r["lr"]:
        raise ValueError(f"--min-lr {r['min_lr']} is above the peak lr {r['lr']}")
    if r["warmup_epochs"] is None:
        r["warmup_epochs"] = r["epochs"] * PAPER_RECIPE["warmup_fraction"]
    if r["warmup_epochs"] >= r["epochs"]:
        raise ValueError(f"--warmup-epochs {r['warmup_epochs']} must be shorter than --epochs {r['epochs']}")
    if r["randaug_magnitude"] > 30:
        raise ValueError(f"--randaug-magnitude must be in 0..30 (torchvision's 31 bins), got {r['randaug_magnitude']}")
    if r["amp"] == "fp16" and device_type == "cpu":
        raise ValueError("--amp fp16 needs a GPU; use --amp bf16 or off on CPU")
    if r["sync_bn"] and device_type != "cuda" and world_size > 1:
        raise ValueError("--sync-bn works on GPUs only (torch's SyncBatchNorm); drop it for CPU runs")
    # Per-architecture defaults (drop path, layer scale, EMA) need the network: see `build_network`.
    return r


def build_network(recipe: dict, num_classes: int) -> nn.Module:
    """The recipe's network; fills in its per-architecture defaults (drop path, layer scale, EMA) in `recipe`."""
    from .family import FAMILY, convnext
    from .roadmap import get_step

    if recipe["model"] is not None:
        member = FAMILY[recipe["model"].removeprefix("convnext_")]
        default_drop, default_ls = member.drop_path_rate, 1e-6
    else:
        config = get_step(recipe["step"]).config
        default_drop, default_ls = config.drop_path_rate, config.layer_scale_init_value
    if recipe["drop_path"] is None:
        recipe["drop_path"] = default_drop
    if recipe["layer_scale"] is None:
        recipe["layer_scale"] = default_ls
    overrides = {"drop_path_rate": recipe["drop_path"]}
    if recipe["layer_scale"] is not None:
        overrides["layer_scale_init_value"] = recipe["layer_scale"]
    for key in ("depths", "dims", "stem_dim", "kernel_size"):
        if recipe[key] is not None:
            overrides[key] = tuple(recipe[key]) if isinstance(recipe[key], list) else recipe[key]
    if recipe["model"] is not None:
        size = recipe["model"].removeprefix("convnext_")
        model = convnext(size, num_classes, drop_path_rate=overrides.pop("drop_path_rate"),
                         layer_scale_init_value=overrides.pop("layer_scale_init_value"), **overrides)
    else:
        model = get_step(recipe["step"]).build(num_classes, **overrides)
    if recipe["ema"] is None:
        recipe["ema"] = not has_batchnorm(model)  # the paper: EMA hurts BatchNorm networks
    if recipe["image_size"] < model.config.reduction:
        raise ValueError(f"--image-size {recipe['image_size']} is too small: the network downsamples by "
                         f"{model.config.reduction}")
    return model


def has_batchnorm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


# ---------------------------------------------------------------------------------------------------------
# Optimiser, schedule, checkpoints


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


def load_checkpoint(path: str) -> dict:
    """A training checkpoint written by this module; FileNotFoundError / ValueError with the reason otherwise."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no checkpoint to resume from: {path} does not exist (run without --resume to start)")
    ckpt = load_file(path)
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        found = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ValueError(f"{path} is not a training checkpoint of convnext_steps.train "
                         f"(expected format {CHECKPOINT_FORMAT!r}, found {found!r})")
    return ckpt


def _rng_state(device: torch.device) -> dict:
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def read_metrics(path: str) -> list[dict]:
    """OUTPUT/metrics.csv (or the folder) as a list of rows, numbers as int/float."""
    if os.path.isdir(path):
        path = os.path.join(path, "metrics.csv")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [{k: int(v) if k == "epoch" else float(v) for k, v in row.items()} for row in rows]


def _write_metrics(path: str, history: list[dict]) -> None:
    if not history:
        return
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(history[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)  # floats as repr: they read back exactly
    save_atomic(path, lambda f: f.write(text.getvalue().encode()))


# ---------------------------------------------------------------------------------------------------------
# Processes and devices


@dataclass
class Runtime:
    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_runtime(device_arg: str | None) -> Runtime:
    """One process, or one of torchrun's (RANK/WORLD_SIZE/LOCAL_RANK set): NCCL on GPUs, gloo on CPU."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    if device_arg is None:
        device_arg = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(device_arg)
    except RuntimeError as e:
        raise ValueError(f"--device {device_arg!r} is not a device (expected e.g. cpu, cuda, cuda:1): {e}") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {device_arg}: CUDA is not available here")
        if device.index is None:
            device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Runtime(rank, world_size, device)


def _all_sum(values: list[float], rt: Runtime) -> list[float]:
    t = torch.tensor(values, dtype=torch.float64, device=rt.device)
    if rt.distributed:
        dist.all_reduce(t)
    return t.tolist()


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


# ---------------------------------------------------------------------------------------------------------
# Evaluation and training


@torch.no_grad()
def evaluate(model: nn.Module, loader, rt: Runtime, amp_dtype: torch.dtype | None = None,
             channels_last: bool = False) -> dict:
    """Cross-entropy, top-1 and top-5 (%) over the whole val set (summed over all processes)."""
    was_training = model.training
    model.eval()
    loss_sum = correct1 = correct5 = count = 0.0
    for images, labels in loader:
        images, labels = images.to(rt.device, non_blocking=True), labels.to(rt.device, non_blocking=True)
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        with torch.autocast(rt.device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            logits = model(images).float()
        loss_sum += F.cross_entropy(logits, labels, reduction="sum").item()
        top = logits.topk(min(5, logits.shape[1]), dim=1).indices
        hits = top == labels[:, None]
        correct1 += hits[:, 0].sum().item()
        correct5 += hits.any(dim=1).sum().item()
        count += len(labels)
    model.train(was_training)
    loss_sum, correct1, correct5, count = _all_sum([loss_sum, correct1, correct5, count], rt)
    return {"loss": loss_sum / count, "top1": 100 * correct1 / count, "top5": 100 * correct5 / count}


def _batch_mix(recipe: dict, num_classes: int):
    """transforms.v2 MixUp / CutMix on a batch, one of the two chosen per batch (timm's switch prob 0.5)."""
    from torchvision.transforms import v2

    mixes = []
    if recipe["mixup"] > 0:
        mixes.append(v2.MixUp(alpha=recipe["mixup"], num_classes=num_classes))
    if recipe["cutmix"] > 0:
        mixes.append(v2.CutMix(alpha=recipe["cutmix"], num_classes=num_classes))
    if not mixes:
        return None
    return mixes[0] if len(mixes) == 1 else v2.RandomChoice(mixes)


def _loaders(recipe: dict, rt: Runtime, workers: int):
    from torch.utils.data import DataLoader

    from .data import Augmented, EpochSampler, EvalSampler, build_datasets, build_transform

    train_set, val_set, classes = build_datasets(
        recipe["data"], recipe["image_size"], seed=recipe["seed"],
        synthetic_sizes=(recipe["synthetic_train"], recipe["synthetic_val"]),
        data_root=recipe["data_root"], imagenette_size=recipe["imagenette_size"])
    size = recipe["image_size"]
    train_tf = build_transform(True, size, recipe["randaug_ops"], recipe["randaug_magnitude"], recipe["reprob"])
    val_tf = build_transform(False, size, crop_pct=recipe["crop_pct"])
    sampler = EpochSampler(len(train_set), rt.world_size, rt.rank, recipe["seed"])
    batches = len(sampler) // recipe["batch_size"]
    if batches < recipe["accum_steps"]:
        raise ValueError(f"{len(train_set)} training images make {batches} batches of {recipe['batch_size']} per "
                         f"process, fewer than --accum-steps {recipe['accum_steps']}: lower --batch-size or add data")
    common = {"num_workers": workers, "pin_memory": rt.device.type == "cuda", "persistent_workers": workers > 0,
              "generator": torch.Generator()}  # own generator: the loader never draws from the global stream
    train_loader = DataLoader(Augmented(train_set, train_tf), batch_size=recipe["batch_size"], sampler=sampler,
                              drop_last=True, **common)
    val_loader = DataLoader(Augmented(val_set, val_tf), batch_size=recipe["batch_size"],
                            sampler=EvalSampler(len(val_set), rt.world_size, rt.rank), **common)
    return train_loader, val_loader, classes


def _log(rt: Runtime, quiet: bool, text: str) -> None:
    if rt.is_main and not quiet:
        from tqdm import tqdm

        tqdm.write(text)


def train(args: argparse.Namespace) -> list[dict]:
    """Run what `args` (from `build_parser`) asks; returns the metrics history (one dict per epoch)."""
    if args.weights is not None and not args.eval_only:
        raise ValueError("--weights is for --eval-only (training starts from the step's initialisation or --resume)")
    if args.eval_only and (args.weights is None) == (not args.resume):
        raise ValueError("--eval-only needs exactly one of --resume (evaluate OUTPUT/last.pt) and --weights PATH")
    if args.threads:
        torch.set_num_threads(args.threads)
    rt = init_runtime(args.device)
    out = args.output
    ckpt_path = os.path.join(out, "last.pt")
    ckpt = None
    if args.resume:
        ckpt = load_checkpoint(ckpt_path)
    elif not args.eval_only and os.path.exists(ckpt_path):
        raise ValueError(f"{ckpt_path} exists: pass --resume to continue that run, or choose another --output")
    try:
        recipe = resolve_recipe(args, rt.world_size, rt.device.type, ckpt["recipe"] if ckpt else None)
    except ValueError as e:
        raise ValueError(f"{ckpt_path}: {e}" if ckpt else str(e)) from None

    train_loader, val_loader, classes = _loaders(recipe, rt, args.workers)
    _seed_everything(recipe["seed"])  # the same initial weights in every process
    model = build_network(recipe, len(classes))
    if ckpt is not None and ckpt["classes"] != list(classes):
        raise ValueError(f"{ckpt_path} was trained on {len(ckpt['classes'])} classes; --data {recipe['data']} has "
                         f"{len(classes)} (or other names)")
    if recipe["sync_bn"]:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    memory_format = torch.channels_last if args.channels_last else torch.preserve_format
    model.to(rt.device, memory_format=memory_format)
    ema = None
    if recipe["ema"]:
        ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(recipe["ema_decay"]), use_buffers=True)
    amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "off": None}[recipe["amp"]]

    if args.eval_only:
        return _eval_only(args, ckpt, ckpt_path, model, ema, val_loader, rt, amp_dtype)

    optimizer = torch.optim.AdamW(param_groups(model, recipe["weight_decay"]), lr=recipe["lr"],
                                  betas=PAPER_RECIPE["betas"], fused=rt.device.type == "cuda" or None)
    steps_per_epoch = len(train_loader) // recipe["accum_steps"]
    total_steps = steps_per_epoch * recipe["epochs"]
    warmup_steps = round(recipe["warmup_epochs"] * steps_per_epoch)
    final_ratio = recipe["min_lr"] / recipe["lr"]
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: warmup_cosine(s, warmup_steps, total_steps, final_ratio))
    scaler = torch.amp.GradScaler(rt.device.type, enabled=recipe["amp"] == "fp16")

    state = {"epoch": 0, "step_in_epoch": 0, "global_step": 0, "best_top1": -1.0, "history": [],
             "progress": {"loss_sum": 0.0, "loss_count": 0, "images": 0, "train_seconds": 0.0, "seconds": 0.0}}
    if ckpt is not None:
        try:
            from .convert import load_weights

            load_weights(model, ckpt["model"], layout="ours")
            if ema is not None:
                ema.load_state_dict(ckpt["ema"])
            optimizer.load_state_dict(ckpt["optimizer"])
            scheduler.load_state_dict(ckpt["scheduler"])
            scaler.load_state_dict(ckpt["scaler"])
            state = {k: ckpt[k] for k in state}
            rng = ckpt["rng"][rt.rank]
        except (KeyError, ValueError, RuntimeError, TypeError, IndexError) as e:
            raise ValueError(f"{ckpt_path} does not fit this run: {type(e).__name__}: {e}") from e
        _set_rng_state(rng, rt.device)
    else:
        _seed_everything(recipe["seed"] + rt.rank)  # per-process streams for mixup and drop path

    train_model = model
    if rt.distributed:
        # Depthwise weights (C, 1, k, k) get grads whose strides differ from the bucket's only along the
        # size-1 dimension; DDP warns about that although the layouts are the same memory.
        warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
        train_model = nn.parallel.DistributedDataParallel(
            model, device_ids=[rt.device.index] if rt.device.type == "cuda" else None)
    if args.compile:
        train_model = torch.compile(train_model)
    if rt.device.type == "cuda":
        torch.backends.cudnn.benchmark = True

    if rt.is_main:
        os.makedirs(out, exist_ok=True)
        save_atomic(os.path.join(out, "recipe.json"), lambda f: f.write(json.dumps(recipe, indent=2).encode()))
        _write_metrics(os.path.join(out, "metrics.csv"), state["history"])  # drops rows a kill left past last.pt
    name = recipe["step"] or recipe["model"]
    effective_batch = recipe["batch_size"] * recipe["accum_steps"] * rt.world_size
    params = sum(p.numel() for p in model.parameters())
    _log(rt, args.quiet, f"{name}: {params / 1e6:.2f}M params, {len(classes)} classes, {rt.world_size} process(es) on "
         f"{rt.device.type}, effective batch {effective_batch}, lr {recipe['lr']:.3g}, {steps_per_epoch} steps/epoch, "
         f"EMA {'on' if ema is not None else 'off'}, amp {recipe['amp']}"
         + (f"; resuming at epoch {state['epoch'] + 1} step {state['step_in_epoch']}" if ckpt else ""))

    def checkpoint() -> dict:
        rngs = [_rng_state(rt.device)]
        if rt.distributed:
            rngs = [None] * rt.world_size
            dist.all_gather_object(rngs, _rng_state(rt.device))
            rngs = [{k: (v.cpu() if isinstance(v, torch.Tensor) else v) for k, v in r.items()} for r in rngs]
        return {"format": CHECKPOINT_FORMAT, "recipe": recipe, "classes": list(classes),
                "model": model.state_dict(), "ema": ema.state_dict() if ema is not None else None,
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(),
                "rng": rngs, **state}

    def save_last() -> None:
        obj = checkpoint()  # every rank joins the RNG gather; rank 0 alone writes
        if rt.is_main:
            save_atomic(ckpt_path, obj)

    mix = _batch_mix(recipe, len(classes))
    criterion = nn.CrossEntropyLoss(label_smoothing=recipe["label_smoothing"])
    kill_after = int(os.environ.get(KILL_ENV, "0"))
    accum = recipe["accum_steps"]

    for epoch in range(state["epoch"], recipe["epochs"]):
        epoch_start = time.perf_counter()
        progress = state["progress"]
        train_loader.sampler.set_epoch(epoch, skip=state["step_in_epoch"] * accum * recipe["batch_size"])
        loss_sum = torch.tensor(progress["loss_sum"], dtype=torch.float64, device=rt.device)
        bar = None
        if rt.is_main and not args.quiet:
            from tqdm import tqdm

            bar = tqdm(total=steps_per_epoch, initial=state["step_in_epoch"], dynamic_ncols=True, leave=False,
                       desc=f"epoch {epoch + 1}/{recipe['epochs']}")
        train_model.train()
        images_seen, micro = 0, 0
        for images, labels in train_loader:
            images = images.to(rt.device, non_blocking=True)
            labels = labels.to(rt.device, non_blocking=True)
            targets = labels
            if mix is not None:
                images, targets = mix(images, labels)
            if args.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            micro += 1
            last_micro = micro % accum == 0
            sync = contextlib.nullcontext() if last_micro or not rt.distributed else train_model.no_sync()
            with sync:
                with torch.autocast(rt.device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
                    loss = criterion(train_model(images), targets)
                scaler.scale(loss / accum).backward()
            loss_sum += loss.detach().double()
            progress["loss_count"] += 1
            images_seen += len(images)
            if not last_micro:
                continue
            step_lr = optimizer.param_groups[0]["lr"]  # the lr this step used (the column in metrics.csv)
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            scheduler.step()
            if ema is not None:
                ema.update_parameters(model)
            state["step_in_epoch"] += 1
            state["global_step"] += 1
            if bar is not None:
                bar.update(1)
                if bar.n % 10 == 0 or bar.n == steps_per_epoch:
                    elapsed = progress["train_seconds"] + time.perf_counter() - epoch_start
                    bar.set_postfix(loss=f"{loss_sum.item() / progress['loss_count']:.4f}", lr=f"{step_lr:.2e}",
                                    img_s=f"{(progress['images'] + images_seen) * rt.world_size / elapsed:.0f}")
            if state["step_in_epoch"] == steps_per_epoch:
                break  # the last few micro-batches that make no full optimizer step are dropped
            if args.save_every_steps and state["global_step"] % args.save_every_steps == 0:
                now = time.perf_counter()
                progress.update(loss_sum=loss_sum.item(), images=progress["images"] + images_seen,
                                train_seconds=progress["train_seconds"] + now - epoch_start,
                                seconds=progress["seconds"] + now - epoch_start)
                images_seen, epoch_start = 0, now
                save_last()
            if kill_after and state["global_step"] == kill_after:
                os._exit(99)  # test hook: die like a killed process (no cleanup, nothing flushed)
        if bar is not None:
            bar.close()

        train_seconds = progress["train_seconds"] + time.perf_counter() - epoch_start
        train_loss, loss_count = _all_sum([loss_sum.item(), progress["loss_count"]], rt)
        images_total = _all_sum([progress["images"] + images_seen], rt)[0]
        val = evaluate(model, val_loader, rt, amp_dtype, args.channels_last)
        row = {"epoch": epoch + 1, "train_loss": train_loss / loss_count, "val_loss": val["loss"],
               "val_top1": val["top1"], "val_top5": val["top5"], "lr": step_lr,
               "images_per_s": images_total / train_seconds}
        if ema is not None:
            ema_val = evaluate(ema.module, val_loader, rt, amp_dtype, args.channels_last)
            row.update(ema_val_loss=ema_val["loss"], ema_val_top1=ema_val["top1"], ema_val_top5=ema_val["top5"])
        row["seconds"] = progress["seconds"] + time.perf_counter() - epoch_start
        state["history"].append(row)
        is_best = row["val_top1"] > state["best_top1"]
        if is_best:
            state["best_top1"] = row["val_top1"]
        state.update(epoch=epoch + 1, step_in_epoch=0,
                     progress={"loss_sum": 0.0, "loss_count": 0, "images": 0, "train_seconds": 0.0, "seconds": 0.0})
        save_last()
        if rt.is_main:
            _write_metrics(os.path.join(out, "metrics.csv"), state["history"])
            if is_best:
                best = {"format": CHECKPOINT_FORMAT + "/weights", "recipe": recipe, "classes": list(classes),
                        "epoch": epoch + 1, "metrics": row, "model": model.state_dict()}
                if ema is not None:
                    best["model_ema"] = ema.module.state_dict()
                save_atomic(os.path.join(out, "best.pt"), best)
        _log(rt, args.quiet, f"epoch {epoch + 1}/{recipe['epochs']}  train_loss {row['train_loss']:.4f}  "
             f"val_loss {row['val_loss']:.4f}  top1 {row['val_top1']:.2f}  top5 {row['val_top5']:.2f}"
             + (f"  ema_top1 {row['ema_val_top1']:.2f}" if ema is not None else "")
             + f"  lr {row['lr']:.2e}  {row['images_per_s']:.0f} img/s  {row['seconds']:.1f}s")
        if kill_after and state["global_step"] == kill_after:
            os._exit(99)
    if ckpt is not None and ckpt["epoch"] == recipe["epochs"]:
        _log(rt, args.quiet, f"{ckpt_path} has finished all {recipe['epochs']} epochs; nothing to do")
    return state["history"]


def _eval_only(args, ckpt, ckpt_path, model, ema, val_loader, rt, amp_dtype) -> list[dict]:
    from .convert import load_weights

    if ckpt is not None:
        try:
            load_weights(model, ckpt["model"], layout="ours")
            if ema is not None:
                ema.load_state_dict(ckpt["ema"])
        except (KeyError, ValueError, RuntimeError) as e:
            raise ValueError(f"{ckpt_path} does not fit this run: {e}") from e
        source = ckpt_path
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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        train(args)
    except (ValueError, KeyError, FileNotFoundError, ConnectionError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"error: {msg}", file=sys.stderr)
        return 2
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
