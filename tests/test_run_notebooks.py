"""tools/run_notebooks.py (`make notebooks`): re-executes in place, tidily, and refuses to store a broken run."""

import json
import subprocess
import sys
from pathlib import Path

import nbformat

RUNNER = Path(__file__).resolve().parents[1] / "tools" / "run_notebooks.py"


def _write(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# t")])
    nb.cells += [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": "something-else", "display_name": "X", "language": "python"}
    for cell in nb.cells[1:]:  # what a hand-run in JupyterLab leaves behind
        cell.execution_count = 7
        cell.metadata["execution"] = {"iopub.execute_input": "2026-11-26T19:24:40.215894Z"}
    nbformat.write(nb, path)
    return path


def test_runner_executes_in_place_and_keeps_broken_notebooks_as_they_were(tmp_path):
    good = _write(
        tmp_path / "good.ipynb", "import os\nprint(os.environ['PYTHONHASHSEED'], hash('a') == hash('a'))", "6 * 7"
    )
    raises = _write(tmp_path / "raises.ipynb", "x = 1", "raise ValueError('bad value 42')")
    noisy = _write(tmp_path / "noisy.ipynb", "import sys\nprint('careful', file=sys.stderr)")
    before = {p: p.read_bytes() for p in (raises, noisy)}

    run = subprocess.run(
        [sys.executable, str(RUNNER), "--keep-going", "--timeout", "60", str(good), str(raises), str(noisy)],
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert run.returncode == 1, run.stdout + run.stderr
    assert (
        f"{raises}: code cell 2 (\"raise ValueError('bad value 42')\") failed: ValueError: bad value 42" in run.stdout
    )
    assert f"{noisy}: code cell 1 ('import sys') wrote to stderr: 'careful'" in run.stdout
    assert all(p.read_bytes() == content for p, content in before.items()), "a failed notebook must not be written"

    nb = json.loads(good.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert [c["execution_count"] for c in code] == [1, 2]
    assert [c["metadata"] for c in code] == [{}, {}], "no timestamps"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    assert "".join(code[0]["outputs"][0]["text"]) == "0 True\n"
    assert "".join(code[1]["outputs"][0]["data"]["text/plain"]) == "42"


def test_runner_refuses_what_is_not_a_notebook(tmp_path):
    run = subprocess.run([sys.executable, str(RUNNER), str(tmp_path / "missing.ipynb")], capture_output=True, text=True)
    assert run.returncode == 2 and "not a notebook file" in run.stderr
