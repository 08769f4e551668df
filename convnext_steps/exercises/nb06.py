"""Notebook 06 (depthwise conv moved up): its exercises and their checkers."""

from __future__ import annotations

from .core import Exercise, meta_model


def _dwconv_macs(step: str) -> int:
    conv = meta_model(step).stages[0].blocks[1].dwconv
    return conv.out_channels * conv.kernel_size[0] ** 2 * 56 * 56  # per output pixel: k*k taps per channel


EXERCISES = (
    Exercise(
        "06.1",
        "By what factor does moving the depthwise conv up cut its own MACs in a stage-1 block?",
        lambda: _dwconv_macs("05") // _dwconv_macs("06"),
        "It now runs on the narrow 96-channel input instead of the 384-wide hidden tensor.",
        "a depthwise conv's MACs scale with the channels it runs on.",
    ),
)
