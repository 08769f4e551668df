# Two commands matter: `make run` (the roadmap table) and `make test` (unit tests + nbval).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-unit test-notebooks lab figures bench clean

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

test: $(STAMP)
	$(PY) -m pytest -q --nbval --nbval-sanitize-with notebooks/sanitize.cfg tests notebooks

test-unit: $(STAMP)
	$(PY) -m pytest -q tests

test-notebooks: $(STAMP)
	$(PY) -m pytest -q --nbval --nbval-sanitize-with notebooks/sanitize.cfg notebooks

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks

figures: $(STAMP)
	$(PY) -m convnext_steps figures

bench: $(STAMP)
	$(PY) -m convnext_steps bench

clean:
	rm -rf $(VENV) *.egg-info
