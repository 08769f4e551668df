"""The trainer's command line. Recipe options default to None ("not given"): `recipe.resolve_recipe` fills
them from the preset and the network, or, on --resume, from the checkpoint."""

from __future__ import annotations

import argparse

from ..argtypes import image_size, non_negative_float, non_negative_int, positive_float, positive_int, unit_float
from .recipe import FAMILY_NAMES, PRESETS

__all__ = ["build_parser"]

_PAPER, _SMALL = PRESETS["paper"], PRESETS["small"]


def _default(field: str, paper: str | None = None, small: str | None = None) -> str:
    paper = paper or str(getattr(_PAPER, field))
    small = small or str(getattr(_SMALL, field))
    return f"default {paper}" if paper == small else f"default: paper {paper}, small {small}"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m convnext_steps.train",
        description="Train a roadmap step with the paper's recipe (defaults scaled to your batch size), or with "
        "--recipe small for short runs on small data. Options left out on --resume are taken from the checkpoint; "
        "options given must match it. Sub-commands: `sweep` (steps and variants x seeds, one recipe) and "
        "`check-data PATH` (an image folder checked before training); each has its own --help.",
    )
    _model_options(p.add_argument_group("model"))
    _data_options(p.add_argument_group("data"))
    _optimisation_options(p.add_argument_group("optimisation"))
    _regularisation_options(p.add_argument_group("regularisation (0 turns each off)"))
    _run_options(p.add_argument_group("run (may change on --resume)"))
    return p


def _model_options(g) -> None:
    g.add_argument(
        "--step",
        help="roadmap step: index, id or id prefix (00 ... 12), or an extension (isotropic_s, "
        "isotropic_b, isotropic_l, v2_tiny); see `python -m convnext_steps roadmap`",
    )
    g.add_argument(
        "--changes",
        metavar="SET",
        help="an explorer variant instead of a step: ResNet-50 plus these changes, comma-separated ids or names "
        "(e.g. 02,03,07 or convnext_t-07); see `python -m convnext_steps explore`",
    )
    g.add_argument("--model", choices=FAMILY_NAMES, help="a ConvNeXt family member instead of a step")
    g.add_argument("--depths", type=positive_int, nargs="+", metavar="N", help="blocks per stage (override)")
    g.add_argument("--dims", type=positive_int, nargs="+", metavar="C", help="stage widths (override)")
    g.add_argument("--stem-dim", type=positive_int, metavar="C", help="stem width (override)")
    g.add_argument("--kernel-size", type=positive_int, metavar="K", help="block conv kernel (override)")
    g.add_argument(
        "--drop-path",
        type=unit_float(high_open=True),
        metavar="P",
        help="stochastic depth rate (default: paper: the step's 0.1, or the family member's; small 0)",
    )
    g.add_argument(
        "--layer-scale",
        type=non_negative_float,
        metavar="V",
        help="layer-scale init (default 1e-6 where the network has it; 0 turns it off)",
    )


def _data_options(g) -> None:
    g.add_argument("--data", help="'synthetic', 'imagenette', or a folder with train/ and val/ in ImageFolder layout")
    g.add_argument("--data-root", help="where --data imagenette is downloaded (default: data)")
    g.add_argument("--imagenette-size", choices=("160px", "320px", "full"), help="Imagenette variant (default 320px)")
    g.add_argument("--synthetic-train", type=positive_int, metavar="N", help="synthetic training images (default 2000)")
    g.add_argument("--synthetic-val", type=positive_int, metavar="N", help="synthetic validation images (default 500)")
    g.add_argument("--image-size", type=image_size, metavar="N", help="training resolution (default 224)")
    g.add_argument(
        "--crop-pct",
        type=unit_float(low_open=True),
        metavar="F",
        help="eval: resize to N/F, centre-crop N (default 0.875; 1.0 for synthetic)",
    )
    g.add_argument(
        "--crop-scale",
        type=unit_float(low_open=True),
        metavar="S",
        help=f"train: random-resized crops keep S to all of the image's area ({_default('crop_scale')})",
    )


