"""A sweep: roadmap steps and explorer variants x seeds, trained with one recipe, one run folder each.

    python -m convnext_steps.train sweep --steps all --changes 02,03,07 --seeds 0 1 2 --output runs/sweep \\
        --recipe small --data imagenette --image-size 160 --epochs 20

Each run is the trainer's own command (`python -m convnext_steps.train --step ... --seed K --output
ROOT/<name>/seed<K>`), run in this process, one after another, seed by seed (every variant's seed 0 first, so a
first picture comes early). Re-running the same sweep skips finished runs and resumes the one a kill
interrupted (the trainer's exact `--resume`). `--dry-run` prints one command per run for a cluster's scheduler;
each one starts, resumes or skips its run, so a requeued task is safe. At the end, and with `--report`,
`report.py` writes ROOT/results.csv and ROOT/results.png.

ROOT/sweep.json records the recipe options: a sweep continued (or extended with more seeds or variants) with
other recipe options is refused, so one table never mixes recipes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from ..checkpoint import save_atomic
from ..explorer import variant_name, variant_step
from ..roadmap import STEP_IDS, get_step
from .data import default_workers
from .datacheck import check_data
from .entry import one_line
from .entry import run as train_run
from .options import build_parser as trainer_parser
from .recipe import OPTION_FIELDS, canonical_changes, change_ids, option_name
from .report import format_table, run_state, write_report

__all__ = ["Target", "Run", "build_parser", "plan", "run_state", "run", "main"]

SWEEP_FORMAT = "convnext_steps.sweep/1"
# What the sweep sets per run: given among the recipe options, they are refused.
PER_RUN = ("step", "model", "changes", "seed", "output", "resume", "eval_only", "weights")
RECIPE_FIELDS = tuple(f for f in OPTION_FIELDS if f not in PER_RUN)


@dataclass(frozen=True)
class Target:
    """A network to train: a roadmap step or an explorer variant, by its folder name and trainer options."""

    name: str
    options: tuple[str, ...]  # ("--step", "12_separate_downsampling") or ("--changes", "...")


@dataclass(frozen=True)
class Run:
    target: Target
    seed: int
    folder: str

    @property
    def key(self) -> str:
        return f"{self.target.name}/seed{self.seed}"

    def argv(self, recipe_args: Sequence[str], resume: bool) -> list[str]:
        """The trainer's arguments for this run."""
        argv = [*self.target.options, *recipe_args, "--seed", str(self.seed), "--output", self.folder]
        return argv + ["--resume"] if resume else argv


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m convnext_steps.train sweep",
        allow_abbrev=False,  # every option it does not know is a recipe option for the runs
        description="Train roadmap steps and explorer variants x seeds with one recipe, each run in "
        "ROOT/<name>/seed<K>/, one after another; re-run to resume. Every other option is the trainer's "
        "(see `python -m convnext_steps.train --help`) and applies to every run.",
    )
    p.add_argument("--steps", nargs="+", metavar="STEP", default=[], help="roadmap steps (ids, indices), or 'all'")
    p.add_argument(
        "--changes",
        action="append",
        default=[],
        metavar="SET",
        help="one variant: ResNet-50 plus a comma-separated set of the roadmap's changes (repeat for more)",
    )
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], metavar="K", help="default 0 1 2")
    p.add_argument("--output", required=True, metavar="ROOT", help="the sweep's folder")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="print one command per run (for a scheduler); run none")
    mode.add_argument("--only", metavar="NAME/seedK", help="start, resume or skip this one run (a scheduler's task)")
    mode.add_argument("--report", action="store_true", help="write the table and plot of the finished runs; train none")
    p.add_argument(
        "--no-check-data",
        action="store_true",
        help="do not decode an ImageFolder --data before the first run (default: check it once, except with "
        "--only; see check-data)",
    )
    return p


