"""How fast each roadmap step runs, and ours against the peers (`python -m convnext_steps bench`, in `cli`).

Per model and mode: inference (forward under `torch.inference_mode`) and training (forward + backward
+ AdamW step, drop path on), the median of several timed rounds after warm-up, the spread of those rounds,
and the peak tensor memory of one more call. `--vs-peers` times the final step against torchvision's and
timm's `convnext_tiny` in the same process with the same weights, one call of each per round.
Timing, memory and loading weights reuse `convnext_steps.measure` and `convnext_steps.convert`.
"""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from .argtypes import check_image_size, resolve_device
from .convert import export_state_dict, load_weights
from .fast import optimize_for_inference
from .measure import count_params, peak_memory_bytes, time_interleaved
from .precision import AMP_DTYPES, amp_dtype, autocast
from .roadmap import ROADMAP, get_step

__all__ = [
    "BenchSetup",
    "time_models",
    "bench_steps",
    "bench_vs_peers",
    "peer_models",
    "import_timm",
    "MODES",
    "CLOCKS",
]

MODES = ("inference", "train")
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
PEER_DROP_PATH = 0.1  # ConvNeXt-T's stochastic depth, as in our step 12 and torchvision's default
DEFAULT_BATCH = {"cpu": (8, 8), "cuda": (256, 128)}  # (inference, training) batch when not given


@dataclass(frozen=True)
class BenchSetup:
    """What is measured and how; every field ends up in the report."""

    device: str = "cpu"  # "cpu", "cuda", "cuda:N" or "auto" (CUDA when present), stored as the device picked
    batch_size: int = 8
    train_batch_size: int = 8
    image_size: int = 224
    channels_last: bool = False
    amp: str | None = None  # None (float32), "bf16" or "fp16": torch.autocast
    compile: bool = False
    warmup: int = 2
    rounds: int = 5
    clock: str = "wall"  # "wall" or "cpu" (process CPU seconds; CPU device only)
    modes: tuple[str, ...] = MODES

    def __post_init__(self):
        device = resolve_device(self.device)
        if self.device == "auto":
            object.__setattr__(self, "device", str(device))
        if min(self.batch_size, self.train_batch_size, self.rounds) < 1 or self.warmup < 0:
            raise ValueError(
                "batch sizes and rounds must be >= 1 and warmup >= 0, got "
                f"{self.batch_size}, {self.train_batch_size}, {self.rounds}, {self.warmup}"
            )
        check_image_size(self.image_size)
        if self.amp not in (None, *AMP_DTYPES):
            raise ValueError(f"amp must be one of {sorted(AMP_DTYPES)} or None, got {self.amp!r}")
        if self.compile and self.warmup < 1:
            raise ValueError("--compile needs --warmup >= 1: the first call compiles, it must not be timed")
        if self.clock not in CLOCKS:
            raise ValueError(f"clock must be one of {sorted(CLOCKS)}, got {self.clock!r}")
        if self.clock == "cpu" and device.type != "cpu":
            raise ValueError("--clock cpu counts this process's CPU seconds: it cannot time GPU work (use wall)")
        if not self.modes or any(m not in MODES for m in self.modes):
            raise ValueError(f"modes must be a non-empty subset of {MODES}, got {self.modes}")


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    try:
        with open("/proc/cpuinfo") as f:
            name = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        name = platform.processor() or platform.machine()
    return f"cpu ({name}, {os.cpu_count()} logical cores, torch threads {torch.get_num_threads()})"


