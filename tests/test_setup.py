"""Set-up facts: pyproject, environment.yml and constraints/oldest.txt agree; README and CI open with the commands."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _names(requirements):
    return {re.split(r"[<>=!~ \[]", r.strip(), maxsplit=1)[0].lower() for r in requirements}


def _yaml_pip_list():
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = lines.index("  - pip:")
    deps = []
    for line in lines[start + 1 :]:
        if not line.startswith("      - "):
            break
        deps.append(line.removeprefix("      - ").strip())
    return deps


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    pip_deps = [d for d in _yaml_pip_list() if d != "-e ."]
    assert sorted(pip_deps) == sorted(wanted)  # same names and the same version ranges
    assert "-e ." in _yaml_pip_list()
    assert {"torch", "torchvision", "matplotlib"} <= _names(project["dependencies"])
    assert {"pytest", "nbval", "jupyterlab", "timm"} <= _names(project["optional-dependencies"]["dev"])


def test_readme_opens_with_title_pitch_and_the_two_commands():
    blocks = (ROOT / "README.md").read_text().split("\n\n")
    assert blocks[0] == "# convnext-steps"
    assert not blocks[1].startswith(("#", "```")) and len(blocks[1].split()) > 40, "a one-paragraph pitch"
    commands = blocks[2].splitlines()
    assert commands[0] == "```" and commands[-1] == "```"
    assert [line.split("#")[0].strip() for line in commands[1:-1]] == ["make run", "make test"]


def test_readme_ends_with_how_to_cite_and_the_license_matches():
    readme = (ROOT / "README.md").read_text()
    citing = readme[readme.rindex("\n## ") :]
    assert citing.startswith("\n## Citing") and "```bibtex\n@inproceedings{liu2022convnet," in citing
    assert "title     = {A ConvNet for the 2020s}" in citing
    license_name = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]
    assert license_name == "MIT" and (ROOT / "LICENSE").read_text().startswith("MIT License\n")


def test_ci_runs_lint_then_make_test():
    commands = re.findall(r"^\s*make ([\w-]+)", (ROOT / ".ci" / "run").read_text(), re.M)
    assert commands[:2] == ["lint", "test"]


def test_github_workflow_does_what_ci_run_does():
    workflow = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    assert re.search(r"python-version: \"?3\.11\"?$", workflow, re.M) and re.search(r"cache: pip$", workflow, re.M)
    steps = re.findall(r"^\s*run: make ([\w-]+)$", workflow, re.M)
    assert steps == ["lint", "test"]


def _recipe(makefile: str, target: str) -> str:
    """The recipe lines of `target`, with the Makefile's own variables expanded."""
    match = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n)*)", makefile, re.M)
    assert match, f"no make target {target!r}"
    variables = dict(re.findall(r"^([A-Z_]+) :?= (.*)$", makefile, re.M))
    recipe = match.group(1)
    for _ in range(5):  # variables made of variables
        recipe = re.sub(r"\$\(([A-Z_]+)\)", lambda m: variables.get(m.group(1), m.group(0)), recipe)
    return recipe


def test_makefile_targets():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("run", "test", "test-fast", "test-portable", "test-oldest", "notebooks", "lint", "lab", "figures"):
        assert re.search(rf"^{target}:", makefile, re.M), target
    assert "--nbval " in makefile and "--nbval-lax" not in makefile
    test = _recipe(makefile, "test")
    for option in (
        "--nbval ",
        "--nbval-sanitize-with notebooks/sanitize.cfg",
        "-n auto",
        "--dist loadfile",
        "--durations=",
        " tests notebooks",
    ):
        assert option in test, option
    assert not re.search(r"\s-m [\"']", test), "make test runs everything, slow tests included"
    assert '-m "not slow"' in _recipe(makefile, "test-fast")
    assert "ATEN_CPU_CAPABILITY=default" in _recipe(makefile, "test-portable")
    assert "tools/run_notebooks.py $(NB)" in _recipe(makefile, "notebooks")
    assert "-c constraints/oldest.txt" in makefile
    lint = _recipe(makefile, "lint")
    for command in ("ruff check", "ruff format --check"):
        assert re.search(rf"{command} convnext_steps tests notebooks", lint), command
    assert re.search(r"^lint:.*\bactionlint\b", makefile, re.M) and "actionlint .github/workflows" in makefile


def _version(v: str) -> tuple[int, ...]:
    parts = [int(x) for x in v.split(".")]
    while parts and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def test_declared_lower_bounds_are_the_tested_oldest_releases():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    pins = dict(re.findall(r"^([\w.-]+)==([\w.]+)", (ROOT / "constraints" / "oldest.txt").read_text(), re.M))
    for requirement in declared:
        name, floor = re.match(r"([\w.-]+)>=([\w.]+)", requirement).groups()
        assert name in pins, f"constraints/oldest.txt pins no {name}"
        assert _version(pins[name]) == _version(floor), f"{name}: declared >={floor}, tested =={pins[name]}"
    assert set(pins) == {re.match(r"[\w.-]+", r).group(0) for r in declared}, "constraints pin only declared deps"


def test_slow_marker_is_registered():
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert any(m.startswith("slow:") for m in options["markers"])
