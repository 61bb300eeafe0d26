# Two commands a newcomer needs: `make run` and `make test`. Everything else is for development.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test lint bench validate clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/crmstatus serve --config-dir configs

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check engine server tests bench
	$(BIN)/ruff format --check engine server tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench.engine_bench
	$(BIN)/python -m bench.store_bench

validate: $(STAMP)
	$(BIN)/crmstatus validate configs

clean:
	rm -rf $(VENV) build *.egg-info
