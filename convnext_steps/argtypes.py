"""Command-line argument types, in one place: `cli` (its `bench` command too) and the trainer import them from here.

Each is an argparse `type=` callable: it returns the parsed value or raises `argparse.ArgumentTypeError` with a
message that names what was expected (argparse prefixes it with the option's own name, e.g. `--image-size`).
The checks an API shares with its command line (`check_image_size`, `resolve_device`) raise ValueError with the
same message.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch

from .roadmap import get_step

__all__ = [
    "positive_int",
    "non_negative_int",
    "unit_float",
    "non_negative_float",
    "positive_float",
    "image_size",
    "device",
    "step_id",
    "check_image_size",
    "resolve_device",
]

MIN_IMAGE_SIZE = 32  # the networks downsample by 32


def _number(text: str, kind: type):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected {'an integer' if kind is int else 'a number'}, got {text!r}"
        ) from None


def positive_int(text: str) -> int:
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def non_negative_int(text: str) -> int:
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text}")
    return value


def unit_float(low_open: bool = False, high_open: bool = False):
    """A number in [0, 1], with either end open on request."""
    interval = f"{'(' if low_open else '['}0, 1{')' if high_open else ']'}"

    def parse(text: str) -> float:
        value = _number(text, float)
        if not (0 < value if low_open else 0 <= value) or not (value < 1 if high_open else value <= 1):
            raise argparse.ArgumentTypeError(f"expected a number in {interval}, got {text}")
        return value

    parse.__name__ = f"number in {interval}"  # argparse names the type in some messages
    return parse


def non_negative_float(text: str) -> float:
    value = _number(text, float)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


def positive_float(text: str) -> float:
    value = _number(text, float)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text}")
    return value


def _argument(check: Callable, value):
    """`check(value)`, its ValueError turned into argparse's error type."""
    try:
        return check(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def check_image_size(value: int) -> int:
    """`value` if the networks can take `value` x `value` images; ValueError otherwise."""
    if value < MIN_IMAGE_SIZE:
        raise ValueError(
            f"expected at least {MIN_IMAGE_SIZE} (the networks downsample by {MIN_IMAGE_SIZE}), got {value}"
        )
    return value


def image_size(text: str) -> int:
    return _argument(check_image_size, positive_int(text))


def resolve_device(text: str) -> torch.device:
    """The CPU or CUDA device `text` names ("auto": CUDA when torch sees one, else CPU), if this machine has it;
    ValueError otherwise."""
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(text)
    except RuntimeError:
        dev = None
    if dev is None or dev.type not in ("cpu", "cuda"):
        raise ValueError(f"expected auto, cpu, cuda or cuda:N, got {text!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{text!r} asked for, but torch sees no CUDA device here (use cpu)")
    return dev


def device(text: str) -> str:
    """A device name, checked by `resolve_device`; "auto" becomes the device it picks."""
    resolved = _argument(resolve_device, text)
    return str(resolved) if text == "auto" else text


def step_id(text: str) -> str:
    """A roadmap step or extension (index, id or id prefix), as its full id."""
    return _argument(lambda t: get_step(t).id, text)
