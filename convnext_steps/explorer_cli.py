"""`python -m convnext_steps explore`: measure any variant of the explorer, and compare variants side by side.

    explore --changes 02,03,07,11               params, MACs, receptive fields of one variant
    explore --without 07 --diff-against 12      ConvNeXt-T without the 7x7 kernel, and what differs from step 12
    explore --leave-one-out [--latency]         ConvNeXt-T without each change, beside ConvNeXt-T
    explore --add-one [--latency]               ResNet-50 with each single change, beside ResNet-50
    explore --all                               every valid change set, counted on the meta device

Counting reuses `measure` (params, MACs, receptive fields), latency reuses `bench` (its runners and interleaved
rounds), the diff reuses `design` (config diffs; the code diff where both ends are roadmap steps).
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import math
import sys
import time
import types

import torch
from torch.utils.flop_counter import FlopCounterMode
from tqdm import tqdm

from . import design
from .argtypes import image_size, non_negative_int, positive_int
from .bench import BenchSetup, time_models
from .explorer import (
    ALL,
    CHANGE_IDS,
    CHANGES,
    PREFIXES,
    build_variant,
    parse_changes,
    variant_config,
    variant_name,
    variant_title,
)
from .measure import count_macs, count_params, effective_receptive_field, erf_extent, reach, receptive_field
from .roadmap import EXTENSION_IDS, ROADMAP, STEP_IDS, Step, get_step

__all__ = [
    "variant_row",
    "leave_one_out",
    "add_one",
    "all_combinations",
    "costs_by_parts",
    "latency_rows",
    "variant_diff",
    "resolve",
    "format_rows",
    "add_explore_parser",
    "run_explore",
]

PROG = "python -m convnext_steps explore"
ERF_IMAGE_SIZE, ERF_INPUTS, ERF_SEED = 160, 4, 0  # an odd 5x5 last-stage map: centred
ERF_MAX_PARAMS = 100_000_000  # above this, a real model is too big to build casually on a CPU


def _meta(changes: frozenset[str], **overrides):
    with torch.device("meta"):  # structure only: counting needs no weights
        return build_variant(changes, **overrides)


def variant_row(changes, image_size: int = 224, erf: bool = False, **overrides) -> dict:
    """Params, multiply-adds and the theoretical receptive field of one variant (and its ERF with `erf=True`)."""
    chosen = parse_changes(changes)
    params, macs, rf = costs_by_parts(variant_config(chosen, **overrides), image_size)
    row = {
        "name": variant_name(chosen),
        "title": variant_title(chosen),
        "changes": [c for c in CHANGE_IDS if c in chosen],
        "params": params,
        "gmacs": macs / 1e9,
        "rf_px": rf,
    }
    step = next((k for k, p in enumerate(PREFIXES) if p == chosen), None)
    row["step"] = None if step is None else STEP_IDS[step]
    if erf:
        row["erf_px"] = erf_px(chosen, **overrides)
    return row


def erf_px(changes, **overrides) -> int | None:
    """Side of the square holding 90% of the effective receptive field (Luo et al. 2016) at init: seeded weights,
    `ERF_INPUTS` seeded 160x160 inputs. Layer-scale gains are set to 1 for it: at their 1e-6 init every block's
    branch is invisible. None for a model over `ERF_MAX_PARAMS` parameters (too big to build here)."""
    chosen = parse_changes(changes)
    if count_params(_meta(chosen, **overrides)) > ERF_MAX_PARAMS:
        return None
    torch.manual_seed(ERF_SEED)
    model = build_variant(chosen, **overrides)
    with torch.no_grad():
        for block in (b for s in model.stages for b in s.blocks):
            if block.gamma is not None:
                block.gamma.fill_(1.0)
    return erf_extent(effective_receptive_field(model, ERF_IMAGE_SIZE, ERF_INPUTS, ERF_SEED), 0.9)


def leave_one_out(image_size: int = 224, erf: bool = False) -> list[dict]:
    """ConvNeXt-T, then ConvNeXt-T without each change."""
    return [variant_row(ALL, image_size, erf)] + [variant_row(ALL - {c}, image_size, erf) for c in CHANGE_IDS]


def add_one(image_size: int = 224, erf: bool = False) -> list[dict]:
    """ResNet-50, then ResNet-50 with each single change."""
    return [variant_row((), image_size, erf)] + [variant_row({c}, image_size, erf) for c in CHANGE_IDS]


# --- every combination: each distinct part built and counted once -------------------------------------------------


@functools.cache
def _part(factory, args: tuple, kwargs: tuple, shape: tuple) -> tuple[int, int, tuple, tuple[int, int]]:
    """(params, MACs, output shape, reach) of one part of a network, built on the meta device, at an input shape."""
    with torch.device("meta"):
        module = factory(*args, **dict(kwargs)).eval()
        x = torch.zeros(shape)
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            y = module(x)
    return count_params(module), counter.get_total_flops() // 2, tuple(y.shape), reach(module)


def _head(head_norm, dim: int, num_classes: int):
    return torch.nn.Sequential(head_norm(dim) if head_norm else torch.nn.Identity(), torch.nn.Linear(dim, num_classes))


def costs_by_parts(config, image_size: int = 224, num_classes: int = 1000) -> tuple[int, int, int]:
    """(params, MACs, theoretical receptive field) of `Network(config)`, wired as `Network` wires it, each distinct
    part counted once.

    A part is the stem, a block, a downsampling layer or the head at its input shape; parts recur across
    networks (most of the 2^14 variants share their blocks with others), so counting many variants this way
    costs a fraction of building each whole network. tests/test_explorer.py checks it against `count_params`,
    `count_macs` and `receptive_field` of whole networks.
    """
    parts = [(config.stem, (config.in_chans, config.stem_dim), ())]
    options = (("kernel_size", config.kernel_size),)
    if config.layer_scale_init_value is not None:
        options += (("layer_scale_init_value", config.layer_scale_init_value),)
    in_dim = config.stem_dim
    for i, (depth, dim) in enumerate(zip(config.depths, config.dims)):
        stride = 1 if i == 0 else 2
        if config.downsample is not None and i > 0:
            parts.append((config.downsample, (in_dim, dim), ()))
            in_dim, stride = dim, 1
        for _ in range(depth):
            parts.append((config.block, (in_dim, dim), options + (("stride", stride),)))
            in_dim, stride = dim, 1
    params = macs = 0
    rf, jump, shape = 1, 1, (1, config.in_chans, image_size, image_size)
    for factory, args, kwargs in parts:
        p, m, shape, (part_rf, part_jump) = _part(factory, args, kwargs, shape)
        params, macs = params + p, macs + m
        rf, jump = rf + (part_rf - 1) * jump, jump * part_jump
    p, m, _, _ = _part(_head, (config.head_norm, in_dim, num_classes), (), (1, in_dim))
    return params + p, macs + m, rf


def all_combinations(image_size: int = 224, progress: bool = False, whole: bool = False) -> dict:
    """Every valid change set with its params, MACs and receptive field; how many of the 2^14 are valid, and how
    long it took. By parts (`costs_by_parts`), or with `whole=True` each whole network built and run forward on
    the meta device (the same numbers, many times slower)."""
    start = time.perf_counter()
    rows, refused = [], []
    subsets = [s for n in range(len(CHANGE_IDS) + 1) for s in itertools.combinations(CHANGE_IDS, n)]
    with tqdm(subsets, unit="set", leave=False, file=sys.stderr, dynamic_ncols=True, disable=not progress) as bar:
        for subset in bar:
            try:
                config = variant_config(subset)
            except ValueError as e:
                refused.append({"changes": list(subset), "error": str(e)})
                continue
            if whole:  # the whole network built and run on the meta device
                model = _meta(frozenset(subset))
                params, macs, rf = count_params(model), count_macs(model, image_size), receptive_field(model)
            else:
                params, macs, rf = costs_by_parts(config, image_size)
            name = variant_name(subset)
            rows.append({"name": name, "changes": list(subset), "params": params, "gmacs": macs / 1e9, "rf_px": rf})
    return {
        "image_size": image_size,
        "valid": len(rows),
        "total": 2 ** len(CHANGE_IDS),
        "refused": refused,
        "seconds": time.perf_counter() - start,
        "whole": whole,
        "rows": rows,
    }


# --- latency: the bench's runners, timed in its interleaved rounds -------------------------------------------------


def latency_rows(rows: list[dict], device: str = "cpu", batch_size: int = 8, image_size: int = 224, **setup) -> None:
    """Add `latency_ms` (median inference batch) and `img_per_s` to each row: every variant is timed in the same
    interleaved rounds (`bench`), one call of each per round, so that a change of load hits all alike."""
    bench_setup = BenchSetup(device=device, batch_size=batch_size, image_size=image_size, modes=("inference",), **setup)
    models = {}
    for row in rows:
        torch.manual_seed(0)  # every variant from the same seed
        models[row["name"]] = build_variant(row["changes"])
    results = time_models(models, bench_setup)
    for row in rows:
        inference = results[row["name"]]["inference"]
        row["latency_ms"] = inference["median_ms"]
        row["img_per_s"] = inference["img_per_s"]
        row["spread_pct"] = inference["spread_pct"]


# --- the design diff between two variants --------------------------------------------------------------------------


def resolve(text: str) -> frozenset[str]:
    """A step (index, id or id prefix: `12` is step 12, ConvNeXt-T) or a variant (`resnet50+07`, `02,03`)."""
    try:
        step = get_step(text)
    except ValueError:
        return parse_changes(text)
    if step.id in EXTENSION_IDS:
        raise ValueError(f"{step.id} is an extension past the roadmap, not a set of the roadmap's changes")
    return PREFIXES[step.index]


def _as_step(changes: frozenset[str]):
    k = next((k for k, p in enumerate(PREFIXES) if p == changes), None)
    if k is not None:
        return ROADMAP[k]
    name = variant_name(changes)
    module = types.SimpleNamespace(CONFIG=variant_config(changes))
    return Step(-1, name, name, "", math.nan, math.nan, module)


def _options(value) -> dict:
    return dict(value.keywords) if isinstance(value, functools.partial) and value.keywords else {}


def variant_diff(a, b) -> str:
    """What changes from variant `a` to variant `b`: the changes `b` adds and removes (with their meanings), the
    NetConfig fields and component options that change; where both are roadmap steps, `design_diff`'s code diff."""
    a, b = parse_changes(a), parse_changes(b)
    step_a, step_b = _as_step(a), _as_step(b)
    label = {x: variant_name(x) + (f" (step {s.id})" if s.index >= 0 else "") for x, s in ((a, step_a), (b, step_b))}
    lines = [f"design diff: {label[a]} -> {label[b]}"]
    if a == b:
        return lines[0] + "\n\nthe same variant: nothing changes\n"
    meaning = {c.id: c for c in CHANGES}
    for title, ids in (("changes added", b - a), ("changes removed", a - b)):
        lines.append(f"{title}:" + ("" if ids else " none"))
        lines += [f"  {c} {meaning[c].name}: {meaning[c].meaning}" for c in CHANGE_IDS if c in ids]
    # Both ends built with the explorer's classes, so components differ only by their options.
    va, vb = (types.SimpleNamespace(config=variant_config(x)) for x in (a, b))
    config = [c for c in design.config_changes(va, vb) if c[0] not in ("stem", "block", "downsample")]
    lines.append("config (NetConfig fields that change):" + ("" if config else " none"))
    lines += [f"  {field}: {before} -> {after}" for field, before, after in config]
    for field in ("stem", "block", "downsample"):
        old, new = getattr(va.config, field), getattr(vb.config, field)
        if old is new:
            continue
        if old is None or new is None:
            lines.append(f"{field}: {_describe(old)} -> {_describe(new)}")
            continue
        oa, ob = _options(old), _options(new)
        if "spec" in oa:
            oa, ob = vars(oa["spec"]), vars(ob["spec"])
        lines.append(f"{field} options that change:")
        form = {"channels_last": "  (the official code's form, the same function: not a design change)"}
        lines += [f"  {k}: {oa[k]!r} -> {ob[k]!r}{form.get(k, '')}" for k in oa if oa[k] != ob[k]]
    text = "\n".join(lines) + "\n"
    if step_a.index >= 0 and step_b.index >= 0:  # both on the roadmap: the steps' own code, as `diff` prints it
        text += "\nthe steps' code (python -m convnext_steps diff):\n" + design.design_diff(step_a, step_b)
    return text


