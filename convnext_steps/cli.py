"""Command line: `python -m convnext_steps COMMAND` (see --help): roadmap, figures, diff and bench."""

from __future__ import annotations

import argparse
import json
import sys

import torch

from . import bench
from .argtypes import device, image_size, non_negative_int, positive_int, step_id
from .design import design_diff
from .explorer_cli import add_explore_parser
from .precision import AMP_DTYPES
from .roadmap import measure_roadmap

__all__ = ["main"]


def format_roadmap(report: dict) -> str:
    size = report["image_size"]
    lines = [
        f"ResNet-50 -> ConvNeXt-T roadmap (Liu et al. 2022, Table 10), measured at {size}x{size}",
        f"{'step':<26} {'params (M)':>10} {'GMACs':>7} {'paper GFLOPs':>12} {'paper top-1':>11}  change",
    ]
    for r in report["steps"]:
        lines.append(
            f"{r['id']:<26} {r['params'] / 1e6:>10.2f} {r['gmacs']:>7.2f} {r['paper_gflops']:>12.2f} "
            f"{r['paper_top1']:>11.2f}  {r['change']}"
        )
    if report["kernel_sweep"]:
        lines.append("")
        lines.append("Step 07 kernel-size sweep (kernel_size override):")
        lines.append(f"{'kernel':<26} {'params (M)':>10} {'GMACs':>7} {'paper GFLOPs':>12} {'paper top-1':>11}")
        for r in report["kernel_sweep"]:
            k = r["kernel_size"]
            lines.append(
                f"{f'{k}x{k}':<26} {r['params'] / 1e6:>10.2f} {r['gmacs']:>7.2f} {r['paper_gflops']:>12.2f} "
                f"{r['paper_top1']:>11.2f}"
            )
    if report.get("extensions"):
        lines.append("")
        lines.append("Past the paper's roadmap: extensions written on top of step 12, beside their published figures")
        lines.append(
            f"{'extension':<26} {'params (M)':>10} {'GMACs':>7} {'published: params (M)':>21} {'GFLOPs':>6} "
            f"{'top-1':>5}  source"
        )
        for r in report["extensions"]:
            lines.append(
                f"{r['id']:<26} {r['params'] / 1e6:>10.2f} {r['gmacs']:>7.2f} {r['paper_params_m']:>21g} "
                f"{r['paper_gflops']:>6g} {r['paper_top1']:>5.1f}  {r['source']}"
            )
    lines.append("")
    lines.append("GMACs: multiply-adds counted by torch.utils.flop_counter (FLOPs / 2), the paper's FLOP convention.")
    return "\n".join(lines)


def cmd_roadmap(args) -> int:
    report = measure_roadmap(args.image_size, kernel_sweep=not args.no_sweep)
    print(json.dumps(report, indent=2) if args.json else format_roadmap(report))
    return 0


