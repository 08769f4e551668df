"""`make site-test`: the built website read page by page in headless Chromium, as a reader would.

    python tools/site/check.py                    # build/site, after `make site`
    python tools/site/check.py --site DIR --root REPO --no-rebuild

It serves the site on 127.0.0.1 and fails, naming the page and the element, where

- a page logs a console error or a script error, or a request fails (any request leaving the site is blocked and
  counts as failed: the site must work offline);
- an image has not loaded (naturalWidth 0), after scrolling it into view;
- an internal link or anchor does not resolve (to a file of the site, and to an element with that id);
- a code cell has no copy button, or math is not typeset;
- the sidebar does not list every page in series order (home, notebooks by number, solutions, docs), or a page's
  previous/next links are not its neighbours in that order;
- a solution toggle shows its content before it is clicked, or hides it after;
- searching "LayerNorm" does not find notebook 11;
- (unless --no-rebuild) building again changes a file;
- (unless --no-selftest) this check, run by test_site_browser.py on a temp site with solutions, math and seven
  planted faults, misses a fault or reports one that is not there.

External links are listed, not fetched. Screenshots of the home page, a step notebook and a solution page go into
build/site-test/. Chromium is Debian's `chromium` (or $CHROMIUM), driven by Playwright without its own browser
download; where none is found this says so in one line and exits 1 (0 with SITE_TEST_SKIP_NO_BROWSER=1).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[2]
NUMBERED = re.compile(r"^(\d+)_[\w.-]+\.ipynb$")
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
STEP_PAGE = "05"  # the step notebook photographed (the first one there is, if not this)


def load_builder():
    """tools/site/build.py as a module, under a name that no installed package has."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("site_build", Path(__file__).resolve().parent / "build.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["site_build"] = module
    spec.loader.exec_module(module)
    return module


def find_chromium() -> str | None:
    if os.environ.get("CHROMIUM"):
        return os.environ["CHROMIUM"] if Path(os.environ["CHROMIUM"]).exists() else None
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def expected_order(root: Path) -> list[str]:
    """The sidebar's pages in reading order, from the files themselves: notebooks by number, solutions, docs."""

    def numbered(folder: Path) -> list[str]:
        found = [p for p in folder.glob("*.ipynb") if NUMBERED.match(p.name)]
        found.sort(key=lambda p: (int(NUMBERED.match(p.name)[1]), p.name))
        return [p.relative_to(root).with_suffix(".html").as_posix() for p in found]

    docs = [p.relative_to(root).with_suffix(".html").as_posix() for p in sorted((root / "docs").glob("*.md"))]
    return [*numbered(root / "notebooks"), *numbered(root / "notebooks" / "solutions"), *docs]


