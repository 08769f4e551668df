"""The browser check itself, checked on a small site built from a temp copy of the tree (`make site-test` runs this).

The copy holds notebooks 00, 05, 11 and 12 as committed, plus what the committed series may not have yet: a
solution notebook (solutions/05_...), an inline solution in prose and in code, math, a notebook 18, links with
HTML-id, GitHub-style and JupyterLab-style anchors, and a link inside an HTML output. First the check must pass on
that site; then, on a copy broken in seven ways a reader would notice, it must name each page and element.
Nothing is written to notebooks/.
"""

import importlib.util
import json
import os
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


build = _load("site_build", HERE / "build.py")
check = _load("site_check", HERE / "check.py")

CHROMIUM = check.find_chromium()
if CHROMIUM is None:
    if os.environ.get("SITE_TEST_SKIP_NO_BROWSER") == "1":
        pytest.skip("no Chromium (apt-get install chromium)", allow_module_level=True)
    raise RuntimeError("no Chromium found: apt-get install chromium (or SITE_TEST_SKIP_NO_BROWSER=1)")

STEP = "notebooks/05_inverted_bottleneck"
SOLUTION = "notebooks/solutions/99_fixture"


def _md(source: str, tags=()):
    cell = nbformat.v4.new_markdown_cell(source)
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def _code(source: str, outputs=(), tags=()):
    cell = nbformat.v4.new_code_cell(source, outputs=list(outputs))
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


KEEP = ("00", "05", "11", "12", "18")  # the notebooks copied (with their solutions, where they have them)
LINK = re.compile(r"((?:\.\./)?(?:solutions/)?)(\d+_[\w.-]+\.ipynb)(#[^)\s\"']*)?")


def _only_kept_links(folder: Path) -> None:
    """Links to notebooks left out of the copy lead to 00 instead (the copy is a subset, to build fast)."""
    for path in [*folder.glob("*.ipynb"), *folder.glob("solutions/*.ipynb")]:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "markdown":

                def keep(m, base=path.parent):
                    exists = (base / f"{m[1]}{m[2]}").is_file()
                    return m[0] if exists else f"{m[1].replace('solutions/', '')}00_resnet50.ipynb"

                cell.source = LINK.sub(keep, cell.source)
        nbformat.write(nb, path)


def _new_notebook(cells):
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = nbformat.read(ROOT / "notebooks" / "00_resnet50.ipynb", as_version=4).metadata  # kernel, language
    return nb


def _make_tree(root: Path) -> None:
    shutil.copy(ROOT / "README.md", root / "README.md")
    shutil.copy(ROOT / "LICENSE", root / "LICENSE")
    shutil.copytree(ROOT / "images", root / "images")
    shutil.copytree(ROOT / "docs", root / "docs")
    notebooks = root / "notebooks"
    (notebooks / "solutions").mkdir(parents=True)
    for prefix in KEEP:
        for path in [
            *(ROOT / "notebooks").glob(f"{prefix}_*.ipynb"),
            *(ROOT / "notebooks").glob(f"solutions/{prefix}_*.ipynb"),
        ]:
            shutil.copy(path, notebooks / path.relative_to(ROOT / "notebooks"))
    if not list(notebooks.glob("18_*.ipynb")):
        explorer = _new_notebook(
            [
                _md(
                    "# 18 · Design-space explorer\n\n[05's exercises](05_inverted_bottleneck.ipynb#Exercises) · "
                    "[the license](../LICENSE) (a download) · [the README](../README.md) (the home page)"
                )
            ]
        )
        nbformat.write(explorer, notebooks / "18_design_space_explorer.ipynb")
    _only_kept_links(notebooks)
    step = nbformat.read(notebooks / "05_inverted_bottleneck.ipynb", as_version=4)
    html = '<a href="12_separate_downsampling.ipynb">step 12</a> <span style="color:#b00">- removed</span>'
    step.cells += [
        _md(
            "## Exercise 05.9\n\nWrite it. [Solution](solutions/99_fixture.ipynb#exercise-05.9) · "
            "[up](#exercise-059) · [up, as JupyterLab writes it](#Exercise-05.9)"
        ),
        _code(
            "answer = 4 * 96  # solution",
            outputs=[nbformat.v4.new_output("stream", name="stdout", text="384\n")],
            tags=["solution"],
        ),
        _md("**Answer:** the expansion costs 4x the width; the shortcut costs nothing.", tags=["solution"]),
        _code("show()", outputs=[nbformat.v4.new_output("display_data", data={"text/html": html})]),
    ]
    nbformat.write(step, notebooks / "05_inverted_bottleneck.ipynb")
    solution = _new_notebook(
        [
            _md("# Solutions · 99 · A fixture\n\n[← the exercise](../05_inverted_bottleneck.ipynb#exercise-059)"),
            _md(
                '<a id="exercise-05.9"></a>\n\n## 05.9\n\nThe hidden width is $4C$, and LayerNorm computes\n\n'
                "$$y = \\frac{x - \\mu}{\\sqrt{\\sigma^2 + \\epsilon}}$$"
            ),
            _code(
                "answer = 4 * 384",
                outputs=[nbformat.v4.new_output("stream", name="stdout", text="1536\n")],
                tags=["solution"],
            ),
        ]
    )
    nbformat.write(solution, notebooks / "solutions" / "99_fixture.ipynb")