def _optimisation_options(g) -> None:
    g.add_argument(
        "--recipe",
        dest="preset",
        choices=tuple(PRESETS),
        help="the defaults: 'paper' (the paper's ImageNet recipe; the default) or 'small' (short runs "
        "on small data: fixed lr, no MixUp/CutMix/RandAugment/erasing/EMA/drop path); options given "
        "override it",
    )
    g.add_argument("--epochs", type=positive_int, help=_default("epochs"))
    g.add_argument(
        "--warmup-epochs",
        type=non_negative_float,
        metavar="E",
        help="linear warm-up length (default: paper epochs / 15, the paper's 20 of 300; small epochs / 10)",
    )
    g.add_argument(
        "--batch-size",
        type=positive_int,
        metavar="B",
        help="images per process per micro-step (" + _default("batch_size") + ")",
    )
    g.add_argument("--accum-steps", type=positive_int, metavar="K", help="micro-steps per optimizer step (default 1)")
    g.add_argument(
        "--lr",
        type=positive_float,
        help="peak learning rate (default: paper 4e-3 x effective batch / 4096, small 1e-3)",
    )
    g.add_argument(
        "--min-lr",
        type=non_negative_float,
        help="final cosine lr (default: paper 1e-6 x effective batch / 4096, small 1e-5)",
    )
    g.add_argument(
        "--weight-decay",
        type=non_negative_float,
        help="AdamW decay on weights, not norms/biases (" + _default("weight_decay") + ")",
    )


def _regularisation_options(g) -> None:
    g.add_argument("--label-smoothing", type=unit_float(high_open=True), metavar="S", help=_default("label_smoothing"))
    g.add_argument("--mixup", type=non_negative_float, metavar="ALPHA", help="MixUp alpha (" + _default("mixup") + ")")
    g.add_argument("--cutmix", type=non_negative_float, metavar="ALPHA", help=f"CutMix alpha ({_default('cutmix')})")
    g.add_argument(
        "--randaug-ops",
        type=non_negative_int,
        metavar="N",
        help="RandAugment ops per image (" + _default("randaug_ops") + ")",
    )
    g.add_argument(
        "--randaug-magnitude", type=non_negative_int, metavar="M", help="RandAugment magnitude 0-30 (default 9)"
    )
    g.add_argument(
        "--reprob", type=unit_float(), metavar="P", help=f"random-erasing probability ({_default('reprob')})"
    )
    g.add_argument(
        "--ema",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="keep an EMA of the weights (default: paper on, off for networks with BatchNorm; small off)",
    )
    g.add_argument("--ema-decay", type=unit_float(low_open=True, high_open=True), metavar="D", help="default 0.9999")
    g.add_argument(
        "--sync-bn",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="SyncBatchNorm across processes (GPU only; default off, as in the paper)",
    )
    g.add_argument("--amp", choices=("bf16", "fp16", "off"), help="mixed precision (default: bf16 on GPU, off on CPU)")
    g.add_argument("--seed", type=int, help="default 0")


def _run_options(g) -> None:
    g.add_argument(
        "--output", required=True, metavar="DIR", help="recipe.json, metrics.csv, last.pt and best.pt go here"
    )
    g.add_argument(
        "--resume",
        action="store_true",
        help="continue from DIR/last.pt (or start again if DIR holds no checkpoint yet)",
    )
    g.add_argument(
        "--eval-only",
        action="store_true",
        help="evaluate DIR/last.pt (with --resume) or --weights on the val set, then stop",
    )
    g.add_argument("--weights", metavar="PATH", help="with --eval-only: weights in any layout convert.py reads")
    g.add_argument(
        "--save-every-steps",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="also write DIR/last.pt every N optimizer steps (default 0: at epoch ends only)",
    )
    g.add_argument(
        "--workers",
        type=non_negative_int,
        metavar="N",
        help="data-loading processes per rank (default: the cores this process may use, "
        "shared by this node's ranks, at most 8)",
    )
    g.add_argument("--channels-last", action="store_true", help="NHWC memory format (faster convs on GPUs)")
    g.add_argument("--compile", action="store_true", help="torch.compile the training model")
    g.add_argument("--device", help="default: cuda (this rank's GPU) when available, else cpu")
    g.add_argument("--threads", type=positive_int, help="torch CPU threads (default: torch's choice)")
    g.add_argument("--quiet", action="store_true", help="no progress bars or per-epoch lines")
