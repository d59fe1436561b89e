# The two commands a newcomer needs are `make run` and `make test`; both install what they need first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test prove prove-long lint typecheck unit openapi bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet -e 'clients/python[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/consent-service serve --host 127.0.0.1 --port 8000

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest

# The promise-breaking suites alone (they also run, shorter, inside `make test`).
prove: $(STAMP)
	$(BIN)/pytest -m prove tests/prove tests/properties tests/fuzz tests/contract -s

# The long runs: more opt-outs, kills, examples and rounds and the long memory soak (about 45 minutes on 2 cores).
prove-long: $(STAMP)
	PROVE_LONG=1 $(BIN)/pytest tests/prove tests/properties tests/fuzz tests/contract -s

openapi: $(STAMP)
	$(BIN)/consent-service openapi > openapi/openapi.json

bench: $(STAMP)
	$(BIN)/python bench/checks.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
