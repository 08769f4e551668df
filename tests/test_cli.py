"""The main job: `python -m convnext_steps roadmap`."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from convnext_steps.cli import main
from convnext_steps.roadmap import EXTENSION_IDS, STEP_IDS


def run(*args):
    return subprocess.run([sys.executable, "-m", "convnext_steps", *args], capture_output=True, text=True, timeout=300)


def test_roadmap_table_at_224():
    result = run("roadmap")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for step_id in STEP_IDS:
        assert any(line.startswith(step_id) for line in lines)
    row = next(line for line in lines if line.startswith("00_resnet50")).split()
    assert row[1:5] == ["25.56", "4.09", "4.09", "78.82"]
    row = next(line for line in lines if line.startswith("12_separate_downsampling")).split()
    assert row[1:5] == ["28.59", "4.46", "4.49", "81.97"]
    assert "11x11" in result.stdout  # the kernel sweep
    # The README's roadmap table shows exactly these measured numbers.
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text().splitlines()
    for step_id in STEP_IDS:
        measured = next(line for line in lines if line.startswith(step_id)).split()[1:5]
        documented = next(line for line in readme if line.startswith(f"| {step_id} |")).split("|")[3:7]
        assert [cell.strip() for cell in documented] == measured, step_id
    # The extensions, below the paper's 13 steps, under their own heading: our params and GMACs as measured.
    assert result.stdout.index("Past the paper's roadmap") > result.stdout.index("12_separate_downsampling")
    last_step = next(i for i, line in enumerate(readme) if line.startswith("| 12_separate_downsampling |"))
    for ext_id in EXTENSION_IDS:
        measured = next(line for line in lines if line.startswith(ext_id)).split()[1:3]
        row = next(i for i, line in enumerate(readme) if line.startswith(f"| {ext_id} |"))
        assert row > last_step and [c.strip() for c in readme[row].split("|")[3:5]] == measured, ext_id


def test_roadmap_json_at_other_size(capsys):
    assert main(["roadmap", "--json", "--image-size", "64", "--no-sweep"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["image_size"] == 64 and report["kernel_sweep"] == []
    assert [r["id"] for r in report["steps"]] == list(STEP_IDS)
    first = report["steps"][0]
    assert set(first) >= {"id", "change", "params", "gmacs", "paper_gflops", "paper_top1"}
    assert first["params"] == 25_557_032
    # MACs of a convnet scale with the pixel count (no attention): 64x64 is about (64/224)^2 of 224x224.
    assert 0.05 < first["gmacs"] / 4.089 < 0.12


def test_help_lists_commands():
    result = run("--help")
    assert result.returncode == 0
    assert "roadmap" in result.stdout


@pytest.mark.parametrize("size", ["16", "0", "abc"])
def test_bad_image_size(size, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["roadmap", "--image-size", size])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--image-size" in err


def test_unknown_command(capsys):
    with pytest.raises(SystemExit):
        main(["nonsense"])
    assert "invalid choice: 'nonsense'" in capsys.readouterr().err