def _describe(value) -> str:
    if value is None:
        return "None"
    options = ", ".join(f"{k}={v!r}" for k, v in _options(value).items())
    return f"explorer.{value.func.__name__}({options})"


# --- text tables ---------------------------------------------------------------------------------------------------


def format_rows(
    rows: list[dict], title: str, image_size: int, reference: dict | None = None, plain: bool = False
) -> str:
    """A table of rows; with a reference row, each row's difference from it beside its value. `plain` labels the
    rows by what they are ("ConvNeXt-T with 3x3 kernel (-07)", `variant_title`) instead of their short names."""
    latency = all("latency_ms" in r for r in rows)
    erf = any("erf_px" in r for r in rows)
    label = {id(r): r["title"] if plain else r["name"] for r in rows}
    width = max(len(label[id(r)]) for r in rows) + 2
    head = f"{'variant':<{width}} {'params (M)':>10} {'GMACs':>6} {'RF px':>6}"
    if reference is not None:
        head = f"{'variant':<{width}} {'params (M)':>10} {'d params':>9} {'GMACs':>6} {'d GMACs':>8} {'RF px':>6}"
    head += f" {'ERF px':>6}" * erf + (f" {'ms/batch':>9}" + f" {'d ms':>7}" * (reference is not None)) * latency
    lines = [f"{title}, measured at {image_size}x{image_size}", head]
    for r in rows:
        line = f"{label[id(r)]:<{width}} {r['params'] / 1e6:>10.2f}"
        if reference is not None:
            line += f" {(r['params'] - reference['params']) / 1e6:>+9.2f}"
        line += f" {r['gmacs']:>6.2f}"
        if reference is not None:
            line += f" {r['gmacs'] - reference['gmacs']:>+8.2f}"
        line += f" {r['rf_px']:>6}"
        if erf:
            line += f" {'-' if r.get('erf_px') is None else r['erf_px']:>6}"
        if latency:
            line += f" {r['latency_ms']:>9.1f}"
            if reference is not None:
                line += f" {100 * (r['latency_ms'] / reference['latency_ms'] - 1):>+6.0f}%"
        if r.get("step"):
            line += f"  = step {r['step']}"
        lines.append(line)
    lines.append("")
    lines.append(
        "GMACs: multiply-adds (torch.utils.flop_counter / 2); RF: theoretical receptive field of one last-stage "
        "output"
        + ("; ERF: 90% of the effective receptive field at init" * erf)
        + ("; ms/batch: median inference batch in interleaved rounds (bench)" * latency)
    )
    return "\n".join(lines)


