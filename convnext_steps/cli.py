"""Command line: `python -m convnext_steps COMMAND` (see --help)."""

from __future__ import annotations

import argparse
import json
import sys

from .argtypes import image_size
from .bench import add_bench_parser
from .explorer_cli import add_explore_parser

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
    from .measure import measure_roadmap

    report = measure_roadmap(args.image_size, kernel_sweep=not args.no_sweep)
    print(json.dumps(report, indent=2) if args.json else format_roadmap(report))
    return 0


def cmd_figures(args) -> int:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    from .figures import save_figures

    try:
        paths = save_figures(args.out, args.names or None)
    except (ValueError, OSError) as e:
        print(f"python -m convnext_steps figures: error: {e}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    return 0


def cmd_diff(args) -> int:
    from .design import design_diff

    try:
        print(design_diff(args.step, args.other), end="")
    except ValueError as e:
        print(f"python -m convnext_steps diff: error: {e}", file=sys.stderr)
        return 2
    return 0


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

    add_bench_parser(sub)
    add_explore_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
