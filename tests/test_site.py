"""The website's machinery without building it (make site-test builds it and reads it in Chromium).

Each test here works on a small copy of the tree in a temp folder: which pages the sidebar lists and in what order,
how notebook links are checked (a broken one stops `make site` naming the notebook and the link), what staging does
to solution cells and anchors, and how links inside HTML outputs are pointed at the pages.
"""

import importlib.util
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("site_build", ROOT / "tools" / "site" / "build.py")
build = importlib.util.module_from_spec(_spec)  # tools/site/build.py, under a name no installed package has
sys.modules["site_build"] = build
_spec.loader.exec_module(build)


def _notebook(path: Path, *cells) -> Path:
    """A notebook of ("md" | "code", source[, tags][, outputs]) cells."""
    nb = nbformat.v4.new_notebook()
    for kind, source, *rest in cells:
        tags = rest[0] if rest else []
        if kind == "md":
            cell = nbformat.v4.new_markdown_cell(source)
        else:
            cell = nbformat.v4.new_code_cell(source, outputs=rest[1] if len(rest) > 1 else [])
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


@pytest.fixture
def tree(tmp_path):
    """A repository with four notebooks, one solution notebook and one doc, every link good."""
    nbs = tmp_path / "notebooks"
    _notebook(nbs / "00_start.ipynb", ("md", "# 00 · Start\n\n[next](01_next.ipynb) · [index](00_start.ipynb)"))
    _notebook(
        nbs / "01_next.ipynb",
        ("md", "# 01 · Next\n\n## Exercise 01.1\n\nDo it. [solution](solutions/01_next.ipynb#exercise-01.1)"),
        ("code", "check(answer)", ["solution"]),
        ("md", "The answer is 42.", ["solution"]),
        ("md", "[back](#exercise-011) [lab style](#Exercise-01.1) [training](../docs/training.md)"),
    )
    _notebook(nbs / "13_compare.ipynb", ("md", "# 13 · Compare\n\n[an 01 exercise](01_next.ipynb#Exercise-01.1)"))
    _notebook(nbs / "18_explore.ipynb", ("md", "# 18 · Explore\n\n`[not a link](nowhere.ipynb)`"))
    _notebook(
        nbs / "solutions" / "01_next.ipynb",
        ("md", '# Solutions · 01\n\n<a id="exercise-01.1"></a>\n\n### 01.1\n\n[the exercise](../01_next.ipynb)'),
        ("code", "check(42)", ["solution"]),
    )
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "training.md").write_text("# Training\n\nText.\n")
    return tmp_path


def _md(path: Path, index: int, source: str) -> None:
    nb = nbformat.read(path, as_version=4)
    nb.cells[index].source = source
    nbformat.write(nb, path)


def test_series_order_is_by_number_and_sections_follow_it(tree):
    _notebook(tree / "notebooks" / "02_b.ipynb", ("md", "# 02"))
    _notebook(tree / "notebooks" / "100_late.ipynb", ("md", "# 100"))
    (tree / "notebooks" / "scratch.ipynb").write_text((tree / "notebooks" / "00_start.ipynb").read_text())
    assert [p.name for p in build.series(tree / "notebooks")] == [
        "00_start.ipynb",
        "01_next.ipynb",
        "02_b.ipynb",
        "13_compare.ipynb",
        "18_explore.ipynb",
        "100_late.ipynb",  # by number, not by name ("100" < "13" as text); unnumbered ones are not pages
    ]
    layout = [(caption, [p.as_posix() for p in paths]) for caption, paths in build.sections(tree)]
    assert layout == [
        (
            "Steps: ResNet-50 to ConvNeXt",
            ["notebooks/00_start.ipynb", "notebooks/01_next.ipynb", "notebooks/02_b.ipynb"],
        ),
        ("Comparison", ["notebooks/13_compare.ipynb"]),
        ("Explorer and reuse", ["notebooks/18_explore.ipynb"]),
        ("More", ["notebooks/100_late.ipynb"]),
        ("Solutions", ["notebooks/solutions/01_next.ipynb"]),
        ("Reference", ["docs/training.md"]),
    ]


def test_the_committed_notebooks_have_no_broken_link():
    assert build.check_links(ROOT) == []


def test_good_links_pass_html_ids_jupyterlab_and_github_anchors_and_code_is_not_a_link(tree):
    assert build.check_links(tree) == []


