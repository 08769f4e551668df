"""`make site`: the notebook series as a static website, from the notebooks' stored outputs (never re-executed).

    python tools/site/build.py                 # -> build/site/index.html (the last line printed)
    python tools/site/build.py --out DIR       # elsewhere

Whatever notebooks exist are picked up: notebooks/NN_*.ipynb in number order, notebooks/solutions/NN_*.ipynb, and
docs/*.md. The sources are staged in build/site-src (the notebooks copied, never changed in place) and rendered by
Sphinx with MyST-NB and sphinx-book-theme (tools/site/conf.py). Staging does four things to the copies:

- every link to a notebook (`[12 · ...](12_separate_downsampling.ipynb#anchor)`) is checked first: the notebook
  must exist and the anchor be a heading or an HTML id in it, else the build stops naming the notebook and the link;
- a cell tagged `solution` in a step notebook goes behind a "Show solution" toggle (solution pages show theirs);
- JupyterLab's heading anchors (`#Exercise-05.1`) get an id on the page, beside the GitHub-style one MyST makes;
- the home page is written from README.md's pitch and `python -m convnext_steps roadmap --json`.

After Sphinx, links to notebooks inside HTML outputs are pointed at the pages too.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import nbformat

ROOT = Path(__file__).resolve().parents[2]
CONF_DIR = Path(__file__).resolve().parent

NUMBERED = re.compile(r"^(\d+)_[\w.-]+\.ipynb$")
# The sidebar's sections, by notebook number; numbers beyond these land in "More".
SECTIONS = [
    ("Steps: ResNet-50 to ConvNeXt", range(0, 13)),
    ("Comparison", (13,)),
    ("Pitfalls", (14,)),
    ("Training", (15,)),
    ("Extensions", (16, 17)),
    ("Explorer and reuse", (18, 19)),
]
SOLUTION_TAG = "solution"

# [text](target "title") and ![alt](target), not inside code; <a href="..."> and <img src="...">; <x id="...">.
MD_LINK = re.compile(r"(!?)\[((?:[^\[\]\n]|\[[^\]\n]*\])*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_LINK = re.compile(r"""<(a|img)\b[^>]*?\b(href|src)\s*=\s*["']([^"']+)["']""", re.I)
HTML_ID = re.compile(r"""\b(?:id|name)\s*=\s*["']([^"']+)["']""", re.I)
MYST_LABEL = re.compile(r"^\(([^)\s]+)\)=\s*$", re.M)
HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.M)
FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.M | re.S)
CODE_SPAN = re.compile(r"(`+)(?!`).+?(?<!`)\1", re.S)


class SiteError(Exception):
    """What stops the build: one line per problem, naming the notebook and the link."""


def number(path: Path) -> int:
    return int(NUMBERED.match(path.name)[1])


def series(folder: Path) -> list[Path]:
    """The numbered notebooks of a folder in series order (by number, then name)."""
    return sorted((p for p in folder.glob("*.ipynb") if NUMBERED.match(p.name)), key=lambda p: (number(p), p.name))


def sections(root: Path = ROOT) -> list[tuple[str, list[Path]]]:
    """The sidebar: (caption, repo-relative paths), in reading order; empty sections left out."""
    notebooks = series(root / "notebooks")
    out, placed = [], set()
    for caption, numbers in SECTIONS:
        paths = [p for p in notebooks if number(p) in numbers]
        placed.update(paths)
        out.append((caption, paths))
    out.append(("More", [p for p in notebooks if p not in placed]))
    out.append(("Solutions", series(root / "notebooks" / "solutions")))
    out.append(("Reference", sorted((root / "docs").glob("*.md"))))
    return [(caption, [p.relative_to(root) for p in paths]) for caption, paths in out if paths]


def _text(value) -> str:
    return value if isinstance(value, str) else "".join(value)


def _strip_code(markdown: str) -> str:
    """Markdown without fenced blocks and code spans, where brackets and ids are code, not links."""
    return CODE_SPAN.sub("", FENCE.sub("", markdown))


def github_slug(text: str) -> str:
    """The anchor MyST (and GitHub) gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"[`*_]{1,3}(?=\S)|(?<=\S)[`*_]{1,3}", "", text)  # emphasis and code marks
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link's text
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def jupyterlab_slug(text: str) -> str:
    """The anchor JupyterLab gives a heading: its rendered text with spaces to hyphens, case kept."""
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"[`*]{1,3}(?=\S)|(?<=\S)[`*]{1,3}", "", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return html.unescape(text.strip()).replace(" ", "-")


