"""Set-up facts: pyproject and environment.yml agree; README and CI start with the two commands."""
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
    for line in lines[start + 1:]:
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


def test_readme_opens_with_the_two_commands():
    first = [line for line in (ROOT / "README.md").read_text().splitlines() if line.strip()][:2]
    assert first == ["make run", "make test"]


def test_ci_calls_make_test():
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_makefile_targets():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("run:", "test:", "lab:", "figures:"):
        assert re.search(rf"^{target}", makefile, re.M), target
    assert "--nbval " in makefile and "--nbval-lax" not in makefile
