# Two commands for a fresh machine: `make run` and `make test`. Both set themselves up.
SHELL := /bin/bash
# The Lambda runtime is python3.13; use it where the machine has it, else the default python3 (3.11+).
PYTHON ?= $(shell for p in python3.13 $$HOME/.pyenv/versions/3.13*/bin/python3.13 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-py311 lint typecheck template-check artefact-check openapi bench clean setup

setup: $(STAMP)

$(STAMP): requirements-dev.txt layers/common/requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m erpbridge_cli.local_stack

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check layers/common
	$(BIN)/mypy

template-check: $(STAMP)
	$(BIN)/python -m erpbridge_cli.template_check template.yaml

# The Lambda artefact (layer + job files + each function's code) built with pip and every handler
# imported from it alone; also checks arm64 wheels exist for python3.13.
artefact-check: $(STAMP)
	$(BIN)/python -m erpbridge_cli.artefact_check

test: $(STAMP) lint template-check artefact-check
	$(BIN)/python -m pytest

# The live API's OpenAPI 3.1 document, generated from the code (a test fails when it is stale).
openapi: $(STAMP)
	ERPBRIDGE_STAGE=prod PYTHONPATH=layers/common:cli $(BIN)/python -m erpbridge_cli.main openapi --write openapi.json

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
	$(VENV_OLDEST)/bin/pip install -q -r requirements-dev.txt
	$(VENV_OLDEST)/bin/pip install -q --no-deps -e .
	$(VENV_OLDEST)/bin/python -m pytest -q -p no:cacheprovider

clean:
	rm -rf $(VENV) $(VENV_OLDEST) .pytest_cache .mypy_cache .ruff_cache .aws-sam