def parse(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str], argparse.Namespace]:
    """(sweep options, the recipe options as given, the recipe options parsed by the trainer's parser)."""
    args, recipe_args = build_parser().parse_known_args(list(argv))
    trainer = trainer_parser()
    trainer.prog = "python -m convnext_steps.train sweep"
    recipe = trainer.parse_args([*recipe_args, "--output", args.output])
    given = [option_name(k) if k != "eval_only" else "--eval-only" for k in PER_RUN if _given(recipe, k, args)]
    if given:
        raise ValueError(
            f"{', '.join(given)}: the sweep sets these per run; list networks with --steps / --changes, seeds "
            f"with --seeds, the folder with --output"
        )
    if not args.steps and not args.changes:
        raise ValueError("nothing to sweep: give --steps (e.g. all) and/or --changes (e.g. 02,03,07)")
    if len(set(args.seeds)) != len(args.seeds):
        raise ValueError(f"--seeds lists a seed twice: {' '.join(map(str, args.seeds))}")
    return args, recipe_args, recipe


def _given(recipe: argparse.Namespace, field: str, args) -> bool:
    value = getattr(recipe, field, None)
    return value != args.output if field == "output" else value is not None and value is not False  # 0 is given


def plan(args: argparse.Namespace) -> list[Run]:
    """Every run of the sweep, seed by seed, each target in the order given."""
    targets = _targets(args.steps, args.changes)
    return [Run(t, seed, os.path.join(args.output, t.name, f"seed{seed}")) for seed in args.seeds for t in targets]


def _targets(steps: Sequence[str], changes: Sequence[str]) -> list[Target]:

    ids = [i for s in steps for i in (STEP_IDS if s == "all" else [get_step(s).id])]
    targets = [Target(i, ("--step", i)) for i in ids]
    for text in changes:
        chosen = change_ids(canonical_changes(text))
        same = variant_step(chosen)
        if same is not None and same.id in ids:
            raise ValueError(f"--changes {text} is step {same.id}, which --steps lists already")
        targets.append(Target(variant_name(chosen), ("--changes", ",".join(chosen) or "none")))
    names = [t.name for t in targets]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"the sweep lists a network twice: {', '.join(twice)}")
    return targets


def command(argv: Sequence[str]) -> str:
    """The shell command that runs the trainer with `argv`."""
    return shlex.join([os.path.basename(sys.executable) or "python", "-m", "convnext_steps.train", *argv])


def _recipe_record(recipe: argparse.Namespace) -> dict:
    values = {k: getattr(recipe, k) for k in RECIPE_FIELDS if getattr(recipe, k) is not None}
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


def check_sweep_record(root: str, recipe: argparse.Namespace, write: bool) -> None:
    """ROOT/sweep.json: written on the first run, and a later command's recipe options must equal it."""
    path, record = os.path.join(root, "sweep.json"), {"format": SWEEP_FORMAT, "recipe": _recipe_record(recipe)}
    if os.path.exists(root) and not os.path.isdir(root):
        raise ValueError(f"--output {root} is a file, not a folder: choose a folder for the sweep's runs")
    if os.path.isfile(path):
        try:
            with open(path) as f:
                saved = json.load(f)
        except ValueError as e:
            raise ValueError(f"{path} is not the JSON a sweep writes: {e}") from None
        if saved.get("recipe") != record["recipe"]:
            raise ValueError(f"{path}: this sweep's recipe options differ: {_difference(saved.get('recipe'), record)}")
    elif write:
        os.makedirs(root, exist_ok=True)
        save_atomic(path, (json.dumps(record, indent=2) + "\n").encode())


def _difference(saved, record: dict) -> str:
    saved, now = saved if isinstance(saved, dict) else {}, record["recipe"]
    keys = [k for k in RECIPE_FIELDS if saved.get(k) != now.get(k)]
    shown = ", ".join(
        f"{option_name(k)} {now.get(k, '(not given)')} (sweep: {saved.get(k, '(not given)')})" for k in keys
    )
    return shown + "; give the sweep's options, or another --output for another recipe"


