"""Notebooks 16 and 17 (the extensions past the paper's roadmap) follow the step notebooks' house rules.

Each takes its step from the package, shows its design diff, block diagram and shape trace, defines no classes,
links the papers and prints a bounded amount of text; their exercises are checked with the other notebooks'
(tests/test_exercises_b.py). nbval re-runs them; tests/test_notebooks.py checks their execution order and stderr.
"""

import ast
import re

import pytest
from notebook_files import NOTEBOOKS, load
from notebook_files import outputs as _outputs
from notebook_files import source as _source

from convnext_steps import EXTENSION_IDS

EXTENSION_NOTEBOOKS = {"16_isotropic_convnext": "isotropic_s", "17_convnext_v2_grn": "v2_tiny"}
PAPERS = {
    "16_isotropic_convnext": ["https://arxiv.org/abs/2201.03545"],
    "17_convnext_v2_grn": ["https://arxiv.org/abs/2201.03545", "https://arxiv.org/abs/2301.00808"],
}


def _cells(name: str) -> list[dict]:
    return load(NOTEBOOKS / f"{name}.ipynb")["cells"]


def _code(name: str) -> list[dict]:
    return [c for c in _cells(name) if c["cell_type"] == "code"]


@pytest.mark.parametrize("name", EXTENSION_NOTEBOOKS)
def test_extension_notebook_imports_its_step_and_shows_its_change(name):
    step_id = EXTENSION_NOTEBOOKS[name]
    assert step_id in EXTENSION_IDS
    code = "\n".join(_source(c) for c in _code(name))
    assert re.search(r"^from convnext_steps\b.* import .*\bget_step\b", code, re.M), "imports get_step from the package"
    assert f'get_step("{step_id}")' in code and "previous = get_step(step.previous)" in code
    assert "show_design_diff(step)" in code, "shows the step's design diff against step 12"
    diff = next(c for c in _code(name) if _source(c) == "show_design_diff(step)")
    assert _outputs(diff).startswith(f"design diff: 12_separate_downsampling -> {step_id}")
    assert re.search(r"(step_diagram_figure\(step\)|block_diagram_figure\(\[previous, step\])", code)
    assert "show_trace(step" in code, "traces the block's shapes"


def _skeleton(cell: dict) -> bool:
    """An exercise skeleton: the learner's class, each of its bodies left to write (`raise NotImplementedError`)."""
    return "raise NotImplementedError  # your code here" in _source(cell)


@pytest.mark.parametrize("name", EXTENSION_NOTEBOOKS)
def test_extension_notebook_defines_no_classes_and_links_the_papers(name):
    for cell in _code(name):
        classes = [n.name for n in ast.walk(ast.parse(_source(cell))) if isinstance(n, ast.ClassDef)]
        assert not classes or _skeleton(cell), f"model code belongs in convnext_steps, not the notebook ({classes})"
    prose = "".join(_source(c) for c in _cells(name) if c["cell_type"] == "markdown")
    for link in PAPERS[name]:
        assert link in prose


@pytest.mark.parametrize("name", EXTENSION_NOTEBOOKS)
def test_extension_notebook_prints_at_most_160_lines(name):
    shown = [c for c in _code(name) if not c["metadata"].get("jupyter", {}).get("source_hidden")]
    assert sum(len(_outputs(c).splitlines()) for c in shown) <= 160


# Exercises (stored unanswered, solutions apart): tests/test_exercises_b.py checks notebooks 07-13, 16 and 17.


def test_notebook_16_sets_the_counts_beside_both_sources():
    text = "\n".join(_outputs(c) for c in _code("16_isotropic_convnext"))
    assert "parameters round to the published millions: True" in text
    assert "GMACs round to the published GFLOPs: True" in text
    assert "{'S': ((22, 4.3, 79.7), (22, 4.3, 78.7))}" in text  # the one place the paper and the README differ


def test_notebook_17_shows_timm_equality_and_what_grn_does():
    text = "\n".join(_outputs(c) for c in _code("17_convnext_v2_grn"))
    for fact in [
        "max |ours - timm| <= 1e-5: True",
        "same parameter count: True (28,635,496)",
        "one pixel: x * (1 + gamma * |x| / mean |x|) + beta (within 1e-6): True",
        "each channel's norm becomes norm * (1 + norm / mean norm): True",
    ]:
        assert fact in text, fact
    code = "\n".join(_source(c) for c in _code("17_convnext_v2_grn"))
    assert "SyntheticShapes(" in code and "plots.channel_norms_figure(" in code