def _single(row: dict, image_size: int) -> str:
    lines = [f"variant {row['name']}" + (f" (= step {row['step']})" if row["step"] else "")]
    meaning = {c.id: c for c in CHANGES}
    lines.append("changes: " + (", ".join(f"{c} {meaning[c].name}" for c in row["changes"]) or "none (ResNet-50)"))
    lines.append(f"params: {row['params']:,} ({row['params'] / 1e6:.2f} M)")
    lines.append(f"multiply-adds at {image_size}x{image_size}: {row['gmacs'] * 1e9:,.0f} ({row['gmacs']:.3f} G)")
    lines.append(f"receptive field: {row['rf_px']} px (theoretical: the input square one last-stage output can see)")
    if "erf_px" in row:
        erf = row["erf_px"]
        lines.append(
            "effective receptive field: "
            + (f"90% of the gradient within {erf} px" if erf is not None else "not measured (too big to build here)")
            + f" (Luo et al. 2016; at init, {ERF_IMAGE_SIZE}x{ERF_IMAGE_SIZE}, {ERF_INPUTS} seeded inputs, "
            "layer scale set to 1)"
        )
    if "latency_ms" in row:
        lines.append(
            f"latency: {row['latency_ms']:.1f} ms per batch, {row['img_per_s']:.1f} img/s "
            f"(median of the bench's rounds, spread {row['spread_pct']:.0f}%)"
        )
    return "\n".join(lines)


