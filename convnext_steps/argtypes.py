"""Command-line argument types, in one place: `cli`, `bench` and the trainer all import them from here.

Each is an argparse `type=` callable: it returns the parsed value or raises `argparse.ArgumentTypeError` with a
message that names what was expected (argparse prefixes it with the option's own name, e.g. `--image-size`).
"""

from __future__ import annotations

import argparse

__all__ = ["positive_int", "non_negative_int", "unit_float", "non_negative_float", "positive_float", "image_size"]


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


def image_size(text: str) -> int:
    value = positive_int(text)
    if value < 32:
        raise argparse.ArgumentTypeError(f"expected at least 32 (the networks downsample by 32), got {value}")
    return value
