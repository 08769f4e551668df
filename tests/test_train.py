"""Training: the synthetic set, the recipe's pieces, a run whose loss falls, resume after SIGKILLs of a real
process at several moments (inside checkpoint writes too), torchrun with 2 gloo processes, gradient
accumulation, evaluation, and one clear line for bad input.

Every run is tiny (step networks at depths 1-1-1-1, widths 16-128, 32x32 images, a few hundred images)
and single-threaded, so results are bitwise repeatable and the whole file takes about a minute.
"""

from __future__ import annotations

import dataclasses
import os
import select
import subprocess
import sys
import time
import urllib.error
import warnings

import pytest
import torch

from convnext_steps import build_model, load_weights
from convnext_steps.checkpoint import save_atomic
from convnext_steps.train import main
from convnext_steps.training import run
from convnext_steps.training.data import SHAPE_CLASSES, Augmented, EpochSampler, SyntheticShapes, build_transform
from convnext_steps.training.optim import param_groups, warmup_cosine
from convnext_steps.training.options import build_parser
from convnext_steps.training.recipe import build_network, resolve_recipe
from convnext_steps.training.rundir import read_metrics
from convnext_steps.training.snapshot import CHECKPOINT_FORMAT, load_checkpoint

TINY = ["--depths", "1", "1", "1", "1", "--dims", "16", "32", "64", "128", "--stem-dim", "16"]
DATA = [
    "--data",
    "synthetic",
    "--image-size",
    "32",
    "--synthetic-train",
    "256",
    "--synthetic-val",
    "64",
    "--threads",
    "1",
    "--quiet",
]
NO_MIX = ["--mixup", "0", "--cutmix", "0", "--drop-path", "0"]  # per-process randomness, off to compare processes
# Step 12 (LayerNorm, EMA on) with the whole recipe: MixUp/CutMix, RandAugment, erasing, drop path, smoothing.
RECIPE_RUN = [
    "--step",
    "12",
    *TINY,
    *DATA,
    "--batch-size",
    "32",
    "--epochs",
    "2",
    "--lr",
    "2e-3",
    "--save-every-steps",
    "3",
]
TIMING = {"seconds", "images_per_s"}


@pytest.fixture(autouse=True)
def _keep_threads():
    threads = torch.get_num_threads()  # --threads 1 in-process changes torch's global setting
    yield
    torch.set_num_threads(threads)


def _cli(*args, env=None, timeout=300, module=("-m", "convnext_steps.train")):
    return subprocess.run(
        [sys.executable, *module, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
    )


def _without_timing(rows):
    return [{k: v for k, v in row.items() if k not in TIMING} for row in rows]


@pytest.fixture(scope="module")
def recipe_run(tmp_path_factory):
    """An uninterrupted 2-epoch run (8 steps each) with the full recipe, checkpointing every 3 steps."""
    out = tmp_path_factory.mktemp("uninterrupted")
    assert main([*RECIPE_RUN, "--output", str(out), "--workers", "0"]) == 0
    return out


# ---------------------------------------------------------------------------------------------------------
# Data and recipe pieces


def test_synthetic_set_is_deterministic_balanced_and_split():
    train, again = SyntheticShapes(40, 32, seed=3), SyntheticShapes(40, 32, seed=3)
    val = SyntheticShapes(40, 32, seed=3, split="val")
    image, label = train[13]
    assert image.shape == (3, 32, 32) and image.dtype == torch.uint8 and label == 3
    assert all(torch.equal(train[i][0], again[i][0]) for i in range(40))
    assert not any(torch.equal(train[i][0], val[i][0]) for i in range(40))
    assert not torch.equal(train[0][0], SyntheticShapes(40, 32, seed=4)[0][0])
    assert [train.targets.count(c) for c in range(10)] == [4] * 10 and len(SHAPE_CLASSES) == 10
    with pytest.raises(ValueError, match="num_samples"):
        SyntheticShapes(0)
    with pytest.raises(IndexError):
        train[40]


def test_augmentation_depends_only_on_the_sample_seed():
    data = Augmented(SyntheticShapes(8, 32), build_transform(True, 32))
    state = torch.get_rng_state()
    a, b, c = data[(5, 123)][0], data[(5, 123)][0], data[(5, 124)][0]
    assert torch.equal(torch.get_rng_state(), state)  # the caller's stream (mixup, drop path) is untouched
    assert torch.equal(a, b) and not torch.equal(a, c) and a.shape == (3, 32, 32) and a.dtype == torch.float32


def test_epoch_sampler_splits_like_one_process_and_skips_to_resume():
    one = EpochSampler(64, 1, 0, seed=1)
    ranks = [EpochSampler(64, 2, r, seed=1) for r in range(2)]
    for s in (one, *ranks):
        s.set_epoch(2)
    order = list(one)
    # Global batch k of one process (16 samples) is local batch k (8 samples) of each of two processes.
    for k in range(4):
        local = list(ranks[0])[8 * k : 8 * k + 8] + list(ranks[1])[8 * k : 8 * k + 8]
        assert sorted(local) == sorted(order[16 * k : 16 * k + 16])
    one.set_epoch(2, skip=10)
    assert list(one) == order[10:] and len(one) == 54
    one.set_epoch(3)
    assert list(one) != order


def test_warmup_cosine_schedule():
    f = [warmup_cosine(s, 4, 20, 0.01) for s in range(20)]
    assert f[:4] == [0.25, 0.5, 0.75, 1.0]
    assert f[4] == 1.0 and all(a > b for a, b in zip(f[4:], f[5:]))
    assert f[-1] == pytest.approx(0.01 + 0.99 * 0.5 * (1 + torch.cos(torch.tensor(torch.pi * 15 / 16)).item()))
    assert warmup_cosine(20, 4, 20, 0.01) == pytest.approx(0.01)


def test_weight_decay_skips_norms_biases_and_layer_scale():
    model = build_model(12, 10, depths=(1, 1, 1, 1), dims=(16, 32, 64, 128), stem_dim=16)
    decay, no_decay = param_groups(model, 0.05)
    names = {id(p): n for n, p in model.named_parameters()}
    assert decay["weight_decay"] == 0.05 and no_decay["weight_decay"] == 0.0
    assert {names[id(p)] for p in no_decay["params"]} == {n for n, p in model.named_parameters() if p.ndim <= 1}
    assert "stages.0.blocks.0.gamma" in {names[id(p)] for p in no_decay["params"]}
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))


