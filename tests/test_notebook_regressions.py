"""The notebook check still catches real regressions: a mutated copy of the package fails strict nbval.

Each case copies `convnext_steps/`, one notebook and `notebooks/sanitize.cfg` into a temporary folder, applies one
source edit to the copied package, and runs `pytest --nbval` on the copied notebook in a subprocess whose kernel
imports the copy (PYTHONPATH; checked). The copy ends at the last cell that shows a fact some case breaks (what
follows could only fail later, and costs seconds a run). The run must fail, and fail in a cell whose *stored* output
shows the fact the edit breaks (`shown_in`), so a case passes only if that fact is really compared, not merely
because the edited source is displayed in the notebook. The unmutated copy of each notebook must pass, so these
tests can fail.

Re-targeting after a notebook or package rewrite: edit MUTATIONS. A case whose `old` text is no longer in its file,
or whose `shown_in` text is in no stored output of its notebook, fails with a message saying so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "convnext_steps"


@dataclass(frozen=True)
class Mutation:
    name: str  # the test id
    file: str  # relative to the package folder
    old: str  # must occur exactly once in the file
    new: str
    notebook: str  # notebooks/<notebook>.ipynb is run
    shown_in: str  # text of a stored output that the regression must change


MUTATIONS = [
    Mutation(
        "params",
        "steps/step12_separate_downsampling.py",  # a wider MLP in every block
        "hidden = self.expansion * dim",
        "hidden = self.expansion * dim + 8",
        "12_separate_downsampling",
        "28,589,128",
    ),
    Mutation(
        "macs",
        "steps/step07_kernel_7x7.py",  # 9x9 depthwise kernels from step 07 on
        "CONFIG = previous.CONFIG.replace(kernel_size=7)",
        "CONFIG = previous.CONFIG.replace(kernel_size=9)",
        "12_separate_downsampling",
        "4.456",
    ),
    Mutation(
        "stage-shape",
        "steps/step12_separate_downsampling.py",  # downsampling layers that keep the resolution
        "nn.Conv2d(in_dim, dim, kernel_size=2, stride=2)",
        "nn.Conv2d(in_dim, dim, kernel_size=1, stride=1)",
        "12_separate_downsampling",
        "feature maps after the stem and stages 1-4: as step 11's",
    ),
    Mutation(
        "logits-vs-torchvision",
        "layers.py",  # same params, MACs and shapes; different numbers
        "LN_EPS = 1e-6",
        "LN_EPS = 1e-3",
        "12_separate_downsampling",
        "max |ours - torchvision| <= 1e-5: True",
    ),
    Mutation(
        "activation",
        "steps/step08_gelu.py",  # step 08's blocks keep ReLU
        "self.act = nn.GELU()  # smooth ReLU, as in BERT, GPT-2 and ViT",
        "self.act = nn.ReLU()",
        "08_gelu",
        "08_gelu: 0 ReLU calls, 54 GELU calls",
    ),
]
BASELINES = sorted({m.notebook for m in MUTATIONS})


def _outputs_text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            parts.append(str(out.data.get("text/plain", "")))
    return "".join(parts)


def _truncated(notebook: str, mutation: Mutation | None) -> nbformat.NotebookNode:
    """The stored notebook up to its last cell whose output shows the fact `mutation` breaks (for the unmutated
    baseline: any of its MUTATIONS' facts, so the baseline covers every case's prefix)."""
    nb = nbformat.read(ROOT / "notebooks" / f"{notebook}.ipynb", as_version=4)
    facts = [m.shown_in for m in MUTATIONS if m.notebook == notebook and mutation in (None, m)]
    showing = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and any(f in _outputs_text(c) for f in facts)]
    nb.cells = nb.cells[: max(showing, default=len(nb.cells) - 1) + 1]
    return nb


def _copy(dest: Path, notebook: str, mutation: Mutation | None) -> Path:
    """The package, one notebook (up to the cells the cases need) and the sanitizer in `dest`, with `mutation`
    applied to the package copy."""
    shutil.copytree(ROOT / PACKAGE, dest / PACKAGE, ignore=shutil.ignore_patterns("__pycache__"))
    (dest / "notebooks").mkdir()
    nbformat.write(_truncated(notebook, mutation), dest / "notebooks" / f"{notebook}.ipynb")
    shutil.copy(ROOT / "notebooks" / "sanitize.cfg", dest / "notebooks")
    if mutation is not None:
        target = dest / PACKAGE / mutation.file
        source = target.read_text()
        assert source.count(mutation.old) == 1, (
            f"re-target MUTATIONS[{mutation.name!r}]: {mutation.old!r} occurs {source.count(mutation.old)} times "
            f"in {PACKAGE}/{mutation.file}, not once"
        )
        target.write_text(source.replace(mutation.old, mutation.new))
    return dest / "notebooks" / f"{notebook}.ipynb"


def _env(copy_root: Path) -> dict[str, str]:
    env = dict(os.environ)
    # The kernel inherits this environment: the copy comes first on its path, before the installed package.
    env["PYTHONPATH"] = os.pathsep.join([str(copy_root), *filter(None, [env.get("PYTHONPATH")])])
    env.update(PYTHONHASHSEED="0", OMP_NUM_THREADS="1", PYDEVD_DISABLE_FILE_VALIDATION="1")
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTEST_XDIST_WORKER", None)
    return env


def _kernel_python() -> str:
    """The interpreter nbval's `python3` kernel runs on (the notebooks' kernelspec)."""
    from jupyter_client.kernelspec import KernelSpecManager

    argv0 = KernelSpecManager().get_kernel_spec("python3").argv[0]
    return shutil.which(argv0) or argv0


def _nbval(notebook: Path) -> tuple[int, set[int], str]:
    """Run strict nbval on `notebook`; returns pytest's exit code, the failed code cells (0-based), and its output."""
    root = notebook.parent.parent
    report = root / "report.xml"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "--nbval",
            "--nbval-sanitize-with",
            str(notebook.parent / "sanitize.cfg"),
            f"--junitxml={report}",
            str(notebook),
        ],
        cwd=root,
        env=_env(root),
        capture_output=True,
        text=True,
        timeout=600,
    )
    failed = set()
    if report.exists():
        for case in ET.parse(report).getroot().iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                failed.add(int(case.get("name").removeprefix("Cell ")))
    return proc.returncode, failed, proc.stdout[-3000:] + proc.stderr[-2000:]