def check_data_once(root: str, recipe: argparse.Namespace) -> None:
    """Decode an ImageFolder --data before the first run (once: ROOT/data-check.json remembers the folder's
    files, sizes and times); ValueError naming the first problem."""

    data = recipe.data
    if data in (None, "synthetic", "imagenette") or not os.path.isdir(data):
        return  # the trainer reports a missing folder itself
    marker, fingerprint = os.path.join(root, "data-check.json"), _files_fingerprint(data)
    if os.path.isfile(marker):
        with open(marker) as f:
            if json.load(f).get("fingerprint") == fingerprint:
                return
    result = check_data(data, default_workers() if recipe.workers is None else recipe.workers)
    if not result.ok:
        raise ValueError(
            f"--data {data}: {len(result.problems)} problem(s), first: {result.problems[0]} "
            f"(`python -m convnext_steps.train check-data {data}` lists them all; --no-check-data skips this)"
        )
    save_atomic(marker, (json.dumps({"data": data, "fingerprint": fingerprint}) + "\n").encode())


def _files_fingerprint(data: str) -> str:
    digest = hashlib.sha256()
    for folder, dirs, files in sorted(os.walk(data, followlinks=True)):
        dirs.sort()
        for name in sorted(files):
            st = os.stat(os.path.join(folder, name))
            digest.update(
                f"{os.path.relpath(os.path.join(folder, name), data)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode()
            )
    return digest.hexdigest()


def train_runs(runs: Sequence[Run], recipe_args: Sequence[str], say) -> None:
    """Each run not finished yet, in order: started fresh, or resumed where it stands."""

    for i, r in enumerate(runs, 1):
        state, epochs = run_state(r)
        if state == "done":
            say(f"[{i}/{len(runs)}] {r.key}: finished ({epochs} epochs), skipped")
            continue
        argv = r.argv(recipe_args, resume=state == "started")
        verb = f"resuming after {epochs} epoch(s)" if state == "started" else "starting"
        say(f"[{i}/{len(runs)}] {r.key}: {verb}: {command(argv)}")
        train_run(argv)


def dry_run_lines(argv: Sequence[str], runs: Sequence[Run]) -> list[str]:
    """One command per run: this sweep with `--only NAME/seedK` (it starts, resumes or skips that run)."""
    base = [a for a in argv if a != "--dry-run"]
    return [command(["sweep", *base, "--only", r.key]) for r in runs]


def run(argv: Sequence[str], say=None) -> list[dict]:
    """The sweep as `python -m convnext_steps.train sweep ARGV` runs it, in this process; returns the table's
    rows (`report.aggregate`; [] for --dry-run and --only). `say` gets each line saying which run starts, resumes
    or is skipped (default: print; --quiet quiets the runs, not these). Bad input raises ValueError / OSError."""
    argv = list(argv)
    args, recipe_args, recipe = parse(argv)
    say = say or (lambda text: print(text, flush=True))
    runs = plan(args)
    if args.only is not None:
        runs = _select(runs, args.only)
    if args.report and not os.path.isdir(args.output):
        raise ValueError(f"--output {args.output} does not exist: no sweep there to report on")
    check_sweep_record(args.output, recipe, write=not (args.dry_run or args.report))
    if args.dry_run:
        print("\n".join(dry_run_lines(argv, runs)))
        return []
    if not args.report:
        if args.only is None and not args.no_check_data and any(run_state(r)[0] != "done" for r in runs):
            check_data_once(args.output, recipe)
        train_runs(runs, recipe_args, say)
    return write_report(args.output, runs) if args.only is None else []


def main(argv: Sequence[str]) -> int:
    """The command line: the sweep, then its table printed; 2 and one line `error: ...` for bad input."""

    try:
        table = run(argv)
        if table:
            print(format_table(parse(argv)[0].output, table))
    except (ValueError, OSError) as e:
        print(f"error: {one_line(e)}", file=sys.stderr)
        return 2
    return 0


def _select(runs: Sequence[Run], key: str) -> list[Run]:
    chosen = [r for r in runs if r.key == key]
    if not chosen:
        raise ValueError(f"--only {key}: not a run of this sweep; its runs: {', '.join(r.key for r in runs)}")
    return chosen
