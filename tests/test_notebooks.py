"""The notebook series' house rules, checked on the committed .ipynb files (nbval re-runs them separately).

One notebook per roadmap step (named by its STEP_ID) that imports its step from `convnext_steps` and defines no model
code of its own; every notebook committed executed top to bottom with the python3 kernelspec; nbval markers only
where allowed (output ignored on at most 10% of code cells, for timing; never skipped).
"""
import ast
import json
import re
from pathlib import Path

import pytest

from convnext_steps import STEP_IDS

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
EXTRA = ["13_roadmap_comparison", "14_common_pitfalls"]


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def _source(cell: dict) -> str:
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


def _all_notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def test_one_notebook_per_step_in_order():
    names = [p.stem for p in _all_notebooks()]
    assert names[: len(STEP_IDS)] == list(STEP_IDS), "notebooks 00-12 must be named exactly by STEP_IDS"
    for name in EXTRA:
        assert name in names, f"missing notebooks/{name}.ipynb"


@pytest.mark.parametrize("step_id", STEP_IDS)
def test_step_notebook_imports_its_step_and_shows_its_code(step_id):
    code = "\n".join(_source(c) for c in _code_cells(_load(NOTEBOOKS / f"{step_id}.ipynb")))
    assert re.search(r"^from convnext_steps\b.* import .*\bget_step\b", code, re.M), "imports get_step from the package"
    assert f'get_step("{step_id}")' in code, f"takes its step from the package: get_step(\"{step_id}\")"
    assert "show_diff(step)" in code or step_id == STEP_IDS[0], "shows the diff against the previous step"
    assert "show_source(step)" in code, "shows the step's source"


@pytest.mark.parametrize("name", list(STEP_IDS) + EXTRA)
def test_notebook_defines_no_model_classes(name):
    for cell in _code_cells(_load(NOTEBOOKS / f"{name}.ipynb")):
        tree = ast.parse(_source(cell))
        classes = [node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
        assert not classes, f"model code belongs in convnext_steps, not in the notebook (defines {classes})"


@pytest.mark.parametrize("path", _all_notebooks(), ids=lambda p: p.stem)
def test_executed_top_to_bottom_with_python3(path):
    nb = _load(path)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    counts = [c.get("execution_count") for c in _code_cells(nb)]
    assert counts and None not in counts, "every code cell executed"
    assert counts == list(range(1, len(counts) + 1)), f"executed once, top to bottom, in a fresh kernel: {counts}"
    for cell in _code_cells(nb):
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"cell {cell['execution_count']} raised"
            assert not (out["output_type"] == "stream" and out["name"] == "stderr"), (
                f"cell {cell['execution_count']} wrote to stderr: {out.get('text')!r:.200}"
            )


def test_nbval_markers():
    code_cells = [c for p in _all_notebooks() for c in _code_cells(_load(p))]
    ignored = [c for c in code_cells if "NBVAL_IGNORE_OUTPUT" in _source(c)]
    assert len(ignored) <= 0.10 * len(code_cells), f"{len(ignored)} of {len(code_cells)} code cells ignore their output"
    for c in code_cells:
        assert "NBVAL_SKIP" not in _source(c), "no cell may be skipped by nbval"
        assert "NBVAL_RAISES_EXCEPTION" not in _source(c)


# The helpers the notebooks print with ------------------------------------------------------------------------------

def test_show_diff_is_the_modules_diff():
    from convnext_steps.notebook import show_diff, show_source, step_diff, step_source

    diff = step_diff("01")
    assert diff.startswith("--- a/convnext_steps/step00_resnet50.py\n+++ b/convnext_steps/step01_stage_ratio.py\n")
    assert "+CONFIG = previous.CONFIG.replace(depths=(3, 3, 9, 3))\n" in diff
    shown = show_diff("01")
    assert repr(shown) == diff.rstrip("\n") and "0x" not in repr(shown)  # the plain-text fallback is the diff itself
    assert shown._repr_markdown_().startswith("```diff\n--- a/")
    assert show_source(0)._repr_markdown_() == "```python\n" + step_source(0).rstrip("\n") + "\n```"
    with pytest.raises(ValueError, match="starting point"):
        step_diff(0)


def test_format_table():
    from convnext_steps.notebook import format_table

    rows = [dict(id="00_resnet50", params=25557032, gmacs=4.0891, ok=True), dict(id="x", params=1, gmacs=0.5, ok=False)]
    assert format_table(rows).splitlines() == [
        "step             params  GMACs (ours)     ok",
        "00_resnet50  25,557,032         4.089   True",
        "x                     1         0.500  False",
    ]
    with pytest.raises(KeyError, match="latency_ms"):
        format_table(rows, ("id", "latency_ms"))


def test_effective_receptive_field_of_a_patchify_stem_is_its_patch():
    import torch

    from convnext_steps import build_model
    from convnext_steps.measure import effective_receptive_field, erf_extent

    erf = effective_receptive_field(build_model("02"), image_size=32, n_inputs=2, seed=0, stage=0)
    assert erf.shape == (32, 32)
    ys, xs = erf.nonzero().unbind(1)
    assert (ys.min().item(), ys.max().item(), xs.min().item(), xs.max().item()) == (16, 19, 16, 19)  # output (4, 4)
    point = torch.zeros(9, 9)
    point[4, 4] = 1.0
    assert erf_extent(point, 0.9) == 1
    with pytest.raises(ValueError, match="n_inputs"):
        effective_receptive_field(build_model("02"), n_inputs=0)
