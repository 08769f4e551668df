"""The notebook series' house rules, checked on the committed .ipynb files (nbval re-runs them separately).

One notebook per roadmap step (named by its STEP_ID) that imports its step from `convnext_steps` and defines no model
code of its own; every notebook committed executed top to bottom with the python3 kernelspec; nbval markers only
where allowed (output ignored on at most 10% of code cells, for timing; never skipped).
"""

import ast
import re
from pathlib import Path

import pytest
from notebook_files import NOTEBOOKS
from notebook_files import code_cells as _code_cells
from notebook_files import load as _load
from notebook_files import outputs as _outputs
from notebook_files import source as _source

from convnext_steps import STEP_IDS

EXTRA = ["13_roadmap_comparison", "14_common_pitfalls", "15_training_the_variants", "19_backbone_and_export"]


def _all_notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def test_one_notebook_per_step_in_order():
    names = [p.stem for p in _all_notebooks()]
    assert names[: len(STEP_IDS)] == list(STEP_IDS), "notebooks 00-12 must be named exactly by STEP_IDS"
    for name in EXTRA:
        assert name in names, f"missing notebooks/{name}.ipynb"


@pytest.mark.parametrize("step_id", STEP_IDS)
def test_step_notebook_imports_its_step_and_shows_its_change(step_id):
    from convnext_steps import get_step

    code = "\n".join(_source(c) for c in _code_cells(_load(NOTEBOOKS / f"{step_id}.ipynb")))
    assert re.search(r"^from convnext_steps\b.* import .*\bget_step\b", code, re.M), "imports get_step from the package"
    assert f'get_step("{step_id}")' in code, f'takes its step from the package: get_step("{step_id}")'
    if step_id == STEP_IDS[0]:
        assert "show_class(Bottleneck)" in code, "the starting point shows its block's code"
    else:
        assert "show_design_diff(step)" in code, "shows the step's design diff"
    step = get_step(step_id)
    if step.previous is not None:
        before, after = get_step(step.previous).config, step.config
        changed = {f for f in before.__dataclass_fields__ if getattr(before, f) != getattr(after, f)}
        if changed == {"depths"}:  # only blocks move between stages: the stages are drawn, not the unchanged block
            assert "stage_shapes_figure(" in code and "stage_share_figure(" in code
            return
    assert "step_diagram_figure(step)" in code and "show_trace(step" in code, "draws the block and traces its shapes"


# Exercises: asked unanswered, answers out of sight (notebooks/solutions/), none answered above itself ------------

_CHECK = re.compile(r'exercises\.check\("(\d\d\.\d+)", (\w+)\)')


def _exercise_notebooks() -> list[Path]:
    from convnext_steps.exercises import EXERCISES

    numbers = {e[:2] for e in EXERCISES}
    return [p for p in _all_notebooks() if p.stem[:2] in numbers]