def _inline_solutions(root: Path) -> int:
    """Solution-tagged cells of the step notebooks: each must be behind a toggle."""
    return sum(
        "solution" in cell.metadata.get("tags", [])
        for path in (root / "notebooks").glob("*.ipynb")
        for cell in nbformat.read(path, as_version=4).cells
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("repo")
    _make_tree(root)
    staged = ROOT / "build" / "site-src" / "_roadmap.json"  # measured by `make site` already, if it ran
    roadmap = json.loads(staged.read_text()) if staged.is_file() else None
    build.build(root, root / "build" / "site", roadmap=roadmap)
    return root, root / "build" / "site"


def test_the_check_passes_on_a_site_with_solutions_math_and_new_notebooks(site):
    root, out = site
    shots = ROOT / "build" / "site-test" / "selftest"  # kept: the solution page, as the series will have them
    report = check.run(out, root, shots, CHROMIUM)
    assert report.failures == []
    pages = len(list(root.glob("notebooks/*.ipynb"))) + len(list(root.glob("notebooks/solutions/*.ipynb")))
    assert report.pages == 3 + pages + len(list(root.glob("docs/*.md")))  # + home, search, index of terms
    assert report.toggles == _inline_solutions(root) >= 2  # the added code and prose solutions at least
    assert report.math_pages == 1
    assert "notebooks/11_layernorm.html" in report.search_results
    assert {p.name for p in shots.glob("*.png")} == {
        "home.png",
        "step.png",
        "step-figure.png",
        "step-solution-opened.png",
        "solution.png",
    }
    page = (out / f"{STEP}.html").read_text()
    assert 'href="12_separate_downsampling.html"' in page  # the HTML output's link, pointed at the page
    assert (out / "_static" / "mathjax" / "tex-chtml.js").is_file()
    if not list((ROOT / "notebooks").glob("18_*.ipynb")):  # the fixture's 18: a download and the home page
        explorer = (out / "notebooks" / "18_design_space_explorer.html").read_text()
        assert re.search(r'href="\.\./_downloads/\w+/LICENSE"', explorer) and 'href="../index.html"' in explorer


def _break(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def test_the_check_names_the_page_and_element_of_each_failure(site, tmp_path):
    root, out = site
    broken = tmp_path / "site"
    shutil.copytree(out, broken)
    step = broken / f"{STEP}.html"
    text = step.read_text()
    image = next(p for p in (broken / "_images").iterdir() if p.name in text)
    image.unlink()  # 1. an image that does not load
    text = _break(text, '<details class="admonition hide above-input">', '<details open class="admonition hide">')
    text = _break(text, "</body>", "<script>console.error('boom')</script></body>")  # 3. a console error
    step.write_text(text)  # 2. a solution shown before its toggle is clicked
    solution = broken / f"{SOLUTION}.html"
    solution.write_text(_break(solution.read_text(), 'id="exercise-05.9"', 'id="exercise-5-9"'))  # 4. an anchor
    index = broken / "index.html"
    text = index.read_text()
    first, second = "notebooks/00_resnet50.html", "notebooks/05_inverted_bottleneck.html"
    nav = text[text.index('<nav class="bd-links') :]
    swapped = nav.replace(first, "@@").replace(second, first).replace("@@", second)
    index.write_text(text.replace(nav, swapped))  # 5. the sidebar out of order (and so previous/next)
    (broken / "searchindex.js").write_text("Search.setIndex({})")  # 6. search finds nothing
    text = solution.read_text()  # 7. no copy buttons: their script left out
    solution.write_text(re.sub(r'<script src="[^"]*copybutton\.js[^"]*"></script>', "", text, count=1))
    report = check.run(broken, root, tmp_path / "shots", CHROMIUM)
    text = "\n".join(report.failures)
    assert f"{STEP}.html: <img src='../_images/{image.name}'" in text and "did not load" in text
    assert f"{STEP}.html: request http://127.0.0.1:" in text  # the same image, as a failed request
    assert f"{STEP}.html: solution cell 1 of " in text and "visible before its toggle is clicked" in text
    assert f"{STEP}.html: console: boom" in text
    assert f"no element with id 'exercise-05.9' on {SOLUTION}.html" in text
    assert "index.html: sidebar (nav.bd-docs-nav): lists ['notebooks/05_inverted_bottleneck.html'," in text
    assert "search.html?q=LayerNorm: #search-results" in text
    assert f"{SOLUTION}.html: code cells: 1 of 1 have no copy button" in text
    assert len(report.failures) < 20, text  # each fault reported where it is, not everywhere
