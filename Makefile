# Darwaza: `make` lists the targets.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export DARWAZA_DATA_DIR ?= $(CURDIR)/data
# The demo runs on the development secrets; without this, Darwaza refuses them.
export DARWAZA_ENV ?= development

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/darwaza: pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed ($(PYTHON) not found; set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.test-deps: $(BIN)/darwaza
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

install: $(BIN)/darwaza ## Create the virtual environment and install Darwaza

run: install ## Migrate, load demo data; serve on :8000 with a worker and the sandbox bank on :8100
	$(BIN)/darwaza db upgrade
	$(BIN)/darwaza demo
	@echo ""
	@echo "Darwaza is starting on http://localhost:8000, the worker beside it, and the"
	@echo "sandbox bank on http://localhost:8100 (Ctrl-C stops them all)"
	@$(BIN)/darwaza worker --concurrency 2 & worker=$$!; \
	$(BIN)/darwaza sandbox-bank --port 8100 & bank=$$!; \
	trap 'kill $$worker $$bank 2>/dev/null; wait' EXIT INT TERM; \
	$(BIN)/darwaza serve --host 127.0.0.1 --port 8000

test: $(VENV)/.test-deps ## Install test dependencies and run the whole suite (lint, types, tests)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy darwaza
	$(BIN)/lint-imports
	$(BIN)/pytest

lint: $(VENV)/.test-deps ## Lint, type-check and check the layers only
	$(BIN)/ruff check .
	$(BIN)/mypy darwaza
	$(BIN)/lint-imports

messages: $(VENV)/.test-deps ## Extract translatable text and update the Urdu catalogue
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k ngettext:2,3 -o /tmp/darwaza-messages.pot --no-location --sort-output .
	$(BIN)/pybabel update -i /tmp/darwaza-messages.pot -d darwaza/translations -l ur --no-fuzzy-matching --ignore-obsolete

demo-code: install ## Print a demo officer's authenticator code: make demo-code WHO=hec.officer
	@$(BIN)/darwaza demo-code $(WHO)

clean: ## Remove the virtual environment and local data
	rm -rf $(VENV) data

.PHONY: help install run test lint messages demo-code clean
