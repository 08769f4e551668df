"""Training: the synthetic set, the recipe's pieces, a run whose loss falls, resume after a hard kill,
torchrun with 2 gloo processes, gradient accumulation, evaluation, and clear errors for bad input.

Every run is tiny (step networks at depths 1-1-1-1, widths 16-128, 32x32 images, a few hundred images)
and single-threaded, so results are bitwise repeatable and the whole file takes well under a minute.
"""
from __future__ import annotations

import os
import subprocess
import sys
import urllib.error

import pytest
import torch

from convnext_steps import load_weights
from convnext_steps.data import SHAPE_CLASSES, Augmented, EpochSampler, SyntheticShapes, build_transform
from convnext_steps.train import (
    CHECKPOINT_FORMAT, KILL_ENV, load_checkpoint, main, param_groups, read_metrics, save_atomic, warmup_cosine,
)

TINY = ["--depths", "1", "1", "1", "1", "--dims", "16", "32", "64", "128", "--stem-dim", "16"]
DATA = ["--data", "synthetic", "--image-size", "32", "--synthetic-train", "256", "--synthetic-val", "64",
        "--threads", "1", "--quiet"]
NO_MIX = ["--mixup", "0", "--cutmix", "0", "--drop-path", "0"]  # per-process randomness, off to compare processes
# Step 12 (LayerNorm, EMA on) with the whole recipe: MixUp/CutMix, RandAugment, erasing, drop path, smoothing.
RECIPE_RUN = ["--step", "12", *TINY, *DATA, "--batch-size", "32", "--epochs", "2", "--lr", "2e-3",
              "--save-every-steps", "3"]
TIMING = {"seconds", "images_per_s"}


@pytest.fixture(autouse=True)
def _keep_threads():
    threads = torch.get_num_threads()  # --threads 1 in-process changes torch's global setting
    yield
    torch.set_num_threads(threads)


def _cli(*args, env=None, timeout=300, module=("-m", "convnext_steps.train")):
    return subprocess.run([sys.executable, *module, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})})


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
        local = list(ranks[0])[8 * k:8 * k + 8] + list(ranks[1])[8 * k:8 * k + 8]
        assert sorted(local) == sorted(order[16 * k:16 * k + 16])
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
    from convnext_steps import build_model

    model = build_model(12, 10, depths=(1, 1, 1, 1), dims=(16, 32, 64, 128), stem_dim=16)
    decay, no_decay = param_groups(model, 0.05)
    names = {id(p): n for n, p in model.named_parameters()}
    assert decay["weight_decay"] == 0.05 and no_decay["weight_decay"] == 0.0
    assert {names[id(p)] for p in no_decay["params"]} == {n for n, p in model.named_parameters() if p.ndim <= 1}
    assert "stages.0.blocks.0.gamma" in {names[id(p)] for p in no_decay["params"]}
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))


def test_recipe_defaults_scale_with_the_batch_and_follow_the_network():
    from convnext_steps.train import build_network, build_parser, resolve_recipe

    def recipe(*argv, world_size=1, device="cpu"):
        args = build_parser().parse_args(["--data", "synthetic", "--output", "unused", *argv])
        r = resolve_recipe(args, world_size, device)
        return r, build_network(r, 10)

    r, model = recipe("--step", "00", "--batch-size", "128", "--accum-steps", "4", world_size=8, device="cuda")
    assert (r["lr"], r["min_lr"], r["warmup_epochs"], r["amp"]) == (4e-3, 1e-6, 20.0, "bf16")
    assert (r["drop_path"], r["layer_scale"], r["ema"]) == (0.1, None, False)  # BatchNorm: no EMA
    assert model.config.drop_path_rate == 0.1
    r, model = recipe("--model", "convnext_tiny", "--batch-size", "64", "--epochs", "30")
    assert (r["lr"], r["warmup_epochs"], r["amp"]) == (4e-3 * 64 / 4096, 2.0, "off")
    assert (r["drop_path"], r["layer_scale"], r["ema"]) == (0.1, 1e-6, True)
    assert model.stages[0].blocks[0].gamma.flatten()[0].item() == pytest.approx(1e-6)
    r, model = recipe("--step", "12", *TINY, "--layer-scale", "0", "--drop-path", "0", "--no-ema")
    assert model.stages[0].blocks[0].gamma is None and (r["drop_path"], r["ema"]) == (0.0, False)


