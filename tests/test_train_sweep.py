"""The sweep (`python -m convnext_steps.train sweep`): steps x seeds with one recipe, a real SIGKILL mid-sweep and
a re-run that skips the finished runs and resumes the interrupted one exactly, the table against the runs' own
metrics files, the plot, --dry-run's per-run commands, and one clear line for bad input.

Tiny networks (depths 1-1-1-1, widths 16-128), 64 synthetic 32x32 images, 2 epochs of 4 steps, one thread.
"""

from __future__ import annotations

import csv
import json
import os
import shlex
import statistics
import subprocess
import sys
import time

import pytest
import torch
from PIL import Image
from test_train import LAUNCHER, TINY  # the launcher that pauses inside a named write, so a kill lands there

from convnext_steps import build_model, load_weights
from convnext_steps.explorer import build_variant
from convnext_steps.measure import count_macs, count_params
from convnext_steps.train import main
from convnext_steps.training.rundir import read_metrics
from convnext_steps.training.snapshot import load_checkpoint

RECIPE = [
    "--recipe",
    "small",
    *TINY,
    "--data",
    "synthetic",
    "--image-size",
    "32",
    "--synthetic-train",
    "64",
    "--synthetic-val",
    "32",
    "--batch-size",
    "16",
    "--epochs",
    "2",
    "--threads",
    "1",
    "--quiet",
    "--workers",
    "0",
    "--save-every-steps",
    "2",
]
SWEEP = ["sweep", "--steps", "00", "--changes", "convnext_t-07", "--seeds", "0", "1", *RECIPE]  # a step, a variant
NAMES = ["00_resnet50", "convnext_t-07"]  # ConvNeXt-T without the 7x7 kernel
TIMING = {"seconds", "images_per_s"}


@pytest.fixture(autouse=True)
def _keep_threads():
    threads = torch.get_num_threads()  # --threads 1 in-process changes torch's global setting
    yield
    torch.set_num_threads(threads)