@pytest.mark.parametrize(
    ("where", "index", "source", "expected"),
    [
        (
            "notebooks/00_start.ipynb",
            0,
            "# 00\n\n[12 · Downsampling](12_separate_downsampling.ipynb)",
            "notebooks/00_start.ipynb (cell 0): broken link [12 · Downsampling](12_separate_downsampling.ipynb): "
            "there is no notebooks/12_separate_downsampling.ipynb",
        ),
        (
            "notebooks/01_next.ipynb",
            3,
            "[solution](solutions/01_next.ipynb#exercise-01.2)",
            "notebooks/01_next.ipynb (cell 3): broken link [solution](solutions/01_next.ipynb#exercise-01.2): "
            "no heading or id 'exercise-01.2' in notebooks/solutions/01_next.ipynb",
        ),
        (
            "notebooks/13_compare.ipynb",
            0,
            "# 13\n\n[up](#nowhere)",
            "notebooks/13_compare.ipynb (cell 0): broken link [up](#nowhere): no heading or id 'nowhere' on this page",
        ),
        (
            "notebooks/18_explore.ipynb",
            0,
            '# 18\n\n<a href="../../outside.ipynb">out</a>',
            "notebooks/18_explore.ipynb (cell 0): broken link <a href='../../outside.ipynb'>: "
            "it points outside the repository",
        ),
        (
            "notebooks/18_explore.ipynb",
            0,
            "# 18\n\n![the roadmap](../images/missing.png)",
            "notebooks/18_explore.ipynb (cell 0): broken link ![the roadmap](../images/missing.png): "
            "there is no images/missing.png",
        ),
    ],
)
def test_a_broken_link_is_named_with_its_notebook_cell_and_target(tree, where, index, source, expected):
    _md(tree / where, index, source)
    assert build.check_links(tree) == [expected]


def test_a_link_in_an_output_is_checked_too(tree):
    output = nbformat.v4.new_output("display_data", data={"text/html": '<a href="14_gone.ipynb">14</a>'})
    _notebook(tree / "notebooks" / "14_pit.ipynb", ("md", "# 14"), ("code", "show()", [], [output]))
    assert build.check_links(tree) == [
        "notebooks/14_pit.ipynb (cell 1 output): broken link <a href='14_gone.ipynb'>: there is no "
        "notebooks/14_gone.ipynb"
    ]