def test_save_atomic_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "last.pt"
    save_atomic(str(path), {"x": torch.ones(2)})

    def broken(f):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        save_atomic(str(path), broken)
    assert torch.equal(torch.load(path, weights_only=True)["x"], torch.ones(2))
    assert os.listdir(tmp_path) == ["last.pt"]  # no temp file left behind


# ---------------------------------------------------------------------------------------------------------
# Training runs


def test_loss_falls_on_the_synthetic_set(tmp_path):
    # Step 06 (BatchNorm: EMA off by default) without the heavy augmentation, which needs long runs.
    argv = ["--step", "06", *TINY, *DATA, "--synthetic-train", "1024", "--batch-size", "32", "--epochs", "3",
            "--lr", "2e-3", "--mixup", "0", "--cutmix", "0", "--randaug-ops", "0", "--reprob", "0",
            "--output", str(tmp_path), "--workers", "0"]
    assert main(argv) == 0
    rows = read_metrics(tmp_path)
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


def test_resume_after_a_hard_kill_reproduces_the_uninterrupted_run(recipe_run, tmp_path):
    # Killed (os._exit) after optimizer step 11 of 16, i.e. mid-epoch 2; the last save was at step 9.
    # The killed run also loads data with a worker process: augmentation must not depend on that.
    killed = _cli(*RECIPE_RUN, "--output", str(tmp_path), "--workers", "1", env={KILL_ENV: "11"})
    assert killed.returncode == 99, killed.stderr
    ckpt = load_checkpoint(str(tmp_path / "last.pt"))
    assert (ckpt["epoch"], ckpt["step_in_epoch"], ckpt["global_step"]) == (1, 1, 9)
    assert len(read_metrics(tmp_path)) == 1

    assert main([*RECIPE_RUN, "--output", str(tmp_path), "--workers", "0", "--resume"]) == 0
    resumed, reference = read_metrics(tmp_path), read_metrics(recipe_run)
    assert len(resumed) == 2 and "ema_val_top1" in resumed[0]
    assert _without_timing(resumed) == _without_timing(reference)  # exactly, not approximately
    a = torch.load(tmp_path / "last.pt", weights_only=True)
    b = torch.load(recipe_run / "last.pt", weights_only=True)
    for part in ("model", "ema"):
        assert a[part].keys() == b[part].keys()
        assert all(torch.equal(a[part][k], b[part][k]) for k in a[part]), part
    assert a["optimizer"]["state"][0]["step"] == b["optimizer"]["state"][0]["step"] == 16

    # Resuming a finished run does nothing and changes nothing.
    assert main([*RECIPE_RUN, "--output", str(tmp_path), "--workers", "0", "--resume"]) == 0
    assert read_metrics(tmp_path) == resumed


def test_two_gloo_processes_match_one_process_and_gradient_accumulation(tmp_path, capsys):
    # Step 12 has no BatchNorm, so per-process batches give the same forward pass as one big batch.
    # MixUp/CutMix and drop path draw per process, so they are off; the per-sample augmentation stays on.
    common = ["--step", "12", *TINY, *DATA, *NO_MIX, "--epochs", "2", "--lr", "2e-3", "--workers", "0"]
    assert main([*common, "--batch-size", "32", "--output", str(tmp_path / "one")]) == 0
    assert main([*common, "--batch-size", "16", "--accum-steps", "2", "--output", str(tmp_path / "accum")]) == 0
    loud = [a for a in common if a != "--quiet"]  # progress and epoch lines on, to see who prints
    two = _cli("--standalone", "--nproc_per_node", "2", "-m", "convnext_steps.train", *loud,
               "--batch-size", "16", "--output", str(tmp_path / "two"), module=("-m", "torch.distributed.run"))
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
    assert main(["--step", "12", *TINY, *DATA, "--output", str(recipe_run), "--eval-only", "--workers", "0",
                 "--weights", str(recipe_run / "best.pt")]) == 0
    assert f"val_loss {best['val_loss']:.4f}  val_top1 {best['val_top1']:.4f}" in capsys.readouterr().out
    # best.pt is a plain weights file too: convert.load_weights reads it.
    from convnext_steps import build_model

    assert load_weights(build_model(12, 10, depths=(1, 1, 1, 1), dims=(16, 32, 64, 128), stem_dim=16),
                        str(recipe_run / "best.pt")) == "ours"