# --- the command line ----------------------------------------------------------------------------------------------


def add_explore_parser(sub) -> None:
    """Add the `explore` sub-command to the CLI's sub-parsers."""
    p = sub.add_parser(
        "explore",
        help="any variant: ResNet-50 plus any set of the roadmap's changes; params, MACs, receptive field, "
        "speed, design diffs, ablation tables",
        description="A variant is ResNet-50 plus a set of the roadmap's changes (01..11, 12a separate_downsampling, "
        "12b head_norm, 12c layer_scale; 12 = all three), in any order; or ConvNeXt-T minus some (--without). "
        "Prints its params, multiply-adds and receptive fields; --leave-one-out and --add-one print tables, --all "
        "counts every valid set. The meaning of each change: docs/explorer.md.",
    )
    # --changes and --without are checked in run_explore, so that giving both gets one line naming the choice.
    p.add_argument("--changes", metavar="SET", help="ResNet-50 plus these: e.g. 02,03,07,11 or kernel_7x7,gelu")
    p.add_argument("--without", metavar="SET", help="ConvNeXt-T minus these: e.g. 07 or layer_scale,12b")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--leave-one-out", action="store_true", help="ConvNeXt-T without each change, beside it")
    which.add_argument("--add-one", action="store_true", help="ResNet-50 with each single change, beside it")
    which.add_argument("--all", action="store_true", help="every valid set of changes, counted on the meta device")
    p.add_argument("--whole", action="store_true", help="--all: build and run each whole network on meta (slow)")
    p.add_argument(
        "--diff-against",
        metavar="OTHER",
        help="print the design diff to OTHER: a step (12 is step 12, ConvNeXt-T) or a variant (resnet50+07, 02,03)",
    )
    p.add_argument("--latency", action="store_true", help="time inference in the bench's interleaved rounds")
    p.add_argument("--erf", action="store_true", help="tables: measure each row's effective receptive field too")
    p.add_argument("--no-erf", action="store_true", help="one variant: skip the effective receptive field")
    p.add_argument("--plot", metavar="PNG", help="tables: save a figure of params, MACs (and latency) per variant")
    p.add_argument("--image-size", type=image_size, default=224, metavar="N", help="count at N x N (default 224)")
    p.add_argument("--kernel-size", type=positive_int, default=None, metavar="K", help="override the k x k kernel")
    p.add_argument("--device", default="cpu", help="--latency: cpu (default) or cuda")
    p.add_argument("--batch-size", type=positive_int, default=8, metavar="N", help="--latency batch (default 8)")
    p.add_argument("--rounds", type=positive_int, default=5, metavar="N", help="--latency timed rounds (default 5)")
    p.add_argument("--warmup", type=non_negative_int, default=2, metavar="N", help="--latency untimed calls (2)")
    p.add_argument("--json", action="store_true", help="print JSON: {image_size, kind, rows: [{changes, params, ...}]}")
    p.set_defaults(func=run_explore)


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2