def _kill_sweep(root, pause: str, log) -> None:
    """Run the sweep in a real process and SIGKILL it inside the write `pause` (NAME:N) names."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PAUSE": pause}
    with open(log, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, *SWEEP, "--output", str(root)],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=env,
        )
        try:
            deadline, line = time.monotonic() + 120, ""
            while time.monotonic() < deadline and not line.startswith("PAUSED"):
                line = proc.stdout.readline()  # the sweep's own lines, then the launcher's PAUSED
                if not line and proc.poll() is not None:
                    break
            assert line.split() == ["PAUSED", pause.split(":")[0]], open(log).read()[-2000:]
            proc.kill()  # SIGKILL: no cleanup, nothing flushed
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stdout.close()
    assert proc.returncode == -9


def _without_timing(rows):
    return [{k: v for k, v in row.items() if k not in TIMING} for row in rows]


def test_killed_sweep_resumes_the_interrupted_run_skips_finished_ones_and_aggregates(tmp_path, capsys):
    root = tmp_path / "sweep"
    # Runs go seed by seed: 00/seed0, convnext_t-07/seed0, 00/seed1, convnext_t-07/seed1. Each writes last.pt
    # 4 times (steps 2, 4 = end of epoch 1, 6, 8 = end of epoch 2); the 11th last.pt write is run 3's at step 6,
    # mid-epoch 2: the kill lands inside it.
    _kill_sweep(root, "last.pt:11", tmp_path / "stderr.txt")
    interrupted = root / NAMES[0] / "seed1"
    assert torch.load(interrupted / "last.pt", weights_only=True)["global_step"] == 4  # epoch 1's, intact
    assert any(n.endswith(".tmp") for n in os.listdir(interrupted))  # the write the kill cut
    assert not (root / NAMES[1] / "seed1").exists() and not (root / "results.csv").exists()
    finished = {n: (root / n / "seed0" / "last.pt").read_bytes() for n in NAMES}

    assert main([*SWEEP, "--output", str(root)]) == 0  # the same command again
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("[")]
    assert lines[0] == f"[1/4] {NAMES[0]}/seed0: finished (2 epochs), skipped"
    assert lines[1] == f"[2/4] {NAMES[1]}/seed0: finished (2 epochs), skipped"
    assert lines[2].startswith(f"[3/4] {NAMES[0]}/seed1: resuming after 1 epoch(s): python -m convnext_steps.train")
    assert lines[2].endswith(f"--seed 1 --output {interrupted} --resume")
    assert lines[3].startswith(f"[4/4] {NAMES[1]}/seed1: starting: ") and not lines[3].endswith("--resume")
    assert {n: (root / n / "seed0" / "last.pt").read_bytes() for n in NAMES} == finished  # untouched
    assert sorted(os.listdir(interrupted)) == ["best.pt", "last.pt", "metrics.csv", "recipe.json"]

    # The interrupted run, resumed mid-epoch, equals the same run never stopped.
    reference = tmp_path / "reference"
    assert main(["--step", "00", *RECIPE, "--seed", "1", "--output", str(reference)]) == 0
    assert _without_timing(read_metrics(interrupted)) == _without_timing(read_metrics(reference))
    a, b = torch.load(interrupted / "last.pt", weights_only=True), torch.load(reference / "last.pt", weights_only=True)
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in b["model"])

    # The table is the mean and sample std of each run's own metrics.csv, exactly.
    with open(root / "results.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert [row["network"] for row in table] == NAMES
    for row in table:
        runs = [read_metrics(root / row["network"] / f"seed{s}") for s in (0, 1)]
        final, best = [r[-1]["val_top1"] for r in runs], [max(e["val_top1"] for e in r) for r in runs]
        assert (row["runs"], row["seeds"]) == ("2", "2")
        assert float(row["final_top1_mean"]) == statistics.mean(final)
        assert float(row["final_top1_std"]) == statistics.stdev(final)
        assert float(row["best_top1_mean"]) == statistics.mean(best)
        assert float(row["best_top1_std"]) == statistics.stdev(best)
        assert [float(row[f"final_top1_seed{s}"]) for s in (0, 1)] == final
        assert [float(row[f"best_top1_seed{s}"]) for s in (0, 1)] == best
    tiny = {"depths": (1, 1, 1, 1), "dims": (16, 32, 64, 128), "stem_dim": 16}
    for row, model in zip(table, [build_model("00", 10, **tiny), build_variant(without="07", num_classes=10, **tiny)]):
        assert (int(row["params"]), float(row["gmacs"])) == (count_params(model), count_macs(model, 32) / 1e9)
    assert f"{NAMES[1]}  2/2" in out and f"{statistics.mean(final):.2f} ± {statistics.stdev(final):.2f}" in out
    with Image.open(root / "results.png") as png:
        assert png.format == "PNG" and png.size[0] > 400
    assert sorted(os.listdir(root)) == [*NAMES, "results.csv", "results.png", "sweep.json"]  # no temp files

    # --dry-run: one command per run, in the sweep's order; each starts, resumes or (here) skips its run.
    assert main([*SWEEP, "--output", str(root), "--dry-run"]) == 0
    commands = capsys.readouterr().out.splitlines()
    keys = [f"{n}/seed{s}" for s in (0, 1) for n in NAMES]
    assert [shlex.split(c)[-2:] for c in commands] == [["--only", k] for k in keys]
    assert shlex.split(commands[0])[:4] == ["python", "-m", "convnext_steps.train", "sweep"]
    assert main(shlex.split(commands[2])[3:]) == 0
    assert capsys.readouterr().out == f"[1/1] {keys[2]}: finished (2 epochs), skipped\n"

    # Continuing the sweep with another recipe would mix recipes in one table: refused, nothing written.
    assert main([*SWEEP, "--output", str(root), "--lr", "3e-3"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: {root / 'sweep.json'}: this sweep's recipe options differ: --lr 0.003 (sweep: (not given)); "
        "give the sweep's options, or another --output for another recipe\n"
    )


def test_dry_run_prints_commands_and_creates_nothing(tmp_path, capsys):
    root = tmp_path / "new"
    assert main(["sweep", "--steps", "all", "--seeds", "0", "1", "2", *RECIPE, "--output", str(root), "--dry-run"]) == 0
    commands = capsys.readouterr().out.splitlines()
    assert len(commands) == 39 and not root.exists()
    assert shlex.split(commands[0])[-2:] == ["--only", "00_resnet50/seed0"]
    assert shlex.split(commands[13])[-2:] == ["--only", "00_resnet50/seed1"]  # seed by seed
    assert shlex.split(commands[-1])[-2:] == ["--only", "12_separate_downsampling/seed2"]
    assert (
        main(["sweep", "--changes", "12", "--changes", "convnext_t-12", *RECIPE, "--output", str(root), "--dry-run"])
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert [shlex.split(c)[-1] for c in lines] == [
        f"{n}/seed{s}" for s in (0, 1, 2) for n in ("resnet50+12", "convnext_t-12")
    ]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--steps", "13"], "unknown step '13'; valid ids: 00_resnet50"),
        (["--changes", "02,xx"], "--changes 02,xx: unknown change 'xx'; valid: 01 stage_ratio, 02 patchify_stem"),
        (["--steps", "02", "--changes", "01,02"], "--changes 01,02 is step 02_patchify_stem, which --steps lists"),
        (["--changes", "02,07", "--changes", "7,2"], "the sweep lists a network twice: resnet50+02+07"),
        (["--steps", "12", "--seed", "3"], "--seed: the sweep sets these per run"),
        (["--steps", "12", "--step", "11"], "--step: the sweep sets these per run"),
        (["--steps", "12", "--resume"], "--resume: the sweep sets these per run"),
        (["--steps", "12", "12_sep"], "the sweep lists a network twice: 12_separate_downsampling"),
        (["--seeds", "1", "1", "--steps", "00"], "--seeds lists a seed twice: 1 1"),
        ([], "nothing to sweep: give --steps (e.g. all) and/or --changes"),
        (["--steps", "00", "--only", "00_resnet50/seed9"], "--only 00_resnet50/seed9: not a run of this sweep"),
    ],
)
def test_bad_sweeps_are_one_line(argv, message, tmp_path, capsys):
    assert main(["sweep", *argv, *RECIPE, "--output", str(tmp_path / "root")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "root").exists()


def test_an_output_that_is_a_file(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert main(["sweep", "--steps", "00", *RECIPE, "--output", str(tmp_path / "file")]) == 2
    assert capsys.readouterr().err == (
        f"error: --output {tmp_path / 'file'} is a file, not a folder: choose a folder for the sweep's runs\n"
    )


def test_bad_recipe_options_are_refused_by_the_trainers_parser(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", "--steps", "00", "--output", str(tmp_path), "--epochs", "0"])
    assert exit_info.value.code == 2
    assert "argument --epochs: expected a positive integer, got 0" in capsys.readouterr().err


def test_train_any_variant_of_the_explorer(tmp_path, capsys):
    out = tmp_path / "variant"
    # Ids or names, any order, repeats: the recipe stores the set as sorted ids.
    assert main(["--changes", "kernel_7x7,03,2,07", *RECIPE, "--epochs", "1", "--output", str(out)]) == 0
    assert json.loads((out / "recipe.json").read_text())["changes"] == "02,03,07"
    ckpt = load_checkpoint(out / "last.pt")
    assert (ckpt["recipe"]["changes"], ckpt["recipe"]["step"], ckpt["epoch"]) == ("02,03,07", None, 1)
    model = build_variant("02,03,07", num_classes=10, depths=(1, 1, 1, 1), dims=(16, 32, 64, 128), stem_dim=16)
    assert load_weights(model, out / "best.pt") == "ours"  # the explorer's own network, weights and all
    assert all(torch.equal(model.state_dict()[k], v) for k, v in ckpt["model"].items())

    resume = [*RECIPE, "--epochs", "1", "--output", str(out), "--resume"]
    assert main(["--changes", "02,03", *resume]) == 2
    assert "another architecture: --changes 02,03 (checkpoint: 02,03,07)" in capsys.readouterr().err
    for argv, message in [
        (["--changes", "02,xx"], "error: --changes 02,xx: unknown change 'xx'; valid: 01 stage_ratio, "),
        (["--changes", "02", "--step", "12"], "error: give exactly one of --step (a roadmap step, e.g. 12), --changes"),
        (["--changes", " "], "error: --changes  : empty change set: name at least one ('none' is ResNet-50 itself)"),
    ]:
        assert main([*argv, *RECIPE, "--output", str(tmp_path / "bad")]) == 2
        err = capsys.readouterr().err
        assert err.startswith(message) and err.count("\n") == 1, err
    assert not (tmp_path / "bad").exists()
