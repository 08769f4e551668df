"""The trainer's own part of a checkpoint: the random streams a resume restores.

Files themselves are written and read by `convnext_steps.checkpoint` (atomic writer, safe reader).
"""

from __future__ import annotations

import random

import torch

__all__ = ["rng_state", "set_rng_state"]


def rng_state(device: torch.device) -> dict:
    """This process's random streams (torch CPU, Python, and the device's CUDA one), as plain picklable values."""
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))  # weights_only loading gives lists back as lists
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)