def run_explore(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except ValueError as e:  # unknown names, empty or contradictory sets, impossible overrides: one line
        return _fail(str(e).splitlines()[0])


def _run(args: argparse.Namespace) -> int:
    overrides = {} if args.kernel_size is None else {"kernel_size": args.kernel_size}
    problem = _choice_problem(args)
    if problem:
        return _fail(problem)
    if args.all:
        return _run_all(args, overrides)
    chosen = other = None
    if args.changes is not None or args.without is not None:
        if args.plot:
            return _fail("--plot draws the tables (--leave-one-out, --add-one)")
        chosen = parse_changes(args.changes) if args.changes is not None else ALL - parse_changes(args.without)
        other = resolve(args.diff_against) if args.diff_against else None
        rows, kind = [variant_row(chosen, args.image_size, erf=not args.no_erf, **overrides)], "variant"
    else:
        if args.diff_against:
            return _fail("--diff-against compares one variant (--changes or --without) with another")
        if overrides:
            return _fail("--kernel-size applies to one variant (--changes or --without)")
        rows = (leave_one_out if args.leave_one_out else add_one)(args.image_size, erf=args.erf)
        kind = "leave-one-out" if args.leave_one_out else "add-one"
    if args.plot:
        from .explorer_plots import check_writable  # start-up cost: matplotlib only when --plot draws

        check_writable(args.plot)  # before measuring: a bad path costs nothing
    if args.latency:
        if overrides:
            return _fail("--latency times the variants as built (no --kernel-size)")
        latency_rows(rows, args.device, args.batch_size, args.image_size, rounds=args.rounds, warmup=args.warmup)
    if args.plot:
        from .explorer_plots import save_variants_figure  # start-up cost, as check_writable above

        save_variants_figure(rows, args.plot, title=kind)
    _print_rows(args, rows, kind, chosen, other)
    return 0


def _choice_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the choice of --changes, --without and the tables, if anything."""
    given = [name for name, value in (("--changes", args.changes), ("--without", args.without)) if value is not None]
    tables = [
        name
        for name, on in (("--leave-one-out", args.leave_one_out), ("--add-one", args.add_one), ("--all", args.all))
        if on
    ]
    if len(given) == 2:
        return "give --changes (ResNet-50 plus them) or --without (ConvNeXt-T minus them), not both"
    if given and tables or not (given or tables):
        return (
            f"{' and '.join(given + tables)} together: give one of --changes SET, --without SET, --leave-one-out, "
            "--add-one, --all"
            if given
            else "give one of --changes SET, --without SET, --leave-one-out, --add-one, --all"
        )
    if args.whole and not args.all:
        return "--whole goes with --all (it builds every whole network instead of counting by parts)"
    return None


def _run_all(args: argparse.Namespace, overrides: dict) -> int:
    if args.latency or args.diff_against or args.plot or overrides:
        return _fail("--all counts params and MACs only (no --latency, --diff-against, --plot, --kernel-size)")
    report = all_combinations(args.image_size, progress=True, whole=args.whole)
    if args.json:
        print(json.dumps(report))
        return 0
    rows = report["rows"]
    print(
        f"{report['valid']} of {report['total']} change sets are valid networks "
        f"({len(report['refused'])} refused); all counted at {args.image_size}x{args.image_size} in "
        f"{report['seconds']:.0f} s ("
        + (
            "each whole network built and run forward on the meta device)"
            if args.whole
            else "each distinct stem, block, downsampling layer and head counted once; --whole builds each network)"
        )
    )
    for key, unit, scale in (("params", "M params", 1e6), ("gmacs", "GMACs", 1)):
        low, high = min(rows, key=lambda r: r[key]), max(rows, key=lambda r: r[key])
        print(f"{unit}: fewest {low[key] / scale:.2f} ({low['name']}), most {high[key] / scale:.2f} ({high['name']})")
    return 0


def _print_rows(args: argparse.Namespace, rows: list[dict], kind: str, chosen, other) -> None:
    if args.json:
        report = {"image_size": args.image_size, "kind": kind, "rows": rows}
        if kind == "variant" and args.diff_against:
            report["diff"] = variant_diff(chosen, other)
        print(json.dumps(report, indent=2))
        return
    if kind == "variant":
        print(_single(rows[0], args.image_size))
        if args.diff_against:
            print("\n" + variant_diff(chosen, other), end="")
    else:
        title = "ConvNeXt-T without each change" if kind == "leave-one-out" else "ResNet-50 with each single change"
        print(format_rows(rows, title, args.image_size, reference=rows[0]))
    if args.plot:
        print(f"figure: {args.plot}")
