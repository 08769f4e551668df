"""Measuring a network, in one place: parameters, multiply-adds, feature-map shapes, latency."""
from __future__ import annotations

import time

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["count_params", "count_macs", "stage_shapes", "time_forward", "measure_roadmap"]


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def count_macs(model: nn.Module, image_size: int = 224, in_chans: int = 3) -> int:
    """Multiply-adds of one forward pass on one image (torch's FLOP counter / 2: one MAC = 2 FLOPs).

    Counts conv and linear layers (the paper's fvcore convention); norms and activations are not MACs.
    """
    was_training = model.training
    model.eval()
    param = next(model.parameters())
    x = torch.zeros(1, in_chans, image_size, image_size, dtype=param.dtype, device=param.device)
    try:
        with FlopCounterMode(display=False) as counter:
            model(x)
    finally:
        model.train(was_training)
    return counter.get_total_flops() // 2


@torch.no_grad()
def stage_shapes(model: nn.Module, image_size: int = 224) -> list[tuple[int, ...]]:
    """(C, H, W) after the stem and after each stage, for one image."""
    was_training = model.training
    model.eval()
    try:
        feats = model.forward_stages(torch.zeros(1, model.config.in_chans, image_size, image_size))
    finally:
        model.train(was_training)
    return [tuple(f.shape[1:]) for f in feats]


def time_forward(fn, warmup: int = 2, rounds: int = 5, sync=None) -> list[float]:
    """Wall-clock seconds of `fn()` for each of `rounds` timed calls after `warmup` untimed ones."""
    sync = sync or (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return times


def measure_roadmap(image_size: int = 224, kernel_sweep: bool = True) -> dict:
    """Params and measured GMACs of every roadmap step (and step 07's kernel sweep) beside the paper's figures."""
    from .roadmap import ROADMAP, get_step
    from .step07_kernel_7x7 import KERNEL_SWEEP

    def row(model, **fields):
        return dict(fields, params=count_params(model), gmacs=count_macs(model, image_size) / 1e9)

    steps = [
        row(step.build(), id=step.id, title=step.title, change=step.change,
            paper_gflops=step.paper_gflops, paper_top1=step.paper_top1)
        for step in ROADMAP
    ]
    sweep = []
    if kernel_sweep:
        step = get_step("07")
        sweep = [
            row(step.build(kernel_size=k), id=step.id, kernel_size=k, paper_gflops=gflops, paper_top1=top1)
            for k, (gflops, top1) in KERNEL_SWEEP.items()
        ]
    return {"image_size": image_size, "steps": steps, "kernel_sweep": sweep}