def _environment(setup: BenchSetup) -> dict:
    import torchvision  # start-up cost: keeps torchvision off the command line's path until a bench runs

    try:
        import timm  # optional dependency: the report says None without it

        timm_version = timm.__version__
    except ImportError:
        timm_version = None
    return {
        "device": _device_name(torch.device(setup.device)),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "timm": timm_version,
        "python": platform.python_version(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _stats(seconds: list[float], batch_size: int) -> dict:
    ordered, median = sorted(seconds), statistics.median(seconds)
    return {
        "batch_size": batch_size,
        "seconds": seconds,
        "median_ms": 1000 * median,
        "min_ms": 1000 * ordered[0],
        "max_ms": 1000 * ordered[-1],
        "spread_pct": 100 * (ordered[-1] - ordered[0]) / median,  # (slowest - fastest) / median
        "img_per_s": batch_size / median,
    }


class _Runner:
    """One model prepared for the setup: its inference call and its training step, as plain callables."""

    def __init__(self, model: nn.Module, setup: BenchSetup):
        self.setup = setup
        self.device = torch.device(setup.device)
        self.memory_format = torch.channels_last if setup.channels_last else torch.contiguous_format
        self.model = model.to(self.device, memory_format=self.memory_format)
        self.call = torch.compile(self.model) if setup.compile else self.model
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=1e-4, weight_decay=0.05)
        self.scaler = torch.amp.GradScaler(self.device.type) if setup.amp == "fp16" else None
        # Drawn from fixed seeds, so that every model of a comparison sees the very same batch.
        self.inputs = {
            mode: self._batch(setup.batch_size if mode == "inference" else setup.train_batch_size, seed=i)
            for i, mode in enumerate(MODES)
            if mode in setup.modes
        }
        labels = torch.randint(0, 1000, (setup.train_batch_size,), generator=torch.Generator().manual_seed(2))
        self.labels = labels.to(self.device)

    def _batch(self, n: int, seed: int) -> torch.Tensor:
        size = self.setup.image_size
        x = torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))
        return x.to(self.device, memory_format=self.memory_format)

    def _autocast(self):
        return autocast(self.device, amp_dtype(self.setup.amp))

    # The callers put the model in eval or train mode first: switching is not part of what is timed.
    def infer(self, eager: bool = False) -> torch.Tensor:
        with torch.inference_mode(), self._autocast():
            return (self.model if eager else self.call)(self.inputs["inference"])

    def train_step(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            loss = F.cross_entropy(self.call(self.inputs["train"]), self.labels)
        if self.scaler is None:
            loss.backward()
            self.optimizer.step()
        else:  # fp16 needs loss scaling
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()

    def fn(self, mode: str):
        return self.infer if mode == "inference" else self.train_step


def _measure(runners: dict[str, _Runner], setup: BenchSetup, bar) -> dict[str, dict]:
    """Time every mode of every runner (interleaved when there are several) and take each one's peak memory."""
    device = torch.device(setup.device)
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else None
    results = {name: {} for name in runners}
    for mode in setup.modes:

        def progress(name: str, mode: str = mode) -> None:
            bar.set_description(f"{mode}: {name}")
            bar.update()

        bar.set_description(f"{mode} warm-up: {', '.join(runners)}")
        for runner in runners.values():
            runner.model.train(mode == "train")
        times = time_interleaved(
            {name: r.fn(mode) for name, r in runners.items()},
            warmup=setup.warmup,
            rounds=setup.rounds,
            sync=sync,
            clock=CLOCKS[setup.clock],
            progress=progress,
        )
        for name, runner in runners.items():
            bar.set_description(f"{mode} peak memory: {name}")
            batch = setup.batch_size if mode == "inference" else setup.train_batch_size
            results[name][mode] = _stats(times[name], batch)
            results[name][mode]["peak_mib"] = peak_memory_bytes(runner.fn(mode), device) / 2**20
    return results


def _progress(total: int):
    return tqdm(total=total, unit="call", leave=False, file=sys.stderr, dynamic_ncols=True)


def time_models(models: dict[str, nn.Module], setup: BenchSetup) -> dict[str, dict]:
    """Time named models together, one call of each per interleaved round (so a change of load hits all alike):
    per name and mode of `setup.modes`, the median batch, its spread, throughput and peak memory."""
    return _time_runners({name: _Runner(model, setup) for name, model in models.items()}, setup)


def _time_runners(runners: dict[str, _Runner], setup: BenchSetup) -> dict[str, dict]:
    with _progress(len(runners) * len(setup.modes) * setup.rounds) as bar:
        return _measure(runners, setup, bar)


def bench_steps(setup: BenchSetup, steps=None, optimized: bool = False) -> dict:
    """Measure roadmap steps (all, or the given indices / ids), one after the other, each on its own.

    `optimized`: time each model after `optimize_for_inference` (it changes only final-step blocks).
    """
    chosen = [get_step(s) for s in steps] if steps else list(ROADMAP)
    chosen = list(dict.fromkeys(chosen))  # keep order, drop repeats
    report = {
        "kind": "steps",
        "setup": asdict(setup),
        "environment": _environment(setup),
        "results": [],
        "optimized": optimized,
    }
    report["load_average"] = [os.getloadavg()] if hasattr(os, "getloadavg") else []
    with _progress(len(chosen) * len(setup.modes) * setup.rounds) as bar:
        for step in chosen:
            torch.manual_seed(0)
            model = step.build()
            runner = _Runner(optimize_for_inference(model) if optimized else model, setup)
            row = {"name": step.id, "params": count_params(runner.model)}
            row.update(_measure({step.id: runner}, setup, bar)[step.id])
            report["results"].append(row)
            del runner
            if setup.compile:
                torch.compiler.reset()  # every step shares Network.forward: do not pile up recompilations
    if hasattr(os, "getloadavg"):
        report["load_average"].append(os.getloadavg())
    return report


def import_timm():
    """timm, or a ValueError saying that --vs-peers needs it."""
    try:
        import timm  # optional dependency: only the comparison with the peers needs it
    except ImportError as e:
        raise ValueError("--vs-peers needs timm (pip install timm, or this package's [dev] extra)") from e
    return timm


def peer_models() -> dict[str, nn.Module]:
    """ConvNeXt-T with the same weights four times: ours (the final step) as the tutorial writes it, ours after
    `optimize_for_inference` (sharing those weights), torchvision's and timm's.

    torchvision's model draws the weights (its own init; layer scales redrawn from U(0.1, 1) so every
    block's branch matters, as in a trained network); ours gets them with `load_weights`, timm's from ours.
    """
    import torchvision  # start-up cost: keeps torchvision off the command line's path until a bench runs

    timm = import_timm()
    torch.manual_seed(0)
    tv = torchvision.models.convnext_tiny(stochastic_depth_prob=PEER_DROP_PATH)
    with torch.no_grad():
        for name, p in tv.named_parameters():
            if name.endswith("layer_scale"):
                p.uniform_(0.1, 1.0)
    ours = ROADMAP[-1].build()
    load_weights(ours, tv.state_dict(), layout="torchvision-convnext")
    tm = timm.create_model("convnext_tiny", drop_path_rate=PEER_DROP_PATH)
    tm.load_state_dict(export_state_dict(ours, "timm-convnext"))
    return {"ours": ours, "ours-optimized": optimize_for_inference(ours), "torchvision": tv, "timm": tm}


def bench_vs_peers(setup: BenchSetup) -> dict:
    """The final step (plain and optimized) against torchvision's and timm's convnext_tiny: same process, weights
    and rounds."""
    models = peer_models()
    report = {"kind": "vs-peers", "setup": asdict(setup), "environment": _environment(setup), "results": []}
    report["load_average"] = [os.getloadavg()] if hasattr(os, "getloadavg") else []
    runners = {name: _Runner(model, setup) for name, model in models.items()}
    # Same weights must mean same outputs: checked on the benchmark's own input, before any training.
    logits = {}
    if "inference" in setup.modes:
        for name, runner in runners.items():
            runner.model.eval()
            logits[name] = runner.infer(eager=True).float()
    results = _time_runners(runners, setup)
    if hasattr(os, "getloadavg"):
        report["load_average"].append(os.getloadavg())
    for name, model in models.items():
        row = {"name": name, "params": count_params(model), **results[name]}
        if logits and name != "ours":
            row["max_abs_logit_diff"] = (logits["ours"] - logits[name]).abs().max().item()
        report["results"].append(row)
    # ours/peer speed: above 1 means ours is faster.
    report["ratios"] = {
        f"{mine} / {peer}": {
            mode: results[peer][mode]["median_ms"] / results[mine][mode]["median_ms"] for mode in setup.modes
        }
        for mine in ("ours", "ours-optimized")
        for peer in ("torchvision", "timm")
    }
    return report
