# `make run` and `make test` are all a fresh clone needs; both create .venv on first use.
# The Python is the one .python-version names (as Heroku reads it): python3.12, say.
PYTHON_VERSION := $(shell cat .python-version)
PYTHON ?= python$(PYTHON_VERSION)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check

.DEFAULT_GOAL := help
.PHONY: help run console test lint typecheck unit repeat stress mutation bench format clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# The environment is rebuilt from scratch whenever the runtime pins or the Python version change;
# the console, development, benchmark and mutation sets are installed on top when theirs change.
$(VENV)/.runtime: requirements.txt .python-version
	@command -v $(PYTHON) >/dev/null || { echo "error: this project needs Python $(PYTHON_VERSION) (see .python-version), and $(PYTHON) is not on PATH: install it, or run make PYTHON=/path/to/python$(PYTHON_VERSION)" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; v = "$(PYTHON_VERSION)"; sys.exit(0 if "%d.%d" % sys.version_info[:2] == v else "error: $(PYTHON) is Python %d.%d, but .python-version asks for " % sys.version_info[:2] + v)'
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PIP) -r requirements.txt
	touch $@

$(VENV)/.console: $(VENV)/.runtime requirements-console.txt
	$(PIP) -r requirements-console.txt
	touch $@

$(VENV)/.dev: $(VENV)/.console requirements-dev.txt
	$(PIP) -r requirements-dev.txt
	touch $@

$(VENV)/.bench: $(VENV)/.dev requirements-bench.txt
	$(PIP) -r requirements-bench.txt
	touch $@

$(VENV)/.mutation: $(VENV)/.dev requirements-mutation.txt
	$(PIP) -r requirements-mutation.txt
	touch $@

run: $(VENV)/.console ## Connect to Discord if DISCORD_TOKEN is set, else open the offline console
	$(PY) -m bot --console-if-no-token

console: $(VENV)/.console ## Open the offline console (no token needed); make console OWNER=1 to be the owner
	$(PY) -m bot --console $(if $(filter 1,$(OWNER)),--as-owner)

test: lint typecheck unit ## Lint, type-check and run the whole test suite

lint: $(VENV)/.dev ## ruff: lint and formatting check
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(VENV)/.dev ## mypy --strict over bot/, cogs/ and tests/
	$(PY) -m mypy

unit: $(VENV)/.dev ## The pytest suite, shuffled, on every core, failing below 95 % branch coverage
	$(PY) -m pytest --numprocesses=auto --cov-fail-under=95

repeat: $(VENV)/.dev ## The suite three times over in one process, shuffled: nothing may leak between runs
	$(PY) -m pytest --no-cov --count=3 --repeat-scope=session

stress: $(VENV)/.dev ## The suite 10 times from a fresh clone of HEAD, shuffled, every core kept busy
	$(PY) -m bench.stress $(if $(RECORD),--record)

mutation: $(VENV)/.mutation ## Mutation testing of bot/ and cogs/ (mutmut; ~25 min on 2 cores)
	rm -rf mutants
	$(VENV)/bin/mutmut run
	$(VENV)/bin/mutmut results
	$(VENV)/bin/mutmut export-cicd-stats
	$(PY) -m bench.mutation $(if $(RECORD),--record)

bench: $(VENV)/.bench ## Benchmark !catfact against a slow local upstream; prints tables (RECORD=1: docs/figures/)
	$(PY) -m bench $(if $(RECORD),--record)

format: $(VENV)/.dev ## Apply ruff's fixes and formatting
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

clean: ## Remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .coverage htmlcov mutants