def file_hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the site; remembers what it could not serve (the browser asks for some things, e.g. a favicon,
    where Playwright's request events do not see it)."""

    errors: list[str]

    def log_message(self, *args):
        pass

    def send_error(self, code, message=None, explain=None):
        self.errors.append(f"{self.path}: HTTP {code}")
        super().send_error(code, message, explain)


def serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(QuietHandler, directory=str(folder))
    QuietHandler.errors = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


# Runs in the page: every image scrolled into view (lazy ones too) and waited for, then what each shows.
IMAGES_JS = """async () => {
  const imgs = [...document.querySelectorAll('img')];
  for (const img of imgs) {
    img.loading = 'eager';
    img.scrollIntoView();
    if (!img.complete) await new Promise(r => { img.onload = img.onerror = r; setTimeout(r, 5000); });
  }
  window.scrollTo(0, 0);
  return imgs.map(i => ({src: i.getAttribute('src'), width: i.naturalWidth, alt: i.alt}));
}"""
PAGE_JS = """() => ({
  ids: [...document.querySelectorAll('[id]')].map(e => e.id)
         .concat([...document.querySelectorAll('a[name]')].map(e => e.name)),
  links: [...document.querySelectorAll('a[href]')].map(a => ({href: a.getAttribute('href'), abs: a.href,
         text: (a.textContent || a.title || '').trim().slice(0, 60)})),
  sidebar: [...document.querySelectorAll('nav.bd-docs-nav a.reference')].map(a => a.href),
  captions: [...document.querySelectorAll('nav.bd-docs-nav p.caption')].map(p => p.textContent.trim()),
  prev: document.querySelector('.prev-next-area a.left-prev')?.href || null,
  next: document.querySelector('.prev-next-area a.right-next')?.href || null,
  codeCells: document.querySelectorAll('div.cell_input div.highlight').length,
  codeCellsWithButton: [...document.querySelectorAll('div.cell_input div.highlight')]
         .filter(d => d.querySelector('button.copybtn')).length,
  math: document.querySelectorAll('span.math, div.math').length,
  typeset: document.querySelectorAll('.MathJax, .MathJax_Display, mjx-container, .MathJax_Preview').length,
})"""


class Report:
    """What failed (page: element: what), and what was checked."""

    def __init__(self):
        self.failures: list[str] = []
        self.pages = self.images = self.internal_links = self.toggles = self.math_pages = 0
        self.external: set[str] = set()
        self.search_results: list[str] = []

    def fail(self, page: str, element: str, what: str) -> None:
        self.failures.append(f"{page}: {element}: {what}")


def check_toggles(page, name: str, report: Report, is_solution_page: bool) -> int:
    """Each inline solution hidden until its toggle is clicked, shown after; returns how many were checked."""
    checked = 0
    cells = page.locator("div.cell.tag_solution")
    for i in range(cells.count()):
        cell = cells.nth(i)
        content = cell.locator("div.cell_input").first
        summary = cell.locator("details > summary")
        element = f"solution cell {i + 1} of {cells.count()}"
        if is_solution_page:  # the solutions' own page shows them
            if not content.is_visible():
                report.fail(name, element, "hidden on the solutions' own page")
            continue
        if summary.count() == 0:
            report.fail(name, element, "shown without a toggle")
            continue
        if content.is_visible():
            report.fail(name, element, "visible before its toggle is clicked")
        summary.first.click()
        if not content.is_visible():
            report.fail(name, element, "still hidden after its toggle was clicked")
        summary.first.click()  # and closed again, for the screenshots
        checked += 1
    boxes = page.locator("div.admonition.solution")
    for i in range(boxes.count()):
        box = boxes.nth(i)
        element = f"solution note {i + 1} of {boxes.count()}"
        body = box.locator(":scope > :not(.admonition-title)").first
        if body.is_visible():
            report.fail(name, element, "visible before its toggle is clicked")
        box.locator(".admonition-title, button.toggle-button").first.click()
        page.wait_for_timeout(400)  # sphinx-togglebutton animates
        if not body.is_visible():
            report.fail(name, element, "still hidden after its toggle was clicked")
        checked += 1
    return checked


def check_search(page, base: str, root: Path, report: Report) -> None:
    wanted = sorted((root / "notebooks").glob("11_*.ipynb"))
    if not wanted:
        report.fail("search.html", "search", "no notebook 11 in notebooks/ to look for")
        return
    target = wanted[0].relative_to(root).with_suffix(".html").as_posix()
    page.goto(base + "search.html?q=LayerNorm", wait_until="load")
    try:
        page.wait_for_selector("#search-results ul.search li a", timeout=15000)
        page.wait_for_function(
            "() => /found \\d+ page|search finished|Found \\d+/i.test(document.querySelector('#search-results')"
            "?.innerText || '')",
            timeout=15000,
        )
    except Exception:
        report.fail("search.html?q=LayerNorm", "#search-results", "no results appeared")
        return
    hrefs = page.eval_on_selector_all("#search-results ul.search li a", "as => as.map(a => a.href)")
    report.search_results = sorted({urlsplit(h).path.lstrip("/") for h in hrefs})
    if not any(urlsplit(h).path.lstrip("/") == target for h in hrefs):
        found = sorted({urlsplit(h).path.lstrip("/") for h in hrefs})
        report.fail("search.html?q=LayerNorm", "#search-results", f"{target} not among the results {found}")
    else:
        print(f"search: 'LayerNorm' finds {target} ({len(hrefs)} results)")


def run(site: Path, root: Path, shots: Path, chromium: str) -> Report:
    from playwright.sync_api import sync_playwright

    report = Report()
    order = expected_order(root)
    pages = sorted(
        p.relative_to(site).as_posix() for p in site.rglob("*.html") if not p.relative_to(site).parts[0].startswith("_")
    )
    missing = [p for p in order if p not in pages]
    for p in missing:
        report.fail(p, "page", "missing from the site")
    server, base = serve(site)
    ids: dict[str, set[str]] = {}
    links: list[tuple[str, dict]] = []
    external = report.external
    shots.mkdir(parents=True, exist_ok=True)
    for old in shots.glob("*.png"):
        old.unlink()
    step_pages = [p for p in order if p.startswith("notebooks/") and not p.startswith("notebooks/solutions/")]
    solution_pages = [p for p in order if p.startswith("notebooks/solutions/")]
    step_shot = next((p for p in step_pages if Path(p).name.startswith(STEP_PAGE + "_")), None)
    step_shot = step_shot or (step_pages[0] if step_pages else None)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            context = browser.new_context(viewport={"width": 1360, "height": 900}, device_scale_factor=1)
            # Nothing leaves the site: a request elsewhere is aborted, and so reported as a failed request.
            context.route(
                "**/*", lambda r: r.continue_() if r.request.url.startswith(base) else r.abort("blockedbyclient")
            )
            page = context.new_page()
            current = {"name": ""}
            page.on("console", lambda m: m.type == "error" and report.fail(current["name"], "console", m.text))
            page.on("pageerror", lambda e: report.fail(current["name"], "script", str(e)))
            page.on(
                "requestfailed",
                lambda r: report.fail(current["name"], f"request {r.url}", r.failure or "failed"),
            )
            page.on(
                "response",
                lambda r: r.status >= 400 and report.fail(current["name"], f"request {r.url}", f"HTTP {r.status}"),
            )
            for name in pages:
                current["name"] = name
                page.goto(base + name, wait_until="load")
                for img in page.evaluate(IMAGES_JS):
                    report.images += 1
                    if img["width"] <= 0:
                        report.fail(name, f"<img src={img['src']!r} alt={img['alt'][:40]!r}>", "did not load")
                info = page.evaluate(PAGE_JS)
                ids[name] = set(info["ids"])
                links.extend((name, link) for link in info["links"])
                if info["codeCellsWithButton"] < info["codeCells"]:
                    missing_buttons = info["codeCells"] - info["codeCellsWithButton"]
                    report.fail(name, "code cells", f"{missing_buttons} of {info['codeCells']} have no copy button")
                if info["math"]:
                    report.math_pages += 1
                    try:
                        page.wait_for_function(
                            "() => document.querySelectorAll('.MathJax, .MathJax_Display, mjx-container').length > 0",
                            timeout=15000,
                        )
                    except Exception:
                        report.fail(name, "math", f"{info['math']} formulas not typeset by MathJax")
                if name in order or name == "index.html":
                    check_order(name, info, order, base, report)
                report.pages += 1
                report.toggles += check_toggles(page, name, report, name.startswith("notebooks/solutions/"))
            current["name"] = "search.html?q=LayerNorm"
            check_search(page, base, root, report)
            # The screenshots in a fresh context: a reader arriving, nothing remembered from the pages before.
            shots_context = browser.new_context(viewport={"width": 1360, "height": 900}, device_scale_factor=1)
            take_screenshots(shots_context.new_page(), base, shots, step_shot, solution_pages[:1])
            browser.close()
    finally:
        server.shutdown()
    for error in dict.fromkeys(QuietHandler.errors):  # each once (a page's own requests are reported above too)
        report.fail("server", f"request {error.split(':')[0]}", error.split(": ", 1)[1])
    report.internal_links = check_links(site, base, ids, links, external, report)
    print(f"pages: {report.pages} checked ({len(order)} in the sidebar's order); images: {report.images} checked;")
    print(f"internal links: {report.internal_links} checked; solution toggles: {report.toggles} clicked;")
    print(f"pages with math: {report.math_pages}")
    if not report.toggles:
        print("solution toggles: no page shows a solution inline (solutions are on their own pages)")
    print(f"external links ({len(external)}, listed, not fetched):")
    for url in sorted(external):
        print(f"  {url}")
    print(f"screenshots: {', '.join(str(p) for p in sorted(shots.glob('*.png')))}")
    return report


def take_screenshots(page, base: str, shots: Path, step: str | None, solutions: list[str]) -> None:
    page.goto(base + "index.html", wait_until="load")
    page.screenshot(path=str(shots / "home.png"))
    if step:
        page.goto(base + step, wait_until="load")
        page.screenshot(path=str(shots / "step.png"))
        figure = page.locator("div.cell_output img").first
        if figure.count():
            figure.scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "step-figure.png"))
        summary = page.locator("div.cell.tag_solution details > summary").first
        if summary.count():
            summary.click()
            summary.scroll_into_view_if_needed()
            page.evaluate("window.scrollBy(0, -300)")
            page.wait_for_timeout(800)  # the toggle fades its content in
            page.screenshot(path=str(shots / "step-solution-opened.png"))
    for name in solutions:
        page.goto(base + name, wait_until="load")
        page.screenshot(path=str(shots / "solution.png"))


