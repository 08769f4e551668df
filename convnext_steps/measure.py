"""Measuring a network, in one place: parameters, multiply-adds, feature-map shapes, latency."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call
from torch.overrides import TorchFunctionMode
from torch.profiler import ProfilerActivity, profile, record_function
from torch.utils.flop_counter import FlopCounterMode

from .layers import LayerNorm2d

__all__ = [
    "eval_mode",
    "count_params",
    "count_macs",
    "cost_breakdown",
    "leaf_macs",
    "stage_costs",
    "stage_shapes",
    "count_calls",
    "time_forward",
    "time_interleaved",
    "peak_memory_bytes",
    "latency_ms",
    "effective_receptive_field",
    "erf_extent",
    "receptive_field",
    "reach",
    "block_drop_path_rates",
    "OPERATOR_KINDS",
    "operator_costs",
    "fvcore_style_flops",
]


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """`model` in eval mode for the `with` block, then back in the mode it was in, even when the block raises."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# Functions whose output has their input's shape and that torch's FLOP counter gives no FLOPs: on the meta device
# each call runs a Python decomposition (~3 ms a BatchNorm) that tells the counter nothing, so they are skipped.
_UNCOUNTED_SAME_SHAPE = frozenset({F.batch_norm, F.layer_norm, F.group_norm, F.gelu, F.relu, F.silu, F.dropout})


class _SkipUncounted(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in _UNCOUNTED_SAME_SHAPE and args[0].device.type == "meta":
            return torch.empty_like(args[0])
        return func(*args, **(kwargs or {}))


def _meta_forward(model: nn.Module, image_size: int, in_chans: int, skip_uncounted: bool = True) -> FlopCounterMode:
    """One eval-mode forward pass of one image on the meta device (shapes only: no memory, no arithmetic),
    with the model's own weights swapped for meta tensors of the same shapes, under a FLOP counter.
    `skip_uncounted`: norms and activations return an empty tensor of their input's shape (same counts, 2-3x
    faster; tests/test_roadmap.py checks both ways agree on every model)."""
    tensors = {
        name: torch.empty_like(t, device="meta") for name, t in [*model.named_parameters(), *model.named_buffers()]
    }
    dtype = next(iter(tensors.values())).dtype if tensors else torch.float32
    x = torch.zeros(1, in_chans, image_size, image_size, dtype=dtype, device="meta")
    skip = _SkipUncounted() if skip_uncounted else contextlib.nullcontext()
    with eval_mode(model), torch.no_grad(), FlopCounterMode(display=False) as counter, skip:
        functional_call(model, tensors, (x,))
    return counter


def count_macs(model: nn.Module, image_size: int = 224, in_chans: int = 3) -> int:
    """Multiply-adds of one forward pass on one image (torch's FLOP counter / 2: one MAC = 2 FLOPs).

    Counts conv and linear layers (the paper's fvcore convention); norms and activations are not MACs. The pass
    runs on the meta device, so counting costs no arithmetic and gives the same number on every machine.
    """
    return _meta_forward(model, image_size, in_chans).get_total_flops() // 2


COMPONENTS = ("stem", "blocks", "downsampling", "head")


def _component(name: str) -> tuple[str, int]:
    """(component, stage) of a module name: stage 0 is the stem, 1-4 the stages, 5 the head."""
    parts = name.split(".")
    if parts[0] == "stem":
        return "stem", 0
    if parts[0] == "stages":
        stage = int(parts[1]) + 1
        downsampling = parts[2] == "downsample" or "shortcut" in parts  # a separate layer, or a projection
        return ("downsampling" if downsampling else "blocks"), stage
    return "head", 5  # the pooled norm and the classifier


def cost_breakdown(model: nn.Module, image_size: int = 224) -> list[dict]:
    """Parameters and multiply-adds of each (component, stage) of a built `Network`, at `image_size`.

    Components: "stem"; "blocks" (each stage's blocks, their projection shortcuts excluded); "downsampling"
    (the separate downsampling layers, or the projection shortcuts of blocks that change width or resolution);
    "head" (the pooled norm and the classifier). Rows sum to `count_params` and `count_macs` exactly.
    """
    rows: dict[tuple[str, int], dict] = {}

    def row(name: str) -> dict:
        component, stage = _component(name)
        return rows.setdefault((component, stage), {"component": component, "stage": stage, "params": 0, "macs": 0})

    for name, p in model.named_parameters():
        row(name)["params"] += p.numel()
    for name, macs in leaf_macs(model, image_size).items():
        row(name)["macs"] += macs
    return sorted(rows.values(), key=lambda r: (r["stage"], COMPONENTS.index(r["component"])))


def leaf_macs(model: nn.Module, image_size: int = 224) -> dict[str, int]:
    """Multiply-adds of each leaf module of a built `Network` that does any ("stages.1.blocks.0.pwconv1": ...), in
    one forward pass of one `image_size` image; they sum to `count_macs`."""
    counter = _meta_forward(model, image_size, model.config.in_chans)
    leaves = {n for n, m in model.named_modules() if not list(m.children())}
    macs = {}
    for key, counts in counter.get_flop_counts().items():
        name = key.removeprefix(f"{type(model).__name__}.")
        if name in leaves:  # each leaf's own FLOPs, so nothing is counted twice
            macs[name] = sum(counts.values()) // 2
    return macs


def stage_costs(model: nn.Module, image_size: int = 224) -> list[dict]:
    """Parameters and multiply-adds per stage ("stem", "stage 1" ... "stage 4", "head"), downsampling included."""
    names = ["stem", *(f"stage {i}" for i in range(1, len(model.stages) + 1)), "head"]
    out = {name: {"part": name, "params": 0, "macs": 0} for name in names}
    for r in cost_breakdown(model, image_size):
        part = names[r["stage"]] if r["stage"] < len(names) - 1 else "head"
        out[part]["params"] += r["params"]
        out[part]["macs"] += r["macs"]
    return list(out.values())


@torch.no_grad()
def stage_shapes(model: nn.Module, image_size: int = 224) -> list[tuple[int, ...]]:
    """(C, H, W) after the stem and after each stage, for one image."""
    device = next(model.parameters()).device  # a model built on the meta device gives shapes at no cost
    with eval_mode(model):
        feats = model.forward_stages(torch.zeros(1, model.config.in_chans, image_size, image_size, device=device))
    return [tuple(f.shape[1:]) for f in feats]


@torch.no_grad()
def count_calls(model: nn.Module, types: type | tuple[type, ...], image_size: int = 32) -> int:
    """How many times modules of `types` run in one forward pass of one image (eval mode).

    Counts calls, not modules: a block that applies one `nn.GELU` module three times counts three.
    """
    calls = 0

    def hook(module, args, output):
        nonlocal calls
        calls += 1

    device = next(model.parameters()).device  # a model built on the meta device is counted at no cost
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, types)]
    try:
        with eval_mode(model):
            model(torch.zeros(1, model.config.in_chans, image_size, image_size, device=device))
    finally:
        for handle in handles:
            handle.remove()
    return calls


