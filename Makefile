# Two commands do everything on a fresh machine: `make run` and `make test`.
# Each creates the virtual environment (.venv) from the pinned requirements when it is missing
# or older than them.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
CHECKOV_VENV := .venv-checkov
export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1

# The newest Python from 3.13 down to 3.11 that actually runs (a pyenv shim for a version that
# is installed but not selected does not run, so pyenv's own installs are tried too).
PYENV_ROOT ?= $(HOME)/.pyenv
PYTHON_CANDIDATES := $(foreach v,3.13 3.12 3.11,python$(v) $(sort $(wildcard $(PYENV_ROOT)/versions/$(v).*/bin/python$(v))))
PYTHON ?= $(shell for p in $(PYTHON_CANDIDATES); do \
	if "$$p" -c 'import sys, venv, ensurepip; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' >/dev/null 2>&1; \
	then echo "$$p"; break; fi; done)
# `sam build` builds the layer for the template's runtime, python3.13, with a python3.13 on PATH.
PYTHON313 ?= $(shell for p in python3.13 $(sort $(wildcard $(PYENV_ROOT)/versions/3.13.*/bin/python3.13)); do \
	if "$$p" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' >/dev/null 2>&1; \
	then command -v "$$p"; break; fi; done)
TEMPLATES := template.yaml infra/database.yaml infra/github-oidc.yaml

.PHONY: help venv bench-venv run db test lint format migrate validate bench bench-check smoke package params clean

help:
	@echo "make run    - serve the API on http://127.0.0.1:3000 with an embedded PostgreSQL (HOST, PORT, ARGS)"
	@echo "make db     - the embedded PostgreSQL on TCP too, and .local/sam-env.json for sam local in Docker (ARGS)"
	@echo "make test   - lint, type-check and run every test"
	@echo "make lint   - ruff and mypy only"
	@echo "make migrate - apply pending migrations (DATABASE_URL, else the local database)"
	@echo "make validate - cfn-lint (with the serverless rules), sam validate --lint, checkov, actionlint, zizmor and sam build"
	@echo "make format - apply ruff's formatting and fixes"
	@echo "make bench  - benchmarks against the lambdalith and the floor into bench/results (QUICK=1: 4-5 min)"
	@echo "make bench-check - type-check bench/ and run every measure once, tiny (CI runs it)"
	@echo "make smoke BASE_URL=https://... [TOKEN=<jwt>] - black-box check of a deployed stage (docs/operations.md)"
	@echo "make package - build, then packaged.yaml with the code in S3_BUCKET (S3_PREFIX, REGION); no bucket: a dry run"
	@echo "make params - infra/params/<stage>*.json (CloudFormation parameter files) from samconfig.toml"

$(VENV)/.installed: requirements-dev.txt layers/tasks_core/requirements.txt
	@test -n "$(PYTHON)" || { echo "No Python 3.11-3.13 found (tried: $(PYTHON_CANDIDATES))" >&2; exit 1; }
	@echo "Creating $(VENV) with $(PYTHON)"
	rm -rf $(VENV)
	"$(PYTHON)" -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@# The layer's package importable everywhere in the venv, as /opt/python is in Lambda.
	$(PY) -c 'import pathlib, sysconfig; pathlib.Path(sysconfig.get_paths()["purelib"], "tasks_core_layer.pth").write_text(str(pathlib.Path("layers/tasks_core").resolve()) + "\n")'
	touch $@

venv: $(VENV)/.installed

# The benchmark's baselines and plots (requirements-bench.txt) on top of the dev venv, only for
# `make bench` and `make bench-check`: `make test` does not pay for the baseline.
$(VENV)/.bench-installed: requirements-bench.txt $(VENV)/.installed
	$(PY) -m pip install --quiet -r requirements-bench.txt
	touch $@

bench-venv: $(VENV)/.bench-installed

# ruff covers every folder; mypy the product and its tests here, bench/ in bench-check (its
# baselines import FastAPI and SQLModel, which only the bench venv has).
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy layers/tasks_core/tasks_core functions local ops tools tests --exclude tests/bench

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	@test -n "$(PYTHON)" || { echo "No Python 3.11-3.13 found" >&2; exit 1; }
	rm -rf $(CHECKOV_VENV)
	"$(PYTHON)" -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	touch $@

validate: venv $(CHECKOV_VENV)/.installed
	@# cfn-lint's rules and the AWS serverless rules (cfn-lint-serverless); exceptions sit on the resources.
	$(BIN)/cfn-lint $(TEMPLATES) --append-rules cfn_lint_serverless.rules
	@# LanguageExtensions (template.yaml's Fn::If on the API's Auth) expanded as CloudFormation would.
	SAM_CLI_ENABLE_LANGUAGE_EXTENSIONS=1 $(BIN)/sam validate --lint --template-file template.yaml
	SAM_CLI_ENABLE_LANGUAGE_EXTENSIONS=1 $(BIN)/sam validate --template-file template.yaml --region us-east-1
	$(BIN)/sam validate --lint --template-file infra/database.yaml
	$(BIN)/sam validate --lint --template-file infra/github-oidc.yaml
	@# The GitHub Actions workflows: syntax and expressions, then security (offline: no GitHub API).
	$(BIN)/actionlint
	$(BIN)/zizmor --offline --quiet .github/workflows
	$(CHECKOV_VENV)/bin/checkov --framework cloudformation --skip-download --compact --quiet $(addprefix -f ,$(TEMPLATES))
	@if [ -n "$(PYTHON313)" ]; then \
		PATH="$$(dirname $(PYTHON313)):$$PATH" $(BIN)/sam build --template-file template.yaml --build-dir .aws-sam/build --cached --cache-dir .aws-sam/cache; \
	else echo "sam build skipped: no python3.13 on this machine (Lambda's runtime)"; fi

test: lint validate
	$(BIN)/pytest -n 2 --ignore=tests/bench
	@# The data path again through PgBouncer in transaction mode, which pools like RDS Proxy.
	TASKS_TEST_POOLER=pgbouncer $(BIN)/pytest -n 2 tests/integration tests/handlers

# HOST and PORT (environment or `make run PORT=8080`) set the address; ARGS passes more flags,
# e.g. `make run ARGS="--env-vars env.json"` (see `$(PY) -m local serve --help`).
run: venv
	$(PY) -m local serve $(ARGS)

# For `sam local` with Docker (docs/sam-local.md): the embedded PostgreSQL on TCP too, with
# passwords, and the --env-vars file pointing the functions at it, until Ctrl-C. ARGS passes more
# flags, e.g. `make db ARGS="--port 6543"` (see `$(PY) -m local db --help`).
db: venv
	$(PY) -m local db $(ARGS)

migrate: venv
	$(PY) -m local.devdb.apply_migrations

# Every measure of bench/README.md; QUICK=1 for the reduced run (same targets).
bench: bench-venv
	$(PY) -m bench $(if $(QUICK),--quick)

# The benchmark's own checks, which CI runs after `make test`: type-checked with its baselines
# installed, and a tiny run of every measure (tests/bench checks the results' shape).
bench-check: bench-venv
	$(BIN)/mypy bench tests/bench
	$(BIN)/pytest tests/bench

# A deployed stage checked from outside, right after `sam deploy` (docs/operations.md). TOKEN, when
# given on the command line, reaches the checker through its environment: never in a command line
# that `ps` or make's echo would show. ARGS passes more flags (see `$(PY) -m ops.smoke --help`).
smoke: venv
	@test -n "$(BASE_URL)" || { echo "usage: make smoke BASE_URL=https://<api-id>.execute-api.<region>.amazonaws.com [TOKEN=<jwt>]" >&2; exit 2; }
	@$(if $(filter command line,$(origin TOKEN)),SMOKE_TOKEN="$$TOKEN") $(PY) -m ops.smoke "$(BASE_URL)" $(ARGS)

# The artifact of a plain CloudFormation deploy (docs/deploy-cloudformation.md): a clean build (no
# cache, so nothing of an older build slips in), then `sam package` into S3_BUCKET under S3_PREFIX
# with the content hash in packaged.yaml's Metadata. Without S3_BUCKET: what it would upload.
PACKAGE_BUILD_DIR := .aws-sam/package
PACKAGE_ARGS = $(if $(S3_BUCKET),--bucket "$(S3_BUCKET)") $(if $(S3_PREFIX),--prefix "$(S3_PREFIX)") $(if $(REGION),--region "$(REGION)")
package: venv
	@test -n "$(PYTHON313)" || { echo "make package needs python3.13 (Lambda's runtime) on PATH for sam build" >&2; exit 1; }
	rm -rf $(PACKAGE_BUILD_DIR)
	PATH="$$(dirname $(PYTHON313)):$$PATH" $(BIN)/sam build --no-cached --template-file template.yaml --build-dir $(PACKAGE_BUILD_DIR)
	$(PY) -m tools.package --template $(PACKAGE_BUILD_DIR)/template.yaml --output packaged.yaml $(PACKAGE_ARGS)

# CloudFormation parameter files per stage from samconfig.toml (rerun after changing it).
params: venv
	$(PY) -m tools.params

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .aws-sam .mypy_cache .ruff_cache