def cmd_figures(args) -> int:
    import matplotlib  # start-up cost: only this command draws

    matplotlib.use("Agg")  # files only, no display
    from .figures import save_figures  # import order: pyplot (through figures) after matplotlib.use

    try:
        paths = save_figures(args.out, args.names or None)
    except (ValueError, OSError) as e:
        print(f"python -m convnext_steps figures: error: {e}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    return 0


def cmd_diff(args) -> int:
    try:
        print(design_diff(args.step, args.other), end="")
    except ValueError as e:
        print(f"python -m convnext_steps diff: error: {e}", file=sys.stderr)
        return 2
    return 0


def format_bench(report: dict) -> str:
    """The report as a text table (the JSON holds every timed round as well)."""
    s, env = report["setup"], report["environment"]
    precision = s["amp"] or "float32"
    lines = [
        f"device {env['device']}; torch {env['torch']}, torchvision {env['torchvision']}, timm {env['timm']}; "
        f"{env['date']}",
        f"{s['image_size']}x{s['image_size']}, inference batch {s['batch_size']}, "
        f"training batch {s['train_batch_size']}, {precision}, "
        f"{'channels_last' if s['channels_last'] else 'contiguous (NCHW)'}, "
        f"{'torch.compile' if s['compile'] else 'eager'}; "
        f"{s['clock']} clock, {s['warmup']} warm-up + {s['rounds']} timed rounds per mode"
        f"{', interleaved' if report['kind'] == 'vs-peers' else ''}",
    ]
    if report.get("load_average"):
        loads = " / ".join(f"{load[0]:.2f}" for load in report["load_average"])
        lines.append(f"load average (1 min) before / after: {loads}")
    header = f"{'model':<26} {'params (M)':>10}"
    for mode in s["modes"]:
        header += f" | {mode + ' img/s':>15} {'ms/batch':>9} {'spread':>7} {'peak MiB':>9}"
    if report["kind"] == "vs-peers":
        header += f" | {'max|dlogit|':>11}"
    lines += ["", header, "-" * len(header)]
    for r in report["results"]:
        line = f"{r['name']:<26} {r['params'] / 1e6:>10.2f}"
        for mode in s["modes"]:
            m = r[mode]
            line += f" | {m['img_per_s']:>15.1f} {m['median_ms']:>9.1f} {m['spread_pct']:>6.0f}% {m['peak_mib']:>9.1f}"
        if report["kind"] == "vs-peers":
            diff = r.get("max_abs_logit_diff")  # absent for ours, and when inference was not run
            text = "(reference)" if r["name"] == "ours" else "-" if diff is None else f"{diff:.1e}"
            line += f" | {text:>11}"
        lines.append(line)
    if report["kind"] == "vs-peers":
        lines.append("")
        for peer, ratios in report["ratios"].items():
            lines.append(f"{peer} speed: " + ", ".join(f"{mode} {ratio:.3f}" for mode, ratio in ratios.items()))
    lines += [
        "",
        "img/s from the median round; spread = (slowest - fastest round) / median; peak MiB: tensor "
        "memory allocated during one more call, above what was allocated before it.",
    ]
    return "\n".join(lines)


def bench_command_line(args: argparse.Namespace) -> str:
    """The bench command with every option spelled out, to print beside the numbers."""
    parts = [
        "python -m convnext_steps bench",
        f"--device {args.device}",
        f"--batch-size {args.batch_size}",
        f"--train-batch-size {args.train_batch_size}",
        f"--image-size {args.image_size}",
    ]
    parts += ["--channels-last"] * args.channels_last + [f"--amp {args.amp}"] * bool(args.amp)
    parts += ["--compile"] * args.compile
    parts += [f"--warmup {args.warmup}", f"--rounds {args.rounds}", f"--clock {args.clock}"]
    parts.append("--modes " + " ".join(args.modes))
    if args.threads:
        parts.append(f"--threads {args.threads}")
    parts += ["--vs-peers"] if args.vs_peers else (["--steps " + " ".join(args.steps)] if args.steps else [])
    parts += ["--optimized"] * args.optimized
    return " ".join(parts + ["--json"] * args.json)


def cmd_bench(args: argparse.Namespace) -> int:
    threads = torch.get_num_threads()
    try:
        if args.threads:
            torch.set_num_threads(args.threads)
        return _run_bench(args)
    finally:
        torch.set_num_threads(threads)  # main() may be called in-process (tests, notebooks)


def _run_bench(args: argparse.Namespace) -> int:
    default_batch, default_train_batch = bench.DEFAULT_BATCH[torch.device(args.device).type]
    args.batch_size = args.batch_size or default_batch
    args.train_batch_size = args.train_batch_size or default_train_batch
    try:  # a bad combination of options gets a message, not a traceback
        setup = bench.BenchSetup(
            device=args.device,
            batch_size=args.batch_size,
            train_batch_size=args.train_batch_size,
            image_size=args.image_size,
            channels_last=args.channels_last,
            amp=args.amp,
            compile=args.compile,
            warmup=args.warmup,
            rounds=args.rounds,
            clock=args.clock,
            modes=tuple(dict.fromkeys(args.modes)),
        )
        if args.vs_peers:
            bench.import_timm()
    except ValueError as e:
        print(f"python -m convnext_steps bench: error: {e}", file=sys.stderr)
        raise SystemExit(2) from e  # bad input: exit code 2, like argparse's own errors
    report = bench.bench_vs_peers(setup) if args.vs_peers else bench.bench_steps(setup, args.steps, args.optimized)
    report["command"] = bench_command_line(args)
    print(json.dumps(report, indent=2) if args.json else f"$ {report['command']}\n" + format_bench(report))
    return 0


def _add_bench_parser(sub) -> None:
    p = sub.add_parser(
        "bench",
        help="speed and memory of every roadmap step, or of ConvNeXt-T against torchvision's and timm's",
        description="Inference throughput and latency, training-step throughput (forward + backward + AdamW) "
        "and peak memory, per roadmap step or (--vs-peers) for the final step against torchvision's and "
        "timm's convnext_tiny with the same weights, interleaved. Median of --rounds timed rounds after "
        "--warmup untimed ones; CUDA timings synchronise. A progress bar goes to stderr.",
    )
    p.add_argument(
        "--device", type=device, default="auto", help="auto (CUDA when present, else CPU), cpu, cuda, cuda:N"
    )
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=None,
        metavar="N",
        help="inference batch (default 8 on CPU, 256 on CUDA)",
    )
    p.add_argument(
        "--train-batch-size",
        type=positive_int,
        default=None,
        metavar="N",
        help="training batch (default 8 on CPU, 128 on CUDA)",
    )
    p.add_argument("--image-size", type=image_size, default=224, metavar="N", help="N x N inputs (default 224)")
    p.add_argument("--channels-last", action="store_true", help="model and inputs in channels_last memory format")
    p.add_argument(
        "--amp", choices=sorted(AMP_DTYPES), default=None, help="torch.autocast to bf16 or fp16 (default: float32)"
    )
    p.add_argument("--compile", action="store_true", help="torch.compile each model (compilation is in the warm-up)")
    _add_bench_timing(p)
    _add_bench_models(p)
    p.add_argument("--json", action="store_true", help="print the full report (every timed round) as JSON")
    p.set_defaults(func=cmd_bench)