def time_forward(fn, warmup: int = 2, rounds: int = 5, sync=None, clock=time.perf_counter) -> list[float]:
    """Seconds of `fn()` for each of `rounds` timed calls after `warmup` untimed ones.

    `sync` waits for queued device work (torch.cuda.synchronize); `clock` is wall-clock by default,
    `time.process_time` gives this process's CPU seconds (steadier on a shared machine, CPU only).
    """
    sync = sync or (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(rounds):
        start = clock()
        fn()
        sync()
        times.append(clock() - start)
    return times


def time_interleaved(
    fns: dict, warmup: int = 2, rounds: int = 5, sync=None, clock=time.perf_counter, progress=None
) -> dict[str, list[float]]:
    """`time_forward` for several callables, one call of each per round, so that a change in load
    (other processes, clock speed) during the measurement hits all of them alike.

    `progress(name)` is called before each timed call (e.g. to update a progress bar).
    """
    for fn in fns.values():
        time_forward(fn, warmup=warmup, rounds=0, sync=sync)
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            if progress is not None:
                progress(name)
            times[name] += time_forward(fn, warmup=0, rounds=1, sync=sync, clock=clock)
    return times


def peak_memory_bytes(fn, device: torch.device | str = "cpu") -> int:
    """Peak bytes of tensor memory allocated while `fn()` runs, above what was allocated when it started.

    CUDA: the caching allocator's own statistics. CPU: the profiler's memory events (each allocation
    made during the call, and its free), summed in time order.
    """
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        start = torch.cuda.memory_allocated(device)
        fn()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - start
    if device.type != "cpu":
        raise ValueError(f"peak memory is measured on 'cpu' or 'cuda' devices, got {device}")
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    with tempfile.TemporaryDirectory() as folder:  # the exported trace is the profiler's public record
        path = os.path.join(folder, "trace.json")
        prof.export_chrome_trace(path)
        with open(path) as f:
            trace = json.load(f)
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    changes = sorted(
        (e["ts"], e["args"]["Bytes"], e["args"]["Addr"])
        for e in events
        if e.get("name") == "[memory]" and e["args"].get("Device Type") == 0
    )  # 0: CPU
    alive, live, peak = {}, 0, 0
    for _, nbytes, addr in changes:
        if nbytes > 0:
            alive[addr] = nbytes
        elif addr in alive:  # frees of blocks from before the call are not ours to subtract
            nbytes = -alive.pop(addr)
        else:
            continue
        live += nbytes
        peak = max(peak, live)
    return peak


@torch.no_grad()
def latency_ms(model: nn.Module, batch_size: int = 1, image_size: int = 224, warmup: int = 2, rounds: int = 5) -> float:
    """Median wall-clock milliseconds of one inference forward pass, on the model's device."""
    param = next(model.parameters())
    x = torch.randn(batch_size, model.config.in_chans, image_size, image_size, dtype=param.dtype, device=param.device)
    sync = torch.cuda.synchronize if param.is_cuda else None
    with eval_mode(model):
        times = time_forward(lambda: model(x), warmup=warmup, rounds=rounds, sync=sync)
    return 1000 * sorted(times)[len(times) // 2]


def effective_receptive_field(
    model: nn.Module, image_size: int = 160, n_inputs: int = 4, seed: int = 0, stage: int = -1
) -> torch.Tensor:
    """Effective receptive field (Luo et al. 2016): mean |d(centre output) / d(input)| over random images.

    The centre output is the channel sum of the centre pixel of `model.forward_stages(x)[stage]` (-1: the
    last stage; 0: the stem). Inputs are `n_inputs` standard-normal images drawn with `seed`; the model runs
    in eval mode, so every image's gradient is its own. Returns an (image_size, image_size) map, summed over
    input channels. The map is centred exactly when the feature map's size is odd (e.g. 160 or 224 for the
    last stage, which downsamples by 32).
    """
    if n_inputs < 1:
        raise ValueError(f"n_inputs must be positive, got {n_inputs}")
    param = next(model.parameters())
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n_inputs, model.config.in_chans, image_size, image_size, generator=generator)
    x = x.to(dtype=param.dtype, device=param.device).requires_grad_(True)
    with eval_mode(model), torch.enable_grad():
        feats = model.forward_stages(x)[stage]
        h, w = feats.shape[-2:]
        # autograd.grad, not backward(): no gradients pile up in the model's parameters.
        (grad,) = torch.autograd.grad(feats[:, :, h // 2, w // 2].sum(), x)
    return grad.abs().sum(1).mean(0).detach().cpu()


def erf_extent(erf: torch.Tensor, fraction: float = 0.9) -> int:
    """Side (pixels) of the smallest square, centred on the map's centre of mass, holding `fraction` of its mass."""
    if erf.ndim != 2:
        raise ValueError(f"expected a 2-D (H, W) map, got shape {tuple(erf.shape)}")
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    total = erf.sum().item()
    if not total > 0:
        raise ValueError("the map has no positive mass (all zeros?): nothing to measure")
    ys = torch.arange(erf.shape[0], dtype=erf.dtype)
    xs = torch.arange(erf.shape[1], dtype=erf.dtype)
    cy = round((erf.sum(1) * ys).sum().item() / total)
    cx = round((erf.sum(0) * xs).sum().item() / total)
    for r in range(max(erf.shape)):
        box = erf[max(cy - r, 0) : cy + r + 1, max(cx - r, 0) : cx + r + 1]
        if box.sum().item() >= fraction * total:
            return 2 * r + 1
    return 2 * max(erf.shape) - 1


def block_drop_path_rates(model: nn.Module) -> list[float]:
    """The drop-path probability each block of a built `Network` actually has, in forward order."""
    return [block.drop_path.p for stage in model.stages for block in stage.blocks]


# Operator kinds for `operator_costs`, in display order; "other": the work outside these layers (permutes, the
# residual add, layer scale's multiply, reshapes), timed as what is left of the forward pass.
OPERATOR_KINDS = ("dense conv", "1x1 conv / linear", "depthwise conv", "norm", "activation", "pool", "other")


def _operator_kind(m: nn.Module) -> str | None:
    if isinstance(m, nn.Conv2d):
        if m.groups > 1 and m.groups == m.in_channels:
            return "depthwise conv"
        return "1x1 conv / linear" if m.kernel_size == (1, 1) else "dense conv"
    if isinstance(m, nn.Linear):
        return "1x1 conv / linear"
    if isinstance(m, (nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm)) or type(m).__name__ == "GRN":
        return "norm"
    if isinstance(m, (nn.ReLU, nn.GELU)):
        return "activation"
    if isinstance(m, (nn.MaxPool2d, nn.AdaptiveAvgPool2d)):
        return "pool"
    return None


@contextlib.contextmanager
def _native_stderr_silenced():
    """libkineto (the profiler's backend) prints start/stop lines on the process's C-level stderr: drop them."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@torch.no_grad()
def operator_costs(model: nn.Module, image_size: int = 224, rounds: int = 2) -> list[dict]:
    """Each kind of operator's multiply-adds and measured time in one forward pass of one image (eval mode).

    MACs are counted on the meta device (exact). Time comes from `torch.profiler`: every layer's call runs inside
    a `record_function` named after its kind, and the profiler's CPU time per name is averaged over `rounds`
    passes after one warm-up; "other" is the rest of the pass. Rows: kind, macs, ms, mac_share, time_share.
    Timings vary between runs and machines; the shares are what to read.
    """
    kinds = {n: k for n, m in model.named_modules() if not list(m.children()) and (k := _operator_kind(m))}
    macs = dict.fromkeys(OPERATOR_KINDS, 0)
    prefix = f"{type(model).__name__}."
    for key, counts in _meta_forward(model, image_size, model.config.in_chans).get_flop_counts().items():
        name = key.removeprefix(prefix)
        if name in kinds:
            macs[kinds[name]] += sum(counts.values()) // 2
    scopes: dict[int, list] = {}

    def enter(module, args):
        scopes.setdefault(id(module), []).append(record_function(f"kind: {kinds_by_module[id(module)]}").__enter__())

    def leave(module, args, output):
        scopes[id(module)].pop().__exit__(None, None, None)

    modules = dict(model.named_modules())
    kinds_by_module = {id(modules[n]): k for n, k in kinds.items()}
    handles = [modules[n].register_forward_pre_hook(enter) for n in kinds]
    handles += [modules[n].register_forward_hook(leave) for n in kinds]
    param = next(model.parameters())
    x = torch.randn(1, model.config.in_chans, image_size, image_size, dtype=param.dtype, device=param.device)
    try:
        with eval_mode(model):
            model(x)  # warm-up
            with _native_stderr_silenced(), profile(activities=[ProfilerActivity.CPU]) as prof:
                for _ in range(rounds):
                    with record_function("kind: forward"):
                        model(x)
    finally:
        for handle in handles:
            handle.remove()
    ms = dict.fromkeys(OPERATOR_KINDS, 0.0)
    total = 0.0
    for event in prof.key_averages():
        if event.key == "kind: forward":
            total = event.cpu_time_total / 1000 / rounds
        elif event.key.startswith("kind: "):
            ms[event.key.removeprefix("kind: ")] += event.cpu_time_total / 1000 / rounds
    ms["other"] = max(0.0, total - sum(v for k, v in ms.items() if k != "other"))
    all_macs = sum(macs.values())
    return [
        dict(kind=k, macs=macs[k], ms=ms[k], mac_share=macs[k] / all_macs, time_share=ms[k] / total if total else 0.0)
        for k in OPERATOR_KINDS
        if macs[k] or ms[k] > 0
    ]


def receptive_field(model: nn.Module) -> int:
    """Theoretical receptive field (pixels) of one output of the last stage: the input square that can reach it.

    Walks the convs and pools of the main path (residual branches, stems and downsampling layers; not the 1x1
    projection shortcuts, whose reach is smaller) in the order the network registers them, which is the order
    they run in: each k x k layer of stride s adds (k - 1) x the stride so far. Works on the meta device.
    """
    return reach(model)[0]


def reach(module: nn.Module) -> tuple[int, int]:
    """(receptive field, total stride) of a module's main path, as `receptive_field` walks it. Parts compose:
    after a part of reach (r, s), the next part of reach (r2, s2) sees r + (r2 - 1) * s pixels, stride s * s2."""
    rf, jump = 1, 1
    for name, m in module.named_modules():
        if ".shortcut" in f".{name}" or not isinstance(m, (nn.Conv2d, nn.MaxPool2d)):
            continue
        k = m.kernel_size[0] if isinstance(m.kernel_size, tuple) else m.kernel_size
        s = m.stride[0] if isinstance(m.stride, tuple) else m.stride
        rf += (k - 1) * jump
        jump *= s
    return rf, jump


def fvcore_style_flops(model: nn.Module, image_size: int = 224) -> int:
    """FLOPs as fvcore (a widely used counter, behind the official ConvNeXt V2 README's figures) reports them: the
    conv and linear multiply-adds of `count_macs`, plus 5 per element entering a LayerNorm and 1 per element the
    global average pool reads. A model built on the meta device is counted at no cost; fvcore itself is not a
    dependency here.
    """
    elements = []
    hooks = [
        m.register_forward_hook(lambda m, args, out: elements.append(5 * args[0].numel()))
        for m in model.modules()
        if isinstance(m, (nn.LayerNorm, LayerNorm2d))
    ]
    hooks.append(model.stages[-1].register_forward_hook(lambda m, args, out: elements.append(out.numel())))
    device = next(model.parameters()).device
    try:
        with eval_mode(model), torch.no_grad():
            model(torch.zeros(1, model.config.in_chans, image_size, image_size, device=device))
    finally:
        for hook in hooks:
            hook.remove()
    return count_macs(model, image_size) + sum(elements)