def _results(tmp_root: str) -> dict[str, tuple[int, set[int], str]]:
    """Every baseline and every mutation run, in parallel (one nbval subprocess per core)."""
    jobs = {f"baseline-{nb}": _copy(Path(tmp_root) / f"baseline-{nb}", nb, None) for nb in BASELINES}
    jobs |= {m.name: _copy(Path(tmp_root) / m.name, m.notebook, m) for m in MUTATIONS}
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return dict(zip(jobs, pool.map(_nbval, jobs.values())))


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return _results(str(tmp_path_factory.mktemp("regressions")))


def test_kernel_imports_the_copy(tmp_path):
    (tmp_path / PACKAGE).mkdir()
    (tmp_path / PACKAGE / "__init__.py").write_text("")
    (tmp_path / "notebooks").mkdir()
    where = subprocess.run(
        [_kernel_python(), "-c", f"import {PACKAGE}; print({PACKAGE}.__file__)"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path / "notebooks",  # where nbval starts the kernel: only PYTHONPATH leads to the copy
    )
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).parent == tmp_path / PACKAGE, "the kernel would test the installed package"


@pytest.mark.slow
@pytest.mark.parametrize("notebook", BASELINES)
def test_unmutated_copy_passes(results, notebook):
    code, failed, output = results[f"baseline-{notebook}"]
    assert code == 0 and not failed, f"the unmutated copy of {notebook} fails nbval (cells {sorted(failed)}):\n{output}"


@pytest.mark.slow
@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: m.name)
def test_regression_fails_the_notebook(results, mutation):
    nb = nbformat.read(ROOT / "notebooks" / f"{mutation.notebook}.ipynb", as_version=4)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    showing = {i for i, c in enumerate(code_cells) if mutation.shown_in in _outputs_text(c)}
    assert showing, (
        f"re-target MUTATIONS[{mutation.name!r}]: no stored output of {mutation.notebook} shows {mutation.shown_in!r}"
    )
    code, failed, output = results[mutation.name]
    assert code != 0, f"{mutation.name}: nbval passed on {mutation.notebook} with the package edited\n{output}"
    assert failed & showing, (
        f"{mutation.name}: nbval failed in cells {sorted(failed)} but not in {sorted(showing)}, "
        f"those that show {mutation.shown_in!r}\n{output}"
    )