def test_image_folder_data(tmp_path):
    from PIL import Image

    for split, n in (("train", 8), ("val", 4)):
        for c, colour in enumerate(("red", "blue")):
            os.makedirs(tmp_path / "data" / split / f"class{c}")
            for i in range(n):
                Image.new("RGB", (40 + i, 36), colour).save(tmp_path / "data" / split / f"class{c}" / f"{i}.png")
    argv = ["--step", "12", *TINY, "--data", str(tmp_path / "data"), "--image-size", "32", "--batch-size", "4",
            "--epochs", "1", "--threads", "1", "--quiet", "--workers", "0", "--output", str(tmp_path / "run")]
    assert main(argv) == 0
    assert load_checkpoint(str(tmp_path / "run" / "last.pt"))["classes"] == ["class0", "class1"]
    assert read_metrics(tmp_path / "run")[0]["val_top5"] == 100.0  # two classes: top-k is top-2


# ---------------------------------------------------------------------------------------------------------
# Bad input: a clear message and exit status 2, never a traceback or a silent fresh start


@pytest.mark.parametrize("argv, message", [
    (["--step", "13"], "unknown step '13'; valid ids: 00_resnet50"),
    (["--step", "12", "--model", "convnext_tiny"], "exactly one of --step"),
    (["--model", "convnext_tiny", "--dims", "8", "16", "32", "64"], "--model takes the family member's"),
    (["--step", "05", "--layer-scale", "1e-6"], "has no layer scale"),
    (["--step", "12", "--image-size", "16"], "--image-size 16 is too small"),
    (["--step", "12", "--dims", "16", "32", "64"], "must be non-empty and of equal length"),
    (["--step", "12", "--epochs", "2", "--warmup-epochs", "2"], "must be shorter than --epochs"),
    (["--step", "12", "--amp", "fp16", "--device", "cpu"], "--amp fp16 needs a GPU"),
    (["--step", "12", "--accum-steps", "100"], "fewer than --accum-steps 100"),
    (["--step", "12", "--eval-only"], "--eval-only needs exactly one of"),
    (["--step", "12", "--weights", "x.pt"], "--weights is for --eval-only"),
    (["--step", "12", "--data", "/no/such/folder"], "ImageFolder layout"),
])
def test_bad_arguments(argv, message, tmp_path, capsys):
    base = [*TINY, *DATA, "--batch-size", "32", "--workers", "0", "--output", str(tmp_path)]
    # Later options win in argparse, so argv's --data / --dims replace the base's.
    assert main([*base, *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not os.path.exists(tmp_path / "last.pt")


@pytest.mark.parametrize("argv", [["--batch-size", "0"], ["--amp", "fp8"], ["--model", "resnet50"],
                                  ["--mixup", "-1"], ["--reprob", "2"], ["--drop-path", "1"]])
def test_bad_values_are_refused_by_the_parser(argv, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--step", "12", *DATA, "--output", str(tmp_path), *argv])
    assert exit_info.value.code == 2 and "error: argument" in capsys.readouterr().err


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
        2, f"error: no checkpoint to resume from: {missing} does not exist (run without --resume to start)\n")
    good = (recipe_run / "last.pt").read_bytes()
    bad = tmp_path / "bad"
    bad.mkdir()
    for content, message in [(good[: len(good) // 2], "corrupt or not a PyTorch checkpoint"),
                             (b"not a checkpoint at all", "corrupt or not a PyTorch checkpoint")]:
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
    assert code == 2 and "--dims [16, 32, 64, 256] (checkpoint: [16, 32, 64, 128])" in err
    code, err = resume(recipe_run, "--lr", "1e-3")
    assert code == 2 and "--lr 0.001 (checkpoint: 0.002)" in err
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