@dataclass
class Source:
    """One page's source, as far as links go: what it links to and what anchors it has."""

    path: Path  # repo-relative
    links: list[tuple[str, str, str]] = field(default_factory=list)  # (where, shown text, target)
    anchors: set[str] = field(default_factory=set)


def _scan_markdown(source: Source, markdown: str, where: str) -> None:
    plain = _strip_code(markdown)
    for bang, text, target in MD_LINK.findall(plain):
        source.links.append((where, f"{bang}[{text}]({target})", target))
    for tag, _attr, target in HTML_LINK.findall(plain):
        source.links.append((where, f"<{tag} {_attr}={target!r}>", target))
    source.anchors.update(HTML_ID.findall(plain))
    source.anchors.update(MYST_LABEL.findall(plain))
    for _hashes, title in HEADING.findall(plain):
        source.anchors.update({github_slug(title), jupyterlab_slug(title)})


def scan(path: Path, root: Path = ROOT) -> Source:
    """Links and anchors of a notebook (markdown cells, markdown and HTML outputs) or a markdown page."""
    source = Source(path)
    if path.suffix == ".md":
        _scan_markdown(source, (root / path).read_text(encoding="utf-8"), "")
        return source
    nb = nbformat.read(root / path, as_version=4)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            _scan_markdown(source, _text(cell.source), f"cell {index}")
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            for mime in ("text/markdown", "text/html"):
                if mime in data:
                    _scan_markdown(source, _text(data[mime]), f"cell {index} output")
    return source


def _is_external(target: str) -> bool:
    return bool(re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target)) or target.startswith("//")


def repository_url() -> str:
    """Where the repository is on the web (pages.yml sets it), for links to files that are not pages; or ""."""
    return os.environ.get("SITE_REPOSITORY_URL", "").rstrip("/")


def _linked(page: Path, file_part: str) -> PurePosixPath:
    return PurePosixPath(os.path.normpath(PurePosixPath(page.parent.as_posix(), file_part)))


def check_links(root: Path = ROOT, repo_url: str | None = None) -> list[str]:
    """Every relative link and anchor of every page, checked; the problems, one line each (none: all resolve).

    A link may lead to a page (a notebook of the series or a doc), to a heading or HTML id on one, to a file of the
    repository (the site offers it as a download), or to README.md (the home page, or GitHub's copy where the
    repository's address is known); to a folder or another markdown file only where that address is known.
    """
    repo_url = repository_url() if repo_url is None else repo_url
    pages = [p for _, paths in sections(root) for p in paths]
    sources = {p: scan(p, root) for p in pages}
    problems = []
    for page, source in sources.items():
        for where, shown, target in source.links:
            if _is_external(target):
                continue
            file_part, _, anchor = target.partition("#")
            name = f"{page}" + (f" ({where})" if where else "")
            if not file_part:  # an anchor on the same page
                if anchor and anchor not in source.anchors:
                    problems.append(f"{name}: broken link {shown}: no heading or id {anchor!r} on this page")
                continue
            linked = _linked(page, file_part)
            if linked.parts and linked.parts[0] == "..":
                problems.append(f"{name}: broken link {shown}: it points outside the repository")
                continue
            linked_path = Path(linked)
            if not (root / linked_path).exists():
                problems.append(f"{name}: broken link {shown}: there is no {linked}")
                continue
            is_page = linked_path in sources
            elsewhere = (root / linked_path).is_dir() or linked_path.suffix in (".ipynb", ".md")
            if not is_page and elsewhere and linked != PurePosixPath("README.md") and not repo_url:
                problems.append(
                    f"{name}: broken link {shown}: {linked} is not a page of the series (with SITE_REPOSITORY_URL "
                    "set, such links lead to the repository on the web)"
                )
                continue
            if anchor and is_page and anchor not in sources[linked_path].anchors:
                problems.append(f"{name}: broken link {shown}: no heading or id {anchor!r} in {linked}")
    return problems