def test_make_site_on_a_broken_link_fails_naming_the_notebook_and_the_link(tree, capsys):
    _md(
        tree / "notebooks" / "13_compare.ipynb", 0, "# 13\n\nSee [step 12](12_separate_downsampling.ipynb#layer-scale)."
    )
    assert build.main(["--root", str(tree), "--out", str(tree / "build" / "site")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "make site: notebooks/13_compare.ipynb (cell 0): broken link [step 12](12_separate_downsampling.ipynb"
        "#layer-scale): there is no notebooks/12_separate_downsampling.ipynb"
    ]
    assert not (tree / "build" / "site").exists()  # nothing built, nothing half-written


def test_staging_hides_inline_solutions_shows_solution_pages_and_adds_jupyterlab_anchors(tree):
    src = tree / "build" / "src"
    for path in ("notebooks/01_next.ipynb", "notebooks/solutions/01_next.ipynb"):
        build._stage_notebook(Path(path), tree, src)
    step = nbformat.read(src / "notebooks" / "01_next.ipynb", as_version=4)
    assert "hide-cell" in step.cells[1].metadata["tags"]
    assert step.cells[1].metadata["mystnb"] == {
        "code_prompt_show": "Show solution",
        "code_prompt_hide": "Hide solution",
    }
    assert step.cells[2].source.startswith(":::{admonition} Solution\n:class: dropdown solution\n")
    assert "The answer is 42." in step.cells[2].source
    assert '<span id="Exercise-01.1"></span>\n\n## Exercise 01.1' in step.cells[0].source
    assert step.cells[0].source.startswith("# 01 · Next\n")  # the page's title gets no span before it
    solution = nbformat.read(src / "notebooks" / "solutions" / "01_next.ipynb", as_version=4)
    assert "hide-cell" not in solution.cells[1].metadata["tags"]  # a solution page shows its solutions
    original = nbformat.read(tree / "notebooks" / "01_next.ipynb", as_version=4)
    assert original.cells[1].metadata["tags"] == ["solution"]  # the notebook itself is untouched


def test_links_in_html_outputs_are_pointed_at_existing_pages_only(tmp_path):
    (tmp_path / "notebooks" / "solutions").mkdir(parents=True)
    (tmp_path / "notebooks" / "12_x.html").write_text("page")
    page = tmp_path / "notebooks" / "solutions" / "12_x.html"
    page.write_text(
        '<a href="../12_x.ipynb#layer-scale">a</a> <a href="../../_sources/notebooks/12_x.ipynb">b</a> '
        '<a href="https://example.org/12_x.ipynb">c</a> <a href="13_y.ipynb">d</a>'
    )
    build._point_html_outputs_at_pages(tmp_path)
    assert page.read_text() == (
        '<a href="../12_x.html#layer-scale">a</a> <a href="../../_sources/notebooks/12_x.ipynb">b</a> '
        '<a href="https://example.org/12_x.ipynb">c</a> <a href="13_y.ipynb">d</a>'
    )


def test_home_page_table_comes_from_the_package_rows_linked_to_their_notebooks(tree):
    shutil.copy(ROOT / "README.md", tree / "README.md")
    roadmap = {
        "image_size": 224,
        "steps": [
            {
                "id": "01_next",
                "title": "Next",
                "change": "a | b",
                "params": 28589128,
                "gmacs": 4.455531264,
                "paper_gflops": 4.49,
                "paper_top1": 81.97,
            }
        ],
        "extensions": [
            {"id": "explore_s", "change": "c", "params": 1e6, "gmacs": 1.0, "paper_gflops": 1.0, "paper_top1": 70.0}
        ],
    }
    page = build.home_page(tree, build.sections(tree), roadmap)
    assert "| [01](notebooks/01_next.ipynb) | **Next**: a \\| b | 28.59 | 4.46 | 4.49 | 81.97 |" in page
    assert "| [explore_s](notebooks/18_explore.ipynb) | c | 1.00 | 1.00 | 1.0 | 70.0 |" in page
    assert build._readme_pitch(ROOT) in page and "(images/roadmap.png)" in page
    assert ":caption: Solutions\n:hidden:\n\nnotebooks/solutions/01_next.ipynb\n" in page
    assert "solution is on its own page under *Solutions*" in page
    shutil.rmtree(tree / "notebooks" / "solutions")
    page = build.home_page(tree, build.sections(tree), roadmap)
    assert ":caption: Solutions" not in page and "solution sits behind a *Show solution* toggle" in page


def test_links_to_repository_files_become_downloads_the_readme_the_home_page_folders_need_an_address(tree):
    (tree / "convnext_steps").mkdir()
    (tree / "convnext_steps" / "fast.py").write_text("x = 1\n")
    (tree / "README.md").write_text("# r\n")
    _md(
        tree / "notebooks" / "18_explore.ipynb",
        0,
        "# 18\n\n[fast.py](../convnext_steps/fast.py) [README](../README.md#citing) "
        '<a href="../convnext_steps/">the package</a>',
    )
    assert build.check_links(tree, repo_url="") == [
        "notebooks/18_explore.ipynb (cell 0): broken link <a href='../convnext_steps/'>: convnext_steps is not a page "
        "of the series (with SITE_REPOSITORY_URL set, such links lead to the repository on the web)"
    ]
    assert build.check_links(tree, repo_url="https://github.com/o/r") == []
    src = tree / "build" / "src"
    pages = {p for _, paths in build.sections(tree) for p in paths}
    markdown = nbformat.read(tree / "notebooks" / "18_explore.ipynb", as_version=4).cells[0].source
    page = Path("notebooks/18_explore.ipynb")
    assert build._point_repo_links(markdown, page, tree, pages, src, "") == (
        "# 18\n\n[fast.py](../convnext_steps/fast.py) [README](../index.md) "
        '<a href="../convnext_steps/">the package</a>'
    )
    assert (src / "convnext_steps" / "fast.py").read_text() == "x = 1\n"  # beside the pages, as a download
    assert build._point_repo_links(markdown, page, tree, pages, src, "https://github.com/o/r") == (
        "# 18\n\n[fast.py](../convnext_steps/fast.py) [README](https://github.com/o/r/blob/main/README.md#citing) "
        '<a href="https://github.com/o/r/tree/main/convnext_steps">the package</a>'
    )