def _recipe(*argv, world_size=1, device="cpu"):
    args = build_parser().parse_args(["--data", "synthetic", "--output", "unused", *argv])
    return resolve_recipe(args, world_size, device)


def test_recipe_defaults_scale_with_the_batch_and_follow_the_network():
    r = _recipe("--step", "00", "--batch-size", "128", "--accum-steps", "4", world_size=8, device="cuda")
    assert (r.preset, r.lr, r.min_lr, r.warmup_epochs, r.amp) == ("paper", 4e-3, 1e-6, 20.0, "bf16")
    assert r.effective_batch == 4096
    assert (r.drop_path, r.layer_scale, r.ema) == (0.1, None, False)  # BatchNorm: no EMA
    with torch.device("meta"):  # the configuration only
        assert build_network(r, 10).config.drop_path_rate == 0.1
    r = _recipe("--model", "convnext_tiny", "--batch-size", "64", "--epochs", "30")
    assert (r.lr, r.warmup_epochs, r.amp) == (4e-3 * 64 / 4096, 2.0, "off")
    assert (r.drop_path, r.layer_scale, r.ema) == (0.1, 1e-6, True)
    with torch.device("meta"):
        assert build_network(r, 10).config.layer_scale_init_value == 1e-6
    r = _recipe("--step", "12", *TINY, "--layer-scale", "1e-3")
    assert build_network(r, 10).stages[0].blocks[0].gamma.flatten()[0].item() == pytest.approx(1e-3)
    r = _recipe("--step", "12", *TINY, "--layer-scale", "0", "--drop-path", "0", "--no-ema")
    assert build_network(r, 10).stages[0].blocks[0].gamma is None and (r.drop_path, r.ema) == (0.0, False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.lr = 1.0


def test_small_recipe_is_a_preset_that_options_override():
    small = _recipe("--step", "12", "--recipe", "small", "--batch-size", "256", world_size=4)
    assert (small.preset, small.lr, small.min_lr, small.epochs, small.warmup_epochs) == ("small", 1e-3, 1e-5, 10, 1.0)
    assert (small.mixup, small.cutmix, small.randaug_ops, small.reprob, small.ema) == (0, 0, 0, 0, False)
    assert (small.drop_path, small.crop_scale) == (0, 0.35)
    assert (small.label_smoothing, small.weight_decay, small.layer_scale) == (0.1, 0.05, 1e-6)
    mine = _recipe("--step", "12", "--recipe", "small", "--lr", "3e-3", "--mixup", "0.2", "--ema", "--drop-path", "0.1")
    assert (mine.lr, mine.mixup, mine.ema, mine.drop_path, mine.cutmix) == (3e-3, 0.2, True, 0.1, 0)
    assert _recipe("--step", "12").preset == "paper"  # the paper's recipe stays the default


def test_save_atomic_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "last.pt"
    save_atomic(str(path), {"x": torch.ones(2)})

    def broken(f):
        f.write(b"half a checkpoint")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match=f"cannot write {path} \\(No space left on device\\)"):
        save_atomic(str(path), broken)
    assert torch.equal(torch.load(path, weights_only=True)["x"], torch.ones(2))
    assert os.listdir(tmp_path) == ["last.pt"]  # no temp file left behind
    save_atomic(tmp_path / "a.txt", b"bytes as they are")
    assert (tmp_path / "a.txt").read_bytes() == b"bytes as they are"


