# Two commands for a fresh machine: `make run` and `make test`. Both set themselves up.
SHELL := /bin/bash
# The Lambda runtime is python3.13; use it where the machine has it, else the default python3 (3.11+).
PYTHON ?= $(shell for p in python3.13 $$HOME/.pyenv/versions/3.13*/bin/python3.13 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: docs docs-check run test test-py311 lint typecheck template-check artefact-check sam-check wheel-check openapi bench clean setup lock

setup: $(STAMP)

# Installs exactly the locked versions (hashes checked); `make lock` refreshes the locks.
$(STAMP): requirements-dev.txt layers/common/requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q --require-hashes -r requirements-dev.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

# Resolve the loose specs (*.in) into the locks (exact versions, hashes for every platform):
# the dev lock first, then the layer's constrained to it, so tests run on what ships.
UV_VERSION := 0.13.9
lock: $(STAMP)
	$(BIN)/pip install -q uv==$(UV_VERSION)
	$(BIN)/uv pip compile -q --universal --python-version 3.11 --generate-hashes -o requirements-dev.txt requirements-dev.in
	$(BIN)/uv pip compile -q --universal --python-version 3.11 --generate-hashes -c requirements-dev.txt \
		-o layers/common/requirements.txt layers/common/requirements.in
	$(BIN)/uv pip compile -q --python-version 3.13 --generate-hashes -o requirements-sam.txt requirements-sam.in

# The SAM CLI in a venv of its own (its pins would fight the dev tools'), from its lock.
VENV_SAM := .venv-sam
SAM_STAMP := $(VENV_SAM)/.installed
$(SAM_STAMP): requirements-sam.txt
	test -x $(VENV_SAM)/bin/python || $(PYTHON) -m venv $(VENV_SAM)
	$(VENV_SAM)/bin/pip install -q --require-hashes -r requirements-sam.txt
	touch $(SAM_STAMP)

# `sam validate --lint` and `sam build` (arm64 wheels, no Docker), then the built artefact's
# architecture and size budget.
# sam build looks for python3.13 on PATH: the interpreter's own folder (not a pyenv shim).
SAM_ENV = SAM_CLI_TELEMETRY=0 PATH="$$($(PYTHON) -c 'import os, sys; print(os.path.dirname(os.path.realpath(sys.executable)))'):$$PATH"
sam-check: $(SAM_STAMP) $(STAMP)
	$(SAM_ENV) $(VENV_SAM)/bin/sam validate --lint --template template.yaml --region eu-west-1
	$(SAM_ENV) $(VENV_SAM)/bin/sam build --template template.yaml --build-dir .aws-sam/build --region eu-west-1
	$(BIN)/python -m erpbridge_cli.artefact_check --built .aws-sam/build

# The wheel a user installs: `pip install 'erpbridge[cli,emulator]'` gives working commands.
wheel-check: $(STAMP)
	$(BIN)/python -m erpbridge_cli.artefact_check --wheel

run: $(STAMP)
	$(BIN)/python -m erpbridge_cli.local_stack

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check layers/common
	$(BIN)/mypy
	cd layers/common && ../../$(BIN)/lint-imports --no-cache ../../pyproject.toml

template-check: $(STAMP)
	$(BIN)/python -m erpbridge_cli.template_check template.yaml

# The Lambda artefact (layer + job files + each function's code) built with pip and every handler
# imported from it alone; also checks arm64 wheels exist for python3.13.
artefact-check: $(STAMP)
	$(BIN)/python -m erpbridge_cli.artefact_check

# The documentation site: docs/settings.md is generated from the settings models; the site is built
# strictly (broken links, missing pages and warnings fail).
docs: $(STAMP)
	$(BIN)/python -m erpbridge_cli.settings_reference --write

docs-check: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

test: $(STAMP) lint template-check artefact-check sam-check wheel-check docs-check
	$(BIN)/python -m pytest

# The live and admin APIs' OpenAPI 3.1 documents, generated from the code (a test fails when one is stale).
openapi: $(STAMP)
	ERPBRIDGE_STAGE=prod PYTHONPATH=layers/common:cli $(BIN)/python -m erpbridge_cli.main openapi --write openapi.json
	ERPBRIDGE_STAGE=prod PYTHONPATH=layers/common:cli $(BIN)/python -m erpbridge_cli.main admin-openapi --write admin-openapi.json

# Every script runs, even after one misses its target (exits non-zero); the failures are named at
# the end and make the target fail.
bench: $(STAMP)
	failed=""; for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || failed="$$failed $$b"; done; \
	if [ -n "$$failed" ]; then echo "bench: failed:$$failed" >&2; exit 1; fi

# The code must keep running on Python 3.11, the oldest version it supports: the same tests on it, in
# a venv of its own (CI runs this after `make test` when the machine has a python3.11).
PYTHON_OLDEST ?= $(shell for p in python3.11 $$HOME/.pyenv/versions/3.11*/bin/python3.11; do \
	$$p -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV_OLDEST := .venv-py311

test-py311:
	@test -n "$(PYTHON_OLDEST)" || { echo "no python3.11 on this machine"; exit 1; }
	test -x $(VENV_OLDEST)/bin/python || $(PYTHON_OLDEST) -m venv $(VENV_OLDEST)
	$(VENV_OLDEST)/bin/pip install -q --require-hashes -r requirements-dev.txt
	$(VENV_OLDEST)/bin/pip install -q --no-deps -e .
	$(VENV_OLDEST)/bin/python -m pytest -q -p no:cacheprovider

clean:
	rm -rf $(VENV) $(VENV_OLDEST) $(VENV_SAM) .pytest_cache .mypy_cache .ruff_cache .aws-sam
