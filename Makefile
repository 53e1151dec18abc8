# Djinn: `make run` sets up and starts everything; `make test` sets up and runs all tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Rasa 3.6 pins old libraries and runs on Python 3.10 only: it gets its own venv.
RASA_VENV := .venv-rasa
RASA_VERSION := $(shell sed -n 's/^rasa==//p' nlu/requirements-rasa.txt)
RASA_STAMP := $(RASA_VENV)/.installed-rasa-$(RASA_VERSION)
# python3.10 when it runs (a pyenv shim may refuse), else the newest pyenv 3.10.
RASA_PYTHON ?= $(firstword $(foreach p,python3.10 \
	$(sort $(wildcard $(or $(PYENV_ROOT),$(HOME)/.pyenv)/versions/3.10*/bin/python3.10)), \
	$(shell $(p) -c 'import sys; sys.version_info[:2] == (3, 10) and print(sys.executable)' \
	2>/dev/null)))

.PHONY: run test setup setup-test setup-rasa rasa-model lint services bench-quality clean

# Without Python 3.10 Djinn still runs, answering from the knowledge base alone.
run: setup
	@$(MAKE) --no-print-directory rasa-model \
		|| echo "Rasa не подготовлен (см. выше): Djinn будет отвечать только из базы знаний."
	$(BIN)/djinn run

test: setup-test services rasa-model
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

setup-rasa: $(RASA_STAMP)

$(RASA_STAMP): nlu/requirements-rasa.txt nlu/constraints-rasa.txt nlu/rasa_plugins/pyproject.toml
	@test -n "$(RASA_PYTHON)" || { echo "Rasa $(RASA_VERSION) needs Python 3.10: install it \
		(pyenv install 3.10, or the python3.10 package) or set RASA_PYTHON=/path/to/python3.10" >&2; \
		exit 1; }
	$(RASA_VENV)/bin/python -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null \
		|| { rm -rf $(RASA_VENV) && $(RASA_PYTHON) -m venv $(RASA_VENV); }
	$(RASA_VENV)/bin/pip install --quiet --upgrade pip
	$(RASA_VENV)/bin/pip install --quiet -r nlu/requirements-rasa.txt -c nlu/constraints-rasa.txt
	$(RASA_VENV)/bin/pip install --quiet -e nlu/rasa_plugins -c nlu/constraints-rasa.txt
	rm -f $(RASA_VENV)/.installed-rasa-*
	touch $@

# Trains only when the Rasa project changed: the model is cached under the hash of
# nlu/config.yml, the domain, nlu/data and nlu/rasa_plugins (data/rasa/models/<hash>.tar.gz).
rasa-model: setup $(RASA_STAMP)
	$(BIN)/djinn nlu train

# PostgreSQL and Redis for the integration tests, docker-compose to validate
# docker-compose.yml and Chromium for the browser tests; started or installed only when missing.
services:
	.ci/services

lint: setup-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench-quality: setup-test
	$(BIN)/python -m bench.quality

clean:
	rm -rf $(VENV) $(RASA_VENV) .pytest_cache .ruff_cache