# ---------------------------------------------------------------------------------------------------------
# Training runs


def test_loss_falls_on_the_synthetic_set(tmp_path):
    # Step 06 (BatchNorm: EMA off by default) without the heavy augmentation, which needs long runs.
    argv = [
        "--step",
        "06",
        *TINY,
        *DATA,
        "--synthetic-train",
        "1024",
        "--batch-size",
        "32",
        "--epochs",
        "3",
        "--lr",
        "2e-3",
        "--mixup",
        "0",
        "--cutmix",
        "0",
        "--randaug-ops",
        "0",
        "--reprob",
        "0",
        "--output",
        str(tmp_path),
        "--workers",
        "0",
    ]
    rows = run(argv)  # the in-process call a notebook makes: the same arguments, the metrics rows back
    assert rows == read_metrics(tmp_path)
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert list(rows[0]) == ["epoch", "train_loss", "val_loss", "val_top1", "val_top5", "lr", "images_per_s", "seconds"]
    losses = [r["train_loss"] for r in rows]
    assert losses[0] > losses[1] > losses[2] and losses[2] < losses[0] - 0.2, losses
    assert rows[-1]["val_top1"] > 25 and rows[-1]["val_loss"] < rows[0]["val_loss"]  # chance is 10 %
    assert sorted(os.listdir(tmp_path)) == ["best.pt", "last.pt", "metrics.csv", "recipe.json"]
    ckpt = load_checkpoint(str(tmp_path / "last.pt"))
    assert ckpt["epoch"] == 3 and ckpt["ema"] is None and ckpt["recipe"]["ema"] is False
    best = torch.load(tmp_path / "best.pt", weights_only=True)
    assert best["metrics"]["val_top1"] == max(r["val_top1"] for r in rows)


def test_small_recipe_learns_where_the_papers_does_not_and_loaders_do_not_warn(tmp_path):
    # Tiny step 00, 1000 images at 32x32, 3 epochs of batch 32: the paper's recipe scales its lr to 3e-5 and
    # augments for 300 epochs; the small preset learns. Default --workers: the cores this process may use.
    from convnext_steps.training.data import default_workers

    assert default_workers() == min(8, len(os.sched_getaffinity(0)))
    argv = [
        "--step",
        "00",
        "--depths",
        "1",
        "1",
        "1",
        "1",
        "--dims",
        "32",
        "64",
        "128",
        "256",
        "--stem-dim",
        "8",
        "--data",
        "synthetic",
        "--synthetic-train",
        "1000",
        "--synthetic-val",
        "200",
        "--image-size",
        "32",
        "--epochs",
        "3",
        "--batch-size",
        "32",
        "--threads",
        "1",
        "--quiet",
    ]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main([*argv, "--recipe", "small", "--output", str(tmp_path / "small")]) == 0
    assert [str(w.message) for w in caught if "worker" in str(w.message)] == []  # "... will create 4 worker ..."
    assert main([*argv, "--workers", "0", "--output", str(tmp_path / "paper")]) == 0
    small, paper = read_metrics(tmp_path / "small"), read_metrics(tmp_path / "paper")
    assert small[-1]["val_top1"] >= 30 and paper[-1]["val_top1"] <= 20, (small[-1], paper[-1])  # chance: 10 %
    assert paper[0]["lr"] < 4e-5 < 5e-4 < small[0]["lr"]