def _add_bench_timing(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--warmup", type=non_negative_int, default=2, metavar="N", help="untimed calls before timing (default 2)"
    )
    p.add_argument("--rounds", type=positive_int, default=5, metavar="N", help="timed rounds (default 5)")
    p.add_argument(
        "--clock",
        choices=sorted(bench.CLOCKS),
        default="wall",
        help="wall: elapsed time (default); cpu: this process's CPU seconds, steadier on a busy machine "
        "(use with --threads 1; CPU only)",
    )
    p.add_argument(
        "--threads", type=positive_int, default=None, metavar="N", help="torch CPU threads (default: torch's)"
    )
    p.add_argument(
        "--modes", nargs="+", choices=bench.MODES, default=list(bench.MODES), help="what to time (default: both)"
    )


def _add_bench_models(p: argparse.ArgumentParser) -> None:
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--steps",
        nargs="+",
        type=step_id,
        metavar="STEP",
        help="only these roadmap steps (index, id or id prefix, e.g. 00 12) or extensions (isotropic_s, "
        "v2_tiny, ...); default: all 13 roadmap steps",
    )
    which.add_argument(
        "--vs-peers",
        action="store_true",
        help="the final step against torchvision's and timm's convnext_tiny (same weights, interleaved)",
    )
    p.add_argument(
        "--optimized",
        action="store_true",
        help="time each step after convnext_steps.fast.optimize_for_inference (same logits; only the "
        "final step's blocks change); --vs-peers always reports ours both ways",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m convnext_steps",
        description="ResNet-50 -> ConvNeXt, one verified design change at a time.",
        epilog="Training has its own entry point: python -m convnext_steps.train --help "
        "(also under torchrun). Each command has --help.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "roadmap",
        help="table of every roadmap step: params, measured GMACs, the paper's GFLOPs and top-1",
        description="Build every roadmap step and print its parameter count and measured multiply-adds "
        "beside the paper's figures (Table 10), plus step 07's kernel-size sweep and, under their own heading, the "
        "extensions past the paper (isotropic ConvNeXt-S/B/L, the ConvNeXt V2-T block) beside their published "
        "figures.",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print JSON: {image_size, steps: [...], kernel_sweep: [...], extensions: [...]}",
    )
    p.add_argument("--image-size", type=image_size, default=224, metavar="N", help="measure at N x N (default 224)")
    p.add_argument("--no-sweep", action="store_true", help="leave out the kernel-size sweep")
    p.set_defaults(func=cmd_roadmap)

    p = sub.add_parser(
        "figures",
        help="regenerate every figure in images/ from the package (deterministic, seeded)",
        description="Compute and write the figures the notebooks and README use: the roadmap, a block diagram per "
        "step (images/blocks/), and the pictures of notebooks 01, 03, 07, 11, 12, 13, 16 and 17.",
    )
    p.add_argument("--out", default="images", metavar="DIR", help="output folder (default: images)")
    p.add_argument("names", nargs="*", metavar="NAME", help="only these files (e.g. kernel_sweep.png); default: all")
    p.set_defaults(func=cmd_figures)

    p = sub.add_parser(
        "diff",
        help="the design diff of a step: the config fields and the code that change from the step before it",
        description="Print what changes from the step before STEP to STEP, or from STEP to OTHER when OTHER is "
        "given (any two steps, either order): the NetConfig fields that change, then a unified diff of each class "
        "whose code changes (stem, block, shortcut, downsampling layer, norm) against the class it replaces.",
    )
    p.add_argument("step", metavar="STEP", help="a step: index, id or id prefix (e.g. 7, 07, 07_kernel)")
    p.add_argument("other", metavar="OTHER", nargs="?", help="a second step: diff from STEP to OTHER")
    p.set_defaults(func=cmd_diff)

    _add_bench_parser(sub)
    add_explore_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
