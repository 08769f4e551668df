"""Processes and devices: one process, or one of torchrun's (NCCL on GPUs, gloo on CPU)."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["Runtime", "init_runtime", "all_sum", "gather_objects", "seed_everything"]


@dataclass(frozen=True)
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


def init_runtime(device_arg: str | None = None) -> Runtime:
    """This process's rank and device (torchrun sets RANK / WORLD_SIZE / LOCAL_RANK); joins the process group."""
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


def all_sum(values: list[float], rt: Runtime) -> list[float]:
    """`values` summed over all processes (float64)."""
    t = torch.tensor(values, dtype=torch.float64, device=rt.device)
    if rt.distributed:
        dist.all_reduce(t)
    return t.tolist()


def gather_objects(obj, rt: Runtime) -> list:
    """Every process's `obj`, in rank order (every process must call it)."""
    if not rt.distributed:
        return [obj]
    objects = [None] * rt.world_size
    dist.all_gather_object(objects, obj)
    return objects


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
