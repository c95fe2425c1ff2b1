# The two commands a new machine needs: `make run` and `make test`. Everything else is here for them.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run demo test lint format clean

run: $(VENV)/.installed  ## Start the API, scheduler and worker on the embedded default (SQLite, file broker).
	$(BIN)/crier up

demo: $(VENV)/.installed  ## Schedule a post against the running `make run` and watch it go out.
	$(BIN)/crier demo

test: $(VENV)/.test-installed  ## Lint, type-check and run the whole suite on SQLite and PostgreSQL.
	scripts/test

lint: $(VENV)/.test-installed
	scripts/test --lint-only

format: $(VENV)/.test-installed
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# constraints.txt pins every dependency, so a fresh clone installs what the suite last passed with.
$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $@ $(VENV)/.installed

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