def _point_repo_links(markdown: str, page: Path, root: Path, pages: set[Path], dest: Path, repo_url: str) -> str:
    """Links to what is not a page: files copied beside the pages (downloads), the rest to the repository."""
    branch = os.environ.get("SITE_REPOSITORY_BRANCH", "main")

    def point(target: str) -> str:
        file_part, hash_, anchor = target.partition("#")
        if _is_external(target) or not file_part:
            return target
        linked = _linked(page, file_part)
        path = Path(linked)
        if path in pages or not (root / path).exists() or linked.parts[:1] == ("images",):
            return target  # pages, images (staged whole) and broken links (check_links names those) as written
        if (root / path).is_dir() or path.suffix in (".ipynb", ".md"):
            if repo_url:
                kind = "tree" if (root / path).is_dir() else "blob"
                return f"{repo_url}/{kind}/{branch}/{linked}{hash_}{anchor}"
            if linked == PurePosixPath("README.md"):  # its pitch opens the home page
                return os.path.relpath("index.md", page.parent.as_posix())
            return target
        (dest / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / path, dest / path)  # MyST offers a linked file as a download
        return target

    def md_link(m: re.Match) -> str:
        return m[0].replace(f"({m[3]}", f"({point(m[3])}", 1) if m[1] != "!" else m[0]

    def html_link(m: re.Match) -> str:
        return m[0][: -len(m[3]) - 1] + point(m[3]) + m[0][-1] if m[1].lower() == "a" else m[0]

    return HTML_LINK.sub(html_link, MD_LINK.sub(md_link, markdown))


def _stage_notebook(path: Path, root: Path, dest: Path, pages: set[Path] | None = None) -> None:
    """Copy a notebook into the staging tree, with its solutions behind toggles and JupyterLab anchors added."""
    pages = {p for _, paths in sections(root) for p in paths} if pages is None else pages
    nb = nbformat.read(root / path, as_version=4)
    is_solution_page = "solutions" in path.parts
    for cell in nb.cells:
        meta = cell.setdefault("metadata", {})
        tags = list(meta.get("tags", []))
        hidden = meta.get("jupyter", {}).get("source_hidden", False)
        if cell.cell_type == "code" and SOLUTION_TAG in tags and not is_solution_page:
            tags.append("hide-cell")
            meta.setdefault("mystnb", {}).update(code_prompt_show="Show solution", code_prompt_hide="Hide solution")
        elif cell.cell_type == "code" and hidden:
            tags.append("hide-input")  # collapsed in JupyterLab: collapsed here too
        elif cell.cell_type == "markdown" and SOLUTION_TAG in tags and not is_solution_page:
            body = _text(cell.source)
            cell.source = f":::{{admonition}} Solution\n:class: dropdown solution\n\n{body}\n:::\n"
        if tags:
            meta["tags"] = tags
        if cell.cell_type == "markdown":
            cell.source = _add_jupyterlab_anchors(_text(cell.source))
            cell.source = _point_repo_links(cell.source, path, root, pages, dest, repository_url())
    (dest / path).parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dest / path)


def _add_jupyterlab_anchors(markdown: str) -> str:
    """Before each heading (but a page's title) an empty span with JupyterLab's anchor, where it differs."""
    fences = [m.span() for m in FENCE.finditer(markdown)]

    def anchor(match: re.Match) -> str:
        if len(match[1]) == 1 or any(a <= match.start() < b for a, b in fences):
            return match[0]
        lab = jupyterlab_slug(match[2])
        if lab == github_slug(match[2]) or not lab:
            return match[0]
        return f'<span id="{html.escape(lab, quote=True)}"></span>\n\n{match[0]}'

    return HEADING.sub(anchor, markdown)


