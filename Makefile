# Two commands do everything on a fresh machine: `make run` and `make test`.
# Each creates the virtual environment (.venv) from the pinned requirements when it is missing
# or older than them.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1

# The newest Python from 3.13 down to 3.11 that actually runs (a pyenv shim for a version that
# is installed but not selected does not run, so pyenv's own installs are tried too).
PYENV_ROOT ?= $(HOME)/.pyenv
PYTHON_CANDIDATES := $(foreach v,3.13 3.12 3.11,python$(v) $(sort $(wildcard $(PYENV_ROOT)/versions/$(v).*/bin/python$(v))))
PYTHON ?= $(shell for p in $(PYTHON_CANDIDATES); do \
	if "$$p" -c 'import sys, venv, ensurepip; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' >/dev/null 2>&1; \
	then echo "$$p"; break; fi; done)

.PHONY: help venv run test lint format typecheck unit integration clean

help:
	@echo "make run    - serve the API on http://127.0.0.1:3000 with an embedded PostgreSQL (HOST, PORT, ARGS)"
	@echo "make test   - lint, type-check and run every test"
	@echo "make lint   - ruff and mypy only"
	@echo "make format - apply ruff's formatting and fixes"

$(VENV)/.installed: requirements-dev.txt layers/tasks_core/requirements.txt
	@test -n "$(PYTHON)" || { echo "No Python 3.11-3.13 found (tried: $(PYTHON_CANDIDATES))" >&2; exit 1; }
	@echo "Creating $(VENV) with $(PYTHON)"
	rm -rf $(VENV)
	"$(PYTHON)" -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy layers/tasks_core/tasks_core functions local tests

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint
	$(BIN)/pytest -n 2 --dist loadgroup

# HOST and PORT (environment or `make run PORT=8080`) set the address; ARGS passes more flags,
# e.g. `make run ARGS="--env-vars env.json"` (see `$(PY) -m local serve --help`).
run: venv
	$(PY) -m local serve $(ARGS)

clean:
	rm -rf $(VENV) .aws-sam .mypy_cache .ruff_cache