# Runs the trainer's command line, pausing forever inside the Nth os.replace onto a file of that name (from
# PAUSE=NAME:N): the temp file is complete, the file not yet replaced. The test then SIGKILLs the process:
# a kill inside that write. Without PAUSE it runs as is. The training code itself has no test hook.
LAUNCHER = """
import os, sys, time
from convnext_steps.train import main
from convnext_steps.training import run

if os.environ.get("PAUSE"):
    name, nth = os.environ["PAUSE"].split(":")
    replace, seen = os.replace, []

    def paused_replace(src, dst):
        seen.append(os.path.basename(dst))
        if seen.count(name) == int(nth) and seen[-1] == name:
            print("PAUSED", name, flush=True)
            time.sleep(600)
        replace(src, dst)

    os.replace = paused_replace
sys.exit(main(sys.argv[1:]))
"""


def _kill(output, *extra, pause=None, until=None, log):
    """Start the trainer in a real process and SIGKILL it inside the write `pause` names, or once `until()`."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PAUSE": pause or ""}
    with open(log, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, *RECIPE_RUN, "--output", str(output), *extra],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=env,
        )
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and proc.poll() is None:
                if pause and select.select([proc.stdout], [], [], 0.05)[0]:
                    assert proc.stdout.readline().split() == ["PAUSED", pause.split(":")[0]]
                    break
                if until and until():
                    break
                time.sleep(0.01)
            assert proc.poll() is None, f"the run ended before the kill: {open(log).read()[-2000:]}"
            proc.kill()  # SIGKILL: no cleanup, nothing flushed
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stdout.close()
    assert proc.returncode == -9


def _last_step(output) -> int:
    try:
        return torch.load(output / "last.pt", weights_only=True)["global_step"]
    except (FileNotFoundError, RuntimeError, EOFError):
        return -1


def _assert_consistent(output):
    """What a kill may leave: last.pt never claims a best epoch that best.pt does not hold (yet or again)."""
    if not (output / "last.pt").exists():
        return
    ckpt = load_checkpoint(output / "last.pt")
    if ckpt["history"]:
        best_epoch = max(ckpt["history"], key=lambda row: row["val_top1"])["epoch"]
        assert torch.load(output / "best.pt", weights_only=True)["epoch"] >= best_epoch


def test_sigkill_at_any_moment_then_resume_reproduces_the_uninterrupted_run(recipe_run, tmp_path):
    # RECIPE_RUN: 2 epochs of 8 steps, last.pt every 3 steps. Each resume is killed at another moment.
    out, log = tmp_path / "run", tmp_path / "stderr.txt"
    _kill(out, pause="recipe.json:1", log=log)  # inside the first write of all: no checkpoint yet
    assert [n.startswith(".recipe.json.") and n.endswith(".tmp") for n in os.listdir(out)] == [True]
    _kill(out, "--resume", pause="best.pt:1", log=log)  # epoch 1 ends: inside best.pt, before last.pt
    assert "best.pt" not in os.listdir(out) and load_checkpoint(out / "last.pt")["global_step"] == 6
    _assert_consistent(out)
    _kill(out, "--resume", pause="last.pt:1", log=log)  # epoch 1 ends again: best.pt written, inside last.pt
    assert load_checkpoint(out / "last.pt")["global_step"] == 6
    _assert_consistent(out)
    _kill(out, "--resume", pause="metrics.csv:1", log=log)  # last.pt written, inside metrics.csv
    assert load_checkpoint(out / "last.pt")["epoch"] == 1 and not (out / "metrics.csv").exists()
    _assert_consistent(out)
    # Mid-epoch 2, between checkpoints, with a loader worker process (augmentation must not depend on it).
    _kill(out, "--resume", "--workers", "1", until=lambda: _last_step(out) >= 12, log=log)
    _assert_consistent(out)
    # metrics.csv, lost with the kill inside its write, was rewritten from last.pt when epoch 2 resumed.
    assert _without_timing(read_metrics(out)[:1]) == _without_timing(read_metrics(recipe_run)[:1])

    assert main([*RECIPE_RUN, "--output", str(out), "--workers", "0", "--resume"]) == 0
    assert sorted(os.listdir(out)) == ["best.pt", "last.pt", "metrics.csv", "recipe.json"]  # temp files removed
    resumed, reference = read_metrics(out), read_metrics(recipe_run)
    assert len(resumed) == 2 and "ema_val_top1" in resumed[0]
    assert _without_timing(resumed) == _without_timing(reference)  # exactly, not approximately
    a, b = torch.load(out / "last.pt", weights_only=True), torch.load(recipe_run / "last.pt", weights_only=True)
    for part in ("model", "ema"):
        assert a[part].keys() == b[part].keys()
        assert all(torch.equal(a[part][k], b[part][k]) for k in a[part]), part
    assert a["optimizer"]["state"][0]["step"] == b["optimizer"]["state"][0]["step"] == 16
    a, b = torch.load(out / "best.pt", weights_only=True), torch.load(recipe_run / "best.pt", weights_only=True)
    assert a["epoch"] == b["epoch"] and _without_timing([a["metrics"]]) == _without_timing([b["metrics"]])
    for part in ("model", "model_ema"):
        assert all(torch.equal(a[part][k], b[part][k]) for k in b[part]), part
    assert (out / "recipe.json").read_text() == (recipe_run / "recipe.json").read_text()

    # Resuming a finished run does nothing and changes nothing.
    assert main([*RECIPE_RUN, "--output", str(out), "--workers", "0", "--resume"]) == 0
    assert read_metrics(out) == resumed


def test_two_gloo_processes_match_one_process_and_gradient_accumulation(tmp_path, capsys):
    # Step 12 has no BatchNorm, so per-process batches give the same forward pass as one big batch.
    # MixUp/CutMix and drop path draw per process, so they are off; the per-sample augmentation stays on.
    common = ["--step", "12", *TINY, *DATA, *NO_MIX, "--epochs", "2", "--lr", "2e-3", "--workers", "0"]
    assert main([*common, "--batch-size", "32", "--output", str(tmp_path / "one")]) == 0
    assert main([*common, "--batch-size", "16", "--accum-steps", "2", "--output", str(tmp_path / "accum")]) == 0
    loud = [a for a in common if a != "--quiet"]  # progress and epoch lines on, to see who prints
    two = _cli(
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "convnext_steps.train",
        *loud,
        "--batch-size",
        "16",
        "--output",
        str(tmp_path / "two"),
        module=("-m", "torch.distributed.run"),
    )
    assert two.returncode == 0, two.stderr[-3000:]

    one = read_metrics(tmp_path / "one")
    for other in (read_metrics(tmp_path / "two"), read_metrics(tmp_path / "accum")):
        assert len(other) == len(one) == 2
        for a, b in zip(one, other):
            for key in ("train_loss", "val_loss", "ema_val_loss", "lr"):
                assert a[key] == pytest.approx(b[key], rel=1e-5), key
            for key in ("val_top1", "val_top5", "ema_val_top1"):
                assert abs(a[key] - b[key]) <= 100 / 64 + 1e-9, key  # at most one of 64 images flips
    assert load_checkpoint(str(tmp_path / "two" / "last.pt"))["recipe"]["world_size"] == 2
    # Only rank 0 writes files and prints.
    assert sorted(os.listdir(tmp_path / "two")) == ["best.pt", "last.pt", "metrics.csv", "recipe.json"]
    assert two.stdout.count("2 process(es) on cpu") == 1 and two.stdout.count("epoch 2/2  train_loss") == 1, two.stdout
    # Resuming with another number of processes would change the data order: refused.
    assert main([*common, "--output", str(tmp_path / "two"), "--resume"]) == 2
    assert "written by 2 process(es); resume it with the same number (now 1)" in capsys.readouterr().err


def test_eval_only_reproduces_the_saved_metrics(recipe_run, capsys):
    rows = read_metrics(recipe_run)
    assert main([*RECIPE_RUN, "--output", str(recipe_run), "--eval-only", "--resume", "--workers", "0"]) == 0
    out = capsys.readouterr().out
    assert f"val_top1 {rows[-1]['val_top1']:.4f}" in out and f"ema_val_loss {rows[-1]['ema_val_loss']:.4f}" in out
    best = max(rows, key=lambda r: r["val_top1"])
    # Evaluating needs no training batch: 8 training images, fewer than one batch, are fine.
    assert (
        main(
            [
                "--step",
                "12",
                *TINY,
                *DATA,
                "--synthetic-train",
                "8",
                "--output",
                str(recipe_run),
                "--eval-only",
                "--workers",
                "0",
                "--weights",
                str(recipe_run / "best.pt"),
            ]
        )
        == 0
    )
    assert f"val_loss {best['val_loss']:.4f}  val_top1 {best['val_top1']:.4f}" in capsys.readouterr().out
    # best.pt and last.pt are weights files too: convert.load_weights reads them, the EMA's weights on request.
    model = build_model(12, 10, depths=(1, 1, 1, 1), dims=(16, 32, 64, 128), stem_dim=16)
    assert load_weights(model, str(recipe_run / "best.pt")) == "ours"
    saved = torch.load(recipe_run / "best.pt", weights_only=True)
    assert load_weights(model, recipe_run / "best.pt", ema=True) == "ours"
    assert all(torch.equal(model.state_dict()[k], v) for k, v in saved["model_ema"].items())
    saved = torch.load(recipe_run / "last.pt", weights_only=True)  # an AveragedModel's state: 'module.' keys
    assert load_weights(model, recipe_run / "last.pt", ema=True) == "ours"
    assert all(torch.equal(v, saved["ema"][f"module.{k}"]) for k, v in model.state_dict().items())


def test_image_folder_data(tmp_path):
    from PIL import Image

    for split, n in (("train", 8), ("val", 4)):
        for c, colour in enumerate(("red", "blue")):
            os.makedirs(tmp_path / "data" / split / f"class{c}")
            for i in range(n):
                Image.new("RGB", (40 + i, 36), colour).save(tmp_path / "data" / split / f"class{c}" / f"{i}.png")
    argv = [
        "--step",
        "12",
        *TINY,
        "--data",
        str(tmp_path / "data"),
        "--image-size",
        "32",
        "--batch-size",
        "4",
        "--epochs",
        "1",
        "--threads",
        "1",
        "--quiet",
        "--workers",
        "0",
        "--output",
        str(tmp_path / "run"),
    ]
    assert main(argv) == 0
    assert load_checkpoint(str(tmp_path / "run" / "last.pt"))["classes"] == ["class0", "class1"]
    assert read_metrics(tmp_path / "run")[0]["val_top5"] == 100.0  # two classes: top-k is top-2


# ---------------------------------------------------------------------------------------------------------
# Bad input: a clear message and exit status 2, never a traceback or a silent fresh start


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--step", "13"], "unknown step '13'; valid ids: 00_resnet50"),
        (["--step", "12", "--model", "convnext_tiny"], "exactly one of --step"),
        (["--model", "convnext_tiny", "--dims", "8", "16", "32", "64"], "--model takes the family member's"),
        (["--step", "05", "--layer-scale", "1e-6"], "has no layer scale"),
        (
            ["--step", "12", "--depths", "1", "1", "1", "1", "1", "--dims", "16", "32", "64", "128", "256"],
            "--image-size 32 is too small: the network downsamples by 64",
        ),
        (["--step", "12", "--dims", "16", "32", "64"], "must be non-empty and of equal length"),
        (["--step", "12", "--epochs", "2", "--warmup-epochs", "2"], "must be shorter than --epochs"),
        (["--step", "12", "--amp", "fp16", "--device", "cpu"], "--amp fp16 needs a GPU"),
        (["--step", "12", "--accum-steps", "100"], "fewer than --accum-steps 100"),
        (["--step", "12", "--eval-only"], "--eval-only needs exactly one of"),
        (["--step", "12", "--weights", "x.pt"], "--weights is for --eval-only"),
        (["--step", "12", "--data", "/no/such/folder"], "ImageFolder layout"),
    ],
)
def test_bad_arguments(argv, message, tmp_path, capsys):
    base = [*TINY, *DATA, "--batch-size", "32", "--workers", "0", "--output", str(tmp_path)]
    # Later options win in argparse, so argv's --data / --dims replace the base's.
    assert main([*base, *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not os.path.exists(tmp_path / "last.pt")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--batch-size", "0"], "argument --batch-size: expected a positive integer, got 0"),
        (["--amp", "fp8"], "argument --amp: invalid choice: 'fp8'"),
        (["--model", "resnet50"], "argument --model: invalid choice: 'resnet50'"),
        (["--recipe", "tiny"], "argument --recipe: invalid choice: 'tiny'"),
        (["--mixup", "-1"], "argument --mixup: expected a number >= 0, got -1"),
        (["--reprob", "2"], "argument --reprob: expected a number in [0, 1], got 2"),
        (["--drop-path", "1"], "argument --drop-path: expected a number in [0, 1), got 1"),
        (["--image-size", "abc"], "argument --image-size: expected an integer, got 'abc'"),
        (["--image-size", "16"], "argument --image-size: expected at least 32 (the networks downsample by 32), got 16"),
        (["--lr", "fast"], "argument --lr: expected a number, got 'fast'"),
    ],
)
def test_bad_values_are_refused_by_the_parser(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--step", "12", *DATA, "--output", str(tmp_path), *argv])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and f"error: {message}" in err, err
    assert "_image_size" not in err and "Traceback" not in err


def test_imagenette_download_failure_is_clear(monkeypatch, tmp_path, capsys):
    import torchvision.datasets.imagenette as imagenette

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(imagenette, "download_and_extract_archive", offline)  # never really download in tests
    argv = ["--step", "12", "--data", "imagenette", "--data-root", str(tmp_path / "data"), "--output", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "could not download Imagenette (320px)" in err and "imagenette2-320.tgz" in err and "--data synthetic" in err


def test_bad_checkpoints_are_refused(recipe_run, tmp_path, capsys):
    def resume(output, *extra):
        code = main([*RECIPE_RUN, "--output", str(output), "--workers", "0", "--resume", *extra])
        return code, capsys.readouterr().err

    missing = tmp_path / "missing" / "last.pt"
    assert resume(tmp_path / "missing") == (
        2,
        f"error: no checkpoint to resume from: {missing} does not exist (run without --resume to start)\n",
    )
    good = (recipe_run / "last.pt").read_bytes()
    bad = tmp_path / "bad"
    bad.mkdir()
    for content, message in [
        (
            good[: len(good) // 2],
            "corrupt or not a PyTorch checkpoint (RuntimeError: "
            "PytorchStreamReader failed reading zip archive: failed finding central directory)",
        ),
        (
            b"not a checkpoint at all",
            "corrupt or not a PyTorch checkpoint (torch's weights-only unpickler: Unsupported operand 110)",
        ),
    ]:
        (bad / "last.pt").write_bytes(content)
        code, err = resume(bad)
        assert code == 2 and message in err, err
    torch.save({"model": {}}, bad / "last.pt")
    code, err = resume(bad)
    assert code == 2 and f"expected format {CHECKPOINT_FORMAT!r}" in err

    # Another architecture, or another recipe, is refused with both values named.
    code, err = main(["--step", "11", *TINY, *DATA, "--output", str(recipe_run), "--resume"]), capsys.readouterr().err
    assert code == 2 and "another architecture: --step 11_layernorm (checkpoint: 12_separate_downsampling)" in err
    code, err = resume(recipe_run, "--dims", "16", "32", "64", "256")
    assert code == 2 and "--dims 16 32 64 256 (checkpoint: 16 32 64 128)" in err
    code, err = resume(recipe_run, "--lr", "1e-3")
    assert code == 2 and "--lr 0.001 (checkpoint: 0.002)" in err
    code, err = resume(recipe_run, "--recipe", "small")
    assert code == 2 and "--recipe small (checkpoint: paper)" in err
    # A checkpoint whose recipe matches but whose weights do not (e.g. edited by hand).
    ckpt = torch.load(recipe_run / "last.pt", weights_only=True)
    ckpt["model"]["head.weight"] = ckpt["model"]["head.weight"][:5]
    torch.save(ckpt, bad / "last.pt")
    code, err = resume(bad)
    assert code == 2 and "does not fit this run" in err and "head.weight" in err
    # Without --resume, an existing run is never silently overwritten.
    before = (recipe_run / "last.pt").read_bytes()
    code, err = main([*RECIPE_RUN, "--output", str(recipe_run), "--workers", "0"]), capsys.readouterr().err
    assert code == 2 and "exists: pass --resume" in err
    assert (recipe_run / "last.pt").read_bytes() == before


# ---------------------------------------------------------------------------------------------------------
# File-system errors: one line, exit status 2, checked before data and model are built, nothing lost

BUILT = []  # what the trainer built before failing (see _no_building)


@pytest.fixture
def _no_building(monkeypatch):
    """Make building the data fail loudly: an error that comes first names the output folder, not the data."""
    import convnext_steps.training.entry as trainer_main

    def refuse(*args, **kwargs):
        BUILT.append("data")
        raise AssertionError("data built before --output was checked")

    monkeypatch.setattr(trainer_main, "build_loaders", refuse)
    BUILT.clear()


def test_output_that_is_a_file_is_one_line_before_anything_is_built(tmp_path, capsys, _no_building):
    (tmp_path / "a_file").write_text("not a folder")
    argv = ["--step", "12", *TINY, *DATA, "--output", str(tmp_path / "a_file")]
    assert main(argv) == 2 and BUILT == []
    assert capsys.readouterr().err == (
        f"error: --output {tmp_path / 'a_file'} is a file, not a folder: choose a folder for the run's files\n"
    )
    # The same from the shell: one line on stderr, exit status 2, no traceback.
    result = _cli(*argv)
    assert result.returncode == 2 and result.stderr.splitlines() == [
        f"error: --output {tmp_path / 'a_file'} is a file, not a folder: choose a folder for the run's files"
    ]


def test_output_that_cannot_be_written_is_one_line_before_anything_is_built(
    tmp_path, monkeypatch, capsys, _no_building
):
    import tempfile

    def no_permission(*args, **kwargs):  # what a read-only folder answers (root may write anywhere, so simulated)
        raise PermissionError(13, "Permission denied", kwargs.get("dir"))

    monkeypatch.setattr(tempfile, "TemporaryFile", no_permission)
    assert main(["--step", "12", *TINY, *DATA, "--output", str(tmp_path / "run")]) == 2 and BUILT == []
    assert capsys.readouterr().err == f"error: --output {tmp_path / 'run'} is not writable (Permission denied)\n"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_output_folder(tmp_path):
    (tmp_path / "ro").mkdir(mode=0o500)
    result = _cli("--step", "12", *TINY, *DATA, "--output", str(tmp_path / "ro" / "run"))
    assert (
        result.returncode == 2
        and result.stderr.startswith(f"error: --output {tmp_path / 'ro' / 'run'} is not writable")
        and len(result.stderr.splitlines()) == 1
    )


def test_disk_full_mid_run_is_one_line_and_loses_nothing(recipe_run, tmp_path, monkeypatch, capsys):
    real_save, saves = torch.save, []

    def disk_full_at_second_save(obj, f, *args, **kwargs):
        saves.append(1)
        if len(saves) == 2:  # last.pt at step 6: half written, then the disk is full
            f.write(b"\0" * 1000)
            raise OSError(28, "No space left on device")
        real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", disk_full_at_second_save)
    out = tmp_path / "run"
    assert main([*RECIPE_RUN, "--output", str(out), "--workers", "0"]) == 2
    assert capsys.readouterr().err == f"error: cannot write {out / 'last.pt'} (No space left on device)\n"
    assert sorted(os.listdir(out)) == ["last.pt", "recipe.json"]  # no temp file; last.pt from step 3 intact
    assert load_checkpoint(out / "last.pt")["global_step"] == 3
    monkeypatch.setattr(torch, "save", real_save)  # space freed: resuming ends where the uninterrupted run ends
    assert main([*RECIPE_RUN, "--output", str(out), "--workers", "0", "--resume"]) == 0
    assert _without_timing(read_metrics(out)) == _without_timing(read_metrics(recipe_run))


def test_checkpoint_paths_that_are_directories(recipe_run, tmp_path, capsys):
    (tmp_path / "weights.pt").mkdir()
    argv = ["--step", "12", *TINY, *DATA, "--workers", "0", "--eval-only", "--output", str(tmp_path)]
    assert main([*argv, "--weights", str(tmp_path / "weights.pt")]) == 2
    assert capsys.readouterr().err == (
        f"error: --weights {tmp_path / 'weights.pt'}: {tmp_path / 'weights.pt'} is a "
        f"directory; expected a checkpoint file (.pt, .pth or .safetensors)\n"
    )
    (tmp_path / "run" / "last.pt").mkdir(parents=True)
    assert main([*RECIPE_RUN, "--output", str(tmp_path / "run"), "--resume"]) == 2
    assert capsys.readouterr().err == (
        f"error: {tmp_path / 'run' / 'last.pt'} is a directory; expected the run's checkpoint file there\n"
    )


def test_unreadable_data_folder(tmp_path, monkeypatch, capsys):
    import torchvision.datasets

    for split in ("train", "val"):
        (tmp_path / "data" / split / "a").mkdir(parents=True)

    def no_permission(root, *args, **kwargs):  # what os.scandir answers in a folder we may not read
        raise PermissionError(13, "Permission denied", root)

    monkeypatch.setattr(torchvision.datasets, "ImageFolder", no_permission)
    argv = ["--step", "12", *TINY, "--data", str(tmp_path / "data"), "--workers", "0", "--output", str(tmp_path / "r")]
    assert main(argv) == 2
    assert capsys.readouterr().err == (
        f"error: --data {tmp_path / 'data'}: cannot read {tmp_path / 'data' / 'train'} (Permission denied)\n"
    )
    (tmp_path / "file").write_text("x")
    assert main([*argv, "--data", str(tmp_path / "file")]) == 2
    assert "is not 'synthetic', 'imagenette' or a directory" in capsys.readouterr().err