def _readme_pitch(root: Path) -> str:
    """README.md's opening paragraph (the pitch), so that it is written once."""
    blocks = (root / "README.md").read_text(encoding="utf-8").split("\n\n")
    return next(b for b in blocks[1:] if b.strip() and not b.startswith(("#", "```", "!")))


def _roadmap(root: Path) -> dict:
    run = subprocess.run(
        [sys.executable, "-m", "convnext_steps", "roadmap", "--json", "--no-sweep"],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    if run.returncode != 0:
        raise SiteError(f"python -m convnext_steps roadmap --json failed: {run.stderr.strip()[-500:]}")
    return json.loads(run.stdout)


def _cell(value) -> str:
    return str(value).replace("|", "\\|")


def roadmap_table(roadmap: dict, notebooks: list[Path]) -> str:
    """The roadmap as measured by the package, each row linked to its notebook where there is one."""

    def page_of(row_id: str) -> str | None:
        for path in notebooks:
            stem = path.stem
            if stem == row_id or row_id.split("_")[0] in stem.split("_")[1:]:
                return path.as_posix()
        return None

    def paper(value, roadmap_step: bool) -> str:
        # The paper's Table 10 prints two decimals (80.50); published extension figures are kept as printed.
        return f"{value:.2f}" if roadmap_step and isinstance(value, float) else _cell(value)

    def row(step: dict, roadmap_step: bool = False) -> str:
        target = page_of(step["id"])
        number = step["id"].split("_")[0]
        label = number if number.isdigit() else step["id"]  # the roadmap's steps by number, extensions by id
        name = f"[{label}]({target})" if target else label
        what = f"**{_cell(step['title'])}**: {_cell(step['change'])}" if step.get("title") else _cell(step["change"])
        return (
            f"| {name} | {what} | {step['params'] / 1e6:.2f} | {step['gmacs']:.2f} "
            f"| {paper(step['paper_gflops'], roadmap_step)} | {paper(step['paper_top1'], roadmap_step)} |"
        )

    lines = [
        "| step | what changes | params (M) | GMACs (ours) | GFLOPs (paper) | top-1 (paper) |",
        "|---|---|---:|---:|---:|---:|",
        *(row(s, roadmap_step=True) for s in roadmap["steps"]),
    ]
    if roadmap.get("extensions"):
        lines.append("| | *past the paper's roadmap* | | | *published* | *published* |")
        lines.extend(row(s) for s in roadmap["extensions"])
    return "\n".join(lines)


def home_page(root: Path, layout: list[tuple[str, list[Path]]], roadmap: dict) -> str:
    notebooks = [p for caption, paths in layout if caption not in ("Solutions", "Reference") for p in paths]
    toctrees = "\n\n".join(
        f"```{{toctree}}\n:caption: {caption}\n:hidden:\n\n" + "\n".join(p.as_posix() for p in paths) + "\n```"
        for caption, paths in layout
    )
    first = notebooks[0].as_posix() if notebooks else None
    has_pages = any(caption == "Solutions" for caption, _ in layout)
    solutions = (
        "each exercise's solution is on its own page under *Solutions*, and behind a *Show solution* toggle "
        "wherever a page shows one"
        if has_pages
        else "each exercise's solution sits behind a *Show solution* toggle, closed until you open it"
    )
    start = f"Start with [the first notebook]({first}) and follow the *next* links, or" if first else "Pick"
    return f"""# convnext-steps

{_readme_pitch(root)}

{start} pick any page from the sidebar. Each page is the notebook as it is stored (the outputs that CI re-runs
and compares with nbval), exercises included; {solutions}.

![The roadmap: the paper's top-1 per step, with the paper's GFLOPs and our measured GMACs](images/roadmap.png)

## The roadmap, measured

Written by `python -m convnext_steps roadmap` when this site was built ({roadmap["image_size"]}x{roadmap["image_size"]};
GMACs counted with `torch.utils.flop_counter`; top-1 is the paper's ImageNet-1K figure):

```{{table}}
:class: roadmap-table

{roadmap_table(roadmap, notebooks)}
```

## Run the notebooks yourself

Python 3.11 and pip are all it needs; `make` creates `.venv` on first use.

```
make lab       # JupyterLab on notebooks/, with the project's environment: run, change, and do the exercises
make test      # every notebook re-run under strict nbval (with the unit tests)
make site      # this website, from the notebooks' stored outputs, into build/site/
```

{toctrees}
"""


def stage(root: Path, src: Path, roadmap: dict | None = None) -> list[tuple[str, list[Path]]]:
    problems = check_links(root)
    if problems:
        raise SiteError("\n".join(problems))
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    layout = sections(root)
    pages = {p for _, paths in layout for p in paths}
    for _, paths in layout:
        for path in paths:
            if path.suffix == ".ipynb":
                _stage_notebook(path, root, src, pages)
            else:
                (src / path).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(root / path, src / path)
    shutil.copytree(root / "images", src / "images")
    roadmap = roadmap or _roadmap(root)
    (src / "index.md").write_text(home_page(root, layout, roadmap), encoding="utf-8")
    (src / "_roadmap.json").write_text(json.dumps(roadmap, indent=1), encoding="utf-8")  # what the table shows
    return layout


def _point_html_outputs_at_pages(out: Path) -> None:
    """Links to notebooks inside HTML outputs (which MyST leaves as written) now lead to the pages."""
    link = re.compile(r'href="([^"#:]+)\.ipynb(#[^"]*)?"')
    for page in out.rglob("*.html"):
        text = page.read_text(encoding="utf-8")

        def to_page(match: re.Match, page: Path = page) -> str:
            target = (page.parent / f"{match[1]}.html").resolve()
            return f'href="{match[1]}.html{match[2] or ""}"' if target.is_file() else match[0]

        new = link.sub(to_page, text)
        if new != text:
            page.write_text(new, encoding="utf-8")


def build(root: Path, out: Path, quiet: bool = True, roadmap: dict | None = None) -> Path:
    """Stage, check and render; returns the site's index.html. roadmap: the package's table, if measured already."""
    work = out.parent
    src, doctrees = work / f"{out.name}-src", work / f"{out.name}-doctrees"
    stage(root, src, roadmap)
    for folder in (out, doctrees):
        if folder.exists():
            shutil.rmtree(folder)
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-E", "-W", "--keep-going", "-j", "1"]
    command += ["-c", str(CONF_DIR), "-d", str(doctrees), str(src), str(out)]
    if quiet:
        command.append("-q")
    env = {**os.environ, "SOURCE_DATE_EPOCH": "0", "PYTHONHASHSEED": "0"}
    run = subprocess.run(command, env=env)
    if run.returncode != 0:
        shutil.rmtree(out, ignore_errors=True)  # no half-built site left to pass for a built one
        raise SiteError(f"sphinx-build failed (exit {run.returncode}); its messages are above")
    _point_html_outputs_at_pages(out)
    (out / ".buildinfo").unlink(missing_ok=True)  # Sphinx's cache key, not part of the site
    return out / "index.html"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository to build (default: this one)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: ROOT/build/site)")
    parser.add_argument("--verbose", action="store_true", help="show Sphinx's progress")
    parser.add_argument(
        "--roadmap", type=Path, default=None, help="the roadmap table as `roadmap --json` wrote it (default: measure)"
    )
    args = parser.parse_args(argv)
    root = args.root.resolve()
    out = (args.out or root / "build" / "site").resolve()
    started = time.monotonic()
    try:
        roadmap = json.loads(args.roadmap.read_text()) if args.roadmap else None
        index = build(root, out, quiet=not args.verbose, roadmap=roadmap)
    except SiteError as error:
        print(f"make site: {error}", file=sys.stderr)
        return 1
    print(f"site built in {time.monotonic() - started:.0f} s; open it at")
    print(index)
    return 0


if __name__ == "__main__":
    sys.exit(main())
