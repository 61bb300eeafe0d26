# Two commands a newcomer needs: `make run` and `make test`. Everything else is for development.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install graphviz run test lint bench validate proto buf-lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Local development: embedded Redis, no tokens (CRMSTATUS_DEV_MODE=1 is the explicit switch).
run: $(STAMP)
	CRMSTATUS_DEV_MODE=1 CRMSTATUS_LOG_FORMAT=$${CRMSTATUS_LOG_FORMAT:-text} $(BIN)/crmstatus serve --config-dir configs

# The diagram tests render with Graphviz's `dot`: installed from Debian's packages when it is missing.
graphviz:
	@command -v dot >/dev/null || (apt-get update -qq && apt-get install -y -qq graphviz)

test: $(STAMP) graphviz
	$(BIN)/python -m pytest -n 2 --dist worksteal

lint: $(STAMP)
	$(BIN)/ruff check engine server tests bench
	$(BIN)/ruff format --check engine server tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python -m bench.engine_bench
	$(BIN)/python -m bench.store_bench
	$(BIN)/python -m bench.grpc_bench
	$(BIN)/python -m bench.analytics_bench
	$(BIN)/python -m bench.timer_bench
	$(BIN)/python -m bench.fleet_bench
	$(BIN)/python -m bench.migration_bench
	$(BIN)/python -m bench.instructions_bench

validate: $(STAMP)
	$(BIN)/crmstatus validate configs

# Regenerate the committed Python stubs (package crmstatus.v1) from proto/; a test fails when they are stale.
proto: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m grpc_tools.protoc -I proto \
		--python_out=. --pyi_out=. --grpc_python_out=. --mypy_grpc_out=. proto/crmstatus/v1/*.proto

buf-lint:
	npm exec --yes --package=@bufbuild/buf@1.75.0 -- buf lint proto

clean:
	rm -rf $(VENV) build *.egg-info
