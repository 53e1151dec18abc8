# Djinn: `make run` sets up and starts everything; `make test` sets up and runs all tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test setup setup-test lint services bench-quality clean

run: setup
	$(BIN)/djinn run

test: setup-test services
	$(BIN)/ruff check .
	$(BIN)/pytest

setup: $(VENV)/.installed-run
setup-test: $(VENV)/.installed-test

$(VENV)/.installed-run: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

# torch is pinned to the CPU wheel that machines of this kind keep on disk.
$(VENV)/.installed-test: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,st]'
	touch $@ $(VENV)/.installed-run

# PostgreSQL and Redis for the integration tests, and docker-compose to validate
# docker-compose.yml; started or installed only when missing.
services:
	.ci/services

lint: setup-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench-quality: setup-test
	$(BIN)/python -m bench.quality

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