def check_order(name: str, info: dict, order: list[str], base: str, report: Report) -> None:
    listed = [urlsplit(h).path.lstrip("/") for h in info["sidebar"]]
    if listed != order:
        report.fail(name, "sidebar (nav.bd-docs-nav)", f"lists {listed}, expected the series order {order}")
    reading = ["index.html", *order]  # previous/next run from the home page through the sidebar's pages
    at = reading.index(name)
    want_prev = reading[at - 1] if at > 0 else None
    want_next = reading[at + 1] if at + 1 < len(reading) else None
    got_prev = urlsplit(info["prev"]).path.lstrip("/") if info["prev"] else None
    got_next = urlsplit(info["next"]).path.lstrip("/") if info["next"] else None
    if got_prev != want_prev:
        report.fail(name, "previous link (a.left-prev)", f"leads to {got_prev}, expected {want_prev}")
    if got_next != want_next:
        report.fail(name, "next link (a.right-next)", f"leads to {got_next}, expected {want_next}")


def check_links(site: Path, base: str, ids: dict, links: list, external: set, report: Report) -> int:
    count = 0
    for page, link in links:
        href, absolute = link["href"], link["abs"]
        if not absolute.startswith(base):
            if re.match(r"^(https?|mailto|ftp):", absolute):
                external.add(absolute)
            elif not absolute.startswith("javascript:"):
                report.fail(page, f"<a href={href!r}>", "neither a page of the site nor a web address")
            continue
        count += 1
        parts = urlsplit(absolute)
        path = unquote(parts.path[len(urlsplit(base).path) :]) or "index.html"
        if path.endswith("/"):
            path += "index.html"
        if not (site / path).is_file():
            report.fail(page, f"<a href={href!r}> ({link['text']!r})", f"no {path} in the site")
            continue
        anchor = unquote(parts.fragment)
        if anchor and path.endswith(".html") and anchor not in ids.get(path, set()):
            report.fail(page, f"<a href={href!r}> ({link['text']!r})", f"no element with id {anchor!r} on {path}")
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository the site was built from")
    parser.add_argument("--site", type=Path, default=None, help="the built site (default: ROOT/build/site)")
    parser.add_argument("--screenshots", type=Path, default=None, help="default: ROOT/build/site-test")
    parser.add_argument("--no-rebuild", action="store_true", help="skip building again to compare every file")
    parser.add_argument(
        "--no-selftest", action="store_true", help="skip checking this check on a temp site (test_site_browser.py)"
    )
    args = parser.parse_args(argv)
    root = args.root.resolve()
    site = (args.site or root / "build" / "site").resolve()
    shots = (args.screenshots or root / "build" / "site-test").resolve()
    if not (site / "index.html").is_file():
        print(f"site-test: no site at {site}: run `make site` first")
        return 1
    chromium = find_chromium()
    if chromium is None:
        skip = os.environ.get("SITE_TEST_SKIP_NO_BROWSER") == "1"
        print(
            "site-test: no Chromium found (looked for $CHROMIUM, " + ", ".join(BROWSERS) + "); install one with "
            "`apt-get install chromium` (Debian/Ubuntu), "
            + ("skipped as SITE_TEST_SKIP_NO_BROWSER=1 asks" if skip else "or set SITE_TEST_SKIP_NO_BROWSER=1 to skip")
        )
        return 0 if skip else 1
    try:
        import playwright  # noqa: F401
    except ImportError:
        print("site-test: Playwright for Python is missing: `make site-test` installs it (pip install -e '.[site]')")
        return 1
    started = time.monotonic()
    report = run(site, root, shots, chromium)
    if not args.no_rebuild:
        build = load_builder()
        with tempfile.TemporaryDirectory(prefix="site-rebuild-", dir=site.parent) as tmp:
            staged = site.parent / f"{site.name}-src" / "_roadmap.json"  # measured once, by make site
            roadmap = json.loads(staged.read_text()) if staged.is_file() else None
            build.build(root, Path(tmp) / "site", roadmap=roadmap)
            before, after = file_hashes(site), file_hashes(Path(tmp) / "site")
        changed = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
        for p in changed[:20]:
            report.fail(p, "file", "differs when the site is built again from the same notebooks")
        print(f"rebuild: {len(before)} files, {len(changed)} changed")
    if report.failures:
        print(f"site-test: FAILED, {len(report.failures)} problems:")
        for failure in report.failures:
            print(f"  {failure}")
        return 1
    print(f"site-test: all checks passed in {time.monotonic() - started:.0f} s ({chromium})")
    if args.no_selftest:
        return 0
    print("site-test: now the check itself, on a temp copy with solutions, math and faults (test_site_browser.py)")
    selftest = Path(__file__).resolve().parent / "test_site_browser.py"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:cacheprovider", str(selftest)]
    return subprocess.run(command, cwd=root).returncode


if __name__ == "__main__":
    sys.exit(main())
