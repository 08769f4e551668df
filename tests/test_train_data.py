"""Real data folders have bad files: the trainer names a file it cannot decode and the classes train/ and val/ do
not share, `check-data` lists every problem in one pass, and a sweep checks an ImageFolder before its first run.
Folders of tiny JPEGs are made in tmp_path with PIL."""

from __future__ import annotations

import argparse
import os

import pytest
import torch
from PIL import Image
from test_train import TINY

from convnext_steps.train import main
from convnext_steps.training import sweep as sweep_module
from convnext_steps.training.datacheck import check_data, class_difference
from convnext_steps.training.sweep import check_data_once

RESULTS = ["results.csv", "results.png"]
TRAIN = ["--step", "12", *TINY, "--image-size", "32", "--batch-size", "4", "--epochs", "1", "--threads", "1", "--quiet"]


@pytest.fixture(autouse=True)
def _keep_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _folder(root, classes=("cat", "dog"), val_classes=None, n=(4, 2)):
    """root/{train,val}/<class>/<i>.jpg: 16x16 JPEGs of one colour per class."""
    for split, count, names in (("train", n[0], classes), ("val", n[1], val_classes or classes)):
        for c, name in enumerate(names):
            os.makedirs(root / split / name)
            for i in range(count):
                Image.new("RGB", (16, 16), (60 * c, 255 - 60 * c, 128)).save(root / split / name / f"{i}.jpg")
    return root


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("workers", ["0", "1"])  # 1: the error comes back from a loader worker process
def test_a_truncated_jpeg_stops_training_with_its_name(tmp_path, capsys, workers):
    data = _folder(tmp_path / "data")
    _truncate(data / "train" / "cat" / "1.jpg")
    argv = [*TRAIN, "--data", str(data), "--workers", workers, "--output", str(tmp_path / "run")]
    assert main(argv) == 2
    assert capsys.readouterr().err == (
        f"error: cannot decode {data / 'train' / 'cat' / '1.jpg'}: OSError: Truncated File Read "
        "(`python -m convnext_steps.train check-data` on the data folder lists every bad file)\n"
    )


def test_class_folders_that_differ_are_named(tmp_path, capsys):
    data = _folder(tmp_path / "data", classes=("cat", "dog"), val_classes=("bird", "dog"))
    assert main([*TRAIN, "--data", str(data), "--workers", "0", "--output", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err == (
        f"error: {data}: train and val have different class folders: train has classes not in val: cat; "
        "val has classes not in train: bird\n"
    )
    many = [f"c{i:02d}" for i in range(14)]
    assert class_difference(many, []) == "train has classes not in val: " + ", ".join(many[:10]) + " and 4 more"
    assert class_difference(["a"], ["a"]) == ""


def test_check_data_lists_every_problem(tmp_path, capsys):
    good = _folder(tmp_path / "good")
    (good / "train" / "cat" / "notes.txt").write_text("not an image: ImageFolder skips it")
    assert main(["check-data", str(good), "--workers", "0"]) == 0
    out, err = capsys.readouterr()
    assert out == (
        f"{good}: train 8 images in 2 classes (1 non-image files ignored), val 4 images in 2 classes; "
        "every image decodes, class folders agree\n"
    )
    assert err == ""

    bad = _folder(tmp_path / "bad", classes=("cat", "dog"), val_classes=("bird", "dog"))
    _truncate(bad / "train" / "cat" / "1.jpg")
    (bad / "val" / "dog" / "0.jpg").write_bytes(b"not a JPEG at all")
    (bad / "train" / "empty").mkdir()
    assert main(["check-data", str(bad), "--workers", "0"]) == 2
    out, err = capsys.readouterr()
    assert out == f"{bad}: train 8 images in 3 classes, val 4 images in 2 classes; 4 problem(s)\n"
    assert err.splitlines() == [
        f"error: {bad / 'train' / 'empty'} holds no image files (.jpg, .jpeg, .png, .ppm, .bmp, .pgm, .tif, "
        ".tiff, .webp)",
        f"error: {bad}: train and val have different class folders: train has classes not in val: cat, empty; "
        "val has classes not in train: bird",
        f"error: cannot decode {bad / 'train' / 'cat' / '1.jpg'}: OSError: Truncated File Read",
        f"error: cannot decode {bad / 'val' / 'dog' / '0.jpg'}: not an image file PIL can identify",
    ]
    # Decoding in worker processes finds the same files.
    assert check_data(bad, workers=2).bad_files == check_data(bad, workers=0).bad_files

    assert main(["check-data", str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err == (
        f"error: {tmp_path / 'missing'} is not a directory (expected {tmp_path / 'missing'}/train/<class>/ and "
        f"{tmp_path / 'missing'}/val/<class>/)\n"
    )
    (tmp_path / "half" / "train" / "cat").mkdir(parents=True)
    assert main(["check-data", str(tmp_path / "half"), "--workers", "0"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: {tmp_path / 'half' / 'train' / 'cat'} holds no image files (.jpg, .jpeg, .png, .ppm, .bmp, .pgm, "
        ".tif, .tiff, .webp)",
        f"error: {tmp_path / 'half' / 'val'} not found: expected ImageFolder layout {tmp_path / 'half'}/{{train,val}}"
        "/<class>/",
    ]


def test_a_sweep_checks_its_folder_before_the_first_run(tmp_path, capsys, monkeypatch):
    data = _folder(tmp_path / "data")
    _truncate(data / "val" / "dog" / "1.jpg")
    root = tmp_path / "sweep"
    sweep = ["sweep", "--steps", "12", "--seeds", "0", *TRAIN[2:], "--data", str(data), "--workers", "0"]
    assert main([*sweep, "--output", str(root)]) == 2
    assert capsys.readouterr().err == (
        f"error: --data {data}: 1 problem(s), first: cannot decode {data / 'val' / 'dog' / '1.jpg'}: OSError: "
        f"Truncated File Read (`python -m convnext_steps.train check-data {data}` lists them all; --no-check-data "
        "skips this)\n"
    )
    assert os.listdir(root) == ["sweep.json"]  # no run started

    # Fixed: the sweep checks again, trains, and remembers the folder it checked (names, sizes, times).
    Image.new("RGB", (16, 16), "blue").save(data / "val" / "dog" / "1.jpg")
    assert main([*sweep, "--output", str(root)]) == 0
    assert sorted(os.listdir(root)) == ["12_separate_downsampling", "data-check.json", *RESULTS, "sweep.json"]
    calls = []
    monkeypatch.setattr(sweep_module, "check_data", lambda *a, **k: calls.append(a) or check_data(*a, **k))
    extended = [*sweep[:4], "0", "1", *sweep[5:]]  # one more seed: the unchanged folder is not decoded again
    assert extended[3:6] == ["--seeds", "0", "1"] and main([*extended, "--output", str(root)]) == 0
    assert calls == []
    os.utime(data / "train" / "cat" / "0.jpg", ns=(1, 1))  # a file changed: decoded again before training
    check_data_once(str(root), argparse.Namespace(data=str(data), workers=0))
    assert len(calls) == 1
