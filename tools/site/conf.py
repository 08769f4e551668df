"""Sphinx configuration of the series' website; tools/site/build.py stages the sources and runs Sphinx with it.

Nothing here depends on the build's date or machine, so that a rebuild of unchanged notebooks changes no file.
"""

import os
import shutil
from pathlib import Path

project = "convnext-steps"
author = "the convnext-steps authors"
copyright = "the convnext-steps authors; MIT License"  # no year: it would be the build's date

extensions = ["myst_nb", "sphinx_copybutton", "sphinx_togglebutton"]

# The stored outputs are the ones nbval checks: show them, never re-run.
nb_execution_mode = "off"
nb_merge_streams = True
nb_output_stderr = "show"
# $...$ and $$...$$ as JupyterLab renders them; GitHub-style heading slugs, as notebook links are written.
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 6
# build.py checks every notebook link and anchor itself (with a clearer message), including anchors that are raw
# HTML ids, which MyST cannot see and would warn about although the browser finds them.
suppress_warnings = ["myst.xref_missing"]

# MathJax 3, from the pip package sphinx-mathjax-offline (a copy of MathJax's release files), served with the pages:
# the site loads nothing from elsewhere. Sphinx adds it only to pages with math, and build-finished copies it only
# if some page has math. MyST-NB's MathJax configuration (typeset class "math" only) is kept as it is.
mathjax_path = "mathjax/tex-chtml.js"

exclude_patterns = ["_build", "**.ipynb_checkpoints", "_roadmap.json"]
html_theme = "sphinx_book_theme"
html_title = "convnext-steps"
html_static_path = ["static"]
html_css_files = ["site.css"]
html_favicon = "static/favicon.svg"  # without one, every browser asks for /favicon.ico and gets a 404
html_last_updated_fmt = None
# The theme logs a console error on a first visit without a stored colour mode; give it one.
html_context = {"default_mode": "auto"}
html_copy_source = True  # the download button offers each page's notebook
html_show_sourcelink = False
html_show_sphinx = False

repository_url = os.environ.get("SITE_REPOSITORY_URL", "")
html_theme_options = {
    "home_page_in_toc": False,  # the title above the sidebar leads home
    "show_toc_level": 2,
    "show_navbar_depth": 1,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "navigation_with_keys": False,
    "use_repository_button": bool(repository_url),
    "repository_url": repository_url,
    "repository_branch": os.environ.get("SITE_REPOSITORY_BRANCH", "main"),
    "path_to_docs": "",
    "footer_content_items": ["copyright"],  # the author's name is in it already
}

copybutton_exclude = ".linenos, .gp, .go"  # copy code, not prompts or printed output
copybutton_selector = "div.cell_input div.highlight pre, div.highlight pre"


def _copy_mathjax(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    math = app.env.get_domain("math")
    if any(math.has_equations(doc) for doc in app.env.found_docs):
        import importlib.util

        (package,) = importlib.util.find_spec("sphinx-mathjax-offline").submodule_search_locations
        shutil.copytree(
            Path(package) / "static" / "mathjax", Path(app.outdir) / "_static" / "mathjax", dirs_exist_ok=True
        )


def setup(app):
    app.connect("build-finished", _copy_mathjax)
