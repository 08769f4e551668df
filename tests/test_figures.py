"""`make figures`: every image in images/ has a builder in `figures.FIGURES`, and every builder's image is there;
builders write PNGs atomically; bad names get one clear line and exit status 2."""

import subprocess
import sys
from pathlib import Path

from convnext_steps.figures import FIGURES, save_figures

IMAGES = Path(__file__).resolve().parents[1] / "images"


def test_every_image_has_a_builder_and_every_builder_an_image():
    committed = sorted(p.relative_to(IMAGES).as_posix() for p in IMAGES.rglob("*.png"))
    assert committed == sorted(FIGURES)


def test_builders_write_pngs(tmp_path):
    names = ["norm_axes.png", "dense_vs_depthwise.png", "blocks/08_gelu.png"]
    paths = save_figures(tmp_path, names)
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == names
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5_000
    assert not list(tmp_path.rglob("*.tmp"))  # atomic writes leave no temp files


def test_figures_command_rejects_unknown_names(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "convnext_steps", "figures", "--out", str(tmp_path), "nope.png"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.startswith("python -m convnext_steps figures: error: unknown figure(s) ['nope.png']; known: ")
    assert "Traceback" not in run.stderr