@pytest.mark.parametrize("path", _exercise_notebooks(), ids=lambda p: p.stem)
def test_every_exercise_is_asked_unanswered_with_its_solution_apart(path):
    from convnext_steps.exercises import EXERCISES, BuildIt

    cells = _load(path)["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    markdown = "\n".join(_source(c) for c in cells if c["cell_type"] == "markdown")
    asked = {}
    for cell in code:
        for exercise, name in _CHECK.findall(_source(cell)):
            asked.setdefault(exercise, (cell, name))
    mine = sorted(e for e in EXERCISES if e.startswith(path.stem[:2]))
    assert sorted(asked) == mine, "every exercise of the notebook is asked, and only those"
    if path.stem in STEP_IDS:
        assert any(isinstance(EXERCISES[e], BuildIt) for e in mine), "each step notebook has a build-it exercise"
    solutions = NOTEBOOKS / "solutions" / path.name
    assert solutions.exists(), f"solutions live apart, in notebooks/solutions/{path.name}"
    solved = _load(solutions)["cells"]
    solved_text = "\n".join(_source(c) for c in solved if c["cell_type"] == "markdown")
    solved_outputs = "\n".join(_outputs(c) for c in solved if c["cell_type"] == "code")
    for exercise, (cell, name) in asked.items():
        shown = _outputs(cell)
        if isinstance(EXERCISES[exercise], BuildIt):
            assert shown.startswith(f"{exercise} not attempted yet: "), f"{exercise} is stored unattempted"
            skeleton = next(
                c for c in code if re.search(rf"^(class {name}\b|def {name}\b|{name} = )", _source(c), re.M)
            )  # the learner's cell: a class whose bodies are left to write, or a value still None
            assert "# your code here" in _source(skeleton), f"{exercise}: the skeleton says where to write"
        else:
            assert name == "answer" and "answer = None" in _source(cell), f"{exercise} asks for an answer"
            assert shown.startswith(f"{exercise} not answered yet: "), f"{exercise} is stored unanswered"
        assert f"Exercise {exercise}" in markdown, f"{exercise} has a heading"
        assert f"(solutions/{path.name}#exercise-{exercise})" in markdown, f"{exercise} links its solution"
        assert f'id="exercise-{exercise}"' in solved_text and f"Exercise {exercise}" in solved_text
        assert f"{exercise} right: " in solved_outputs, f"the stored solution of {exercise} passes its checker"
    for cell in code:
        assert not re.search(r"\b\d\d\.\d+ right: ", _outputs(cell)), "no answer is shown in a step notebook"
        for exercise in re.findall(r'exercises\.in_network\("(\d\d\.\d+)"', _source(cell)):
            assert _outputs(cell) == f"skipped: exercise {exercise} not solved yet"
    assert f"../{path.name}" in _source(solved[0]), "the solutions notebook links back"


def _renderings(value) -> list[str]:
    """How a numeric answer would read if a cell or a sentence gave it away (only unambiguous ones)."""
    if isinstance(value, bool) or isinstance(value, str):
        return []
    if isinstance(value, int):
        return [f"{value:,}", str(value)] if value >= 100 else []
    if isinstance(value, float):
        text = f"{value:g}"
        return [text] if len(text.replace(".", "").lstrip("0")) >= 3 else []
    if isinstance(value, tuple):
        return [str(value), "(" + ", ".join(f"{v:,}" if isinstance(v, int) else str(v) for v in value) + ")"]
    return []


@pytest.mark.parametrize("path", _exercise_notebooks(), ids=lambda p: p.stem)
def test_no_prediction_is_answered_above_itself(path):
    from convnext_steps.exercises import EXERCISES, Exercise, expected

    cells = _load(path)["cells"]
    for i, cell in enumerate(cells):
        for exercise, _ in _CHECK.findall(_source(cell)) if cell["cell_type"] == "code" else []:
            if not isinstance(EXERCISES[exercise], Exercise):
                continue
            above = "\n".join(_source(c) + "\n" + (_outputs(c) if c["cell_type"] == "code" else "") for c in cells[:i])
            for text in _renderings(expected(exercise)):
                assert re.search(rf"(?<![\d.,]){re.escape(text)}(?![\d,]|\.\d)", above) is None, (
                    f"{exercise}'s answer {text} stands above its question"
                )


@pytest.mark.parametrize("path", _all_notebooks(), ids=lambda p: p.stem)
def test_notebook_links_the_paper(path):
    text = "".join(_source(c) for c in _load(path)["cells"] if c["cell_type"] == "markdown")
    assert "https://arxiv.org/abs/2201.03545" in text


@pytest.mark.parametrize("step_id", STEP_IDS)
def test_step_notebook_prints_at_most_160_lines(step_id):
    cells = _code_cells(_load(NOTEBOOKS / f"{step_id}.ipynb"))
    lines = sum(
        len(_outputs(c).splitlines()) for c in cells if not c["metadata"].get("jupyter", {}).get("source_hidden")
    )
    assert lines <= 160, f"{lines} lines of text output"


@pytest.mark.parametrize("name", list(STEP_IDS) + EXTRA)
def test_notebook_defines_classes_only_as_exercises(name):
    """Model code lives in convnext_steps; a notebook defines a class only for the learner to write or fix, and hands
    it to its checker, whose stored verdict is "not attempted yet" (solutions live in notebooks/solutions/)."""
    code = _code_cells(_load(NOTEBOOKS / f"{name}.ipynb"))
    for i, cell in enumerate(code):
        tree = ast.parse(_source(cell))
        for cls in (node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef)):
            checks = [c for c in code[i:] if re.search(rf'exercises\.check\("(\d\d\.\d+)", {cls}\)', _source(c))]
            assert checks, f"{cls} is model code: it belongs in convnext_steps, or is an exercise handed to a checker"
            assert " not attempted yet: " in _outputs(checks[0]), f"{cls} is stored as the learner finds it"


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


def test_show_design_diff_and_trace_render_as_their_text():
    from convnext_steps import design_diff
    from convnext_steps.notebook import show_design_diff, show_trace
    from convnext_steps.trace import format_trace, trace_block

    shown = show_design_diff("07")
    assert repr(shown) == design_diff("07").rstrip("\n") and "0x" not in repr(shown)  # plain text: the diff itself
    assert shown._repr_markdown_().startswith("```diff\ndesign diff: 06_dwconv_up -> 07_kernel_7x7")
    assert repr(show_design_diff("05", "12")) == design_diff("05", "12").rstrip("\n")
    assert repr(show_trace("12")) == format_trace(trace_block("12"))


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
