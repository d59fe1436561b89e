# The two commands a newcomer needs are `make run` and `make test`; both install what they need first.
# Everything is installed from the locks in requirements/ (exact versions with hashes), then the project
# itself without its dependencies, so a new upstream release cannot change what a fresh clone gets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet
# What the service needs to run, and on top of it what the tests, linters and benchmarks need.
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev
COMPILE := $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" $(if $(UPGRADE),--upgrade)

.PHONY: install install-runtime run test prerequisites prove prove-long lint typecheck openapi bench lock clean

# Everything a developer needs (what `make test` installs).
install: $(DEV_STAMP)

# Only what the service needs (what `make run` installs).
install-runtime: $(RUNTIME_STAMP)

# --no-build-isolation: the project is built with the locked setuptools, not whatever is newest.
$(RUNTIME_STAMP): pyproject.toml setup.py requirements/runtime.lock
	$(PYTHON) -m venv $(VENV)
	$(PIP) --require-hashes -r requirements/runtime.lock
	$(PIP) --no-deps --no-build-isolation -e .
	touch $@

$(DEV_STAMP): $(RUNTIME_STAMP) requirements/dev.lock
	$(PIP) --require-hashes -r requirements/dev.lock
	$(PIP) --no-deps --no-build-isolation -e clients/python
	touch $@

run: $(RUNTIME_STAMP)
	$(BIN)/consent-service serve --host 127.0.0.1 --port 8000

# One line naming what the machine lacks (PostgreSQL and Redis binaries, Chromium, wrk), not a traceback.
prerequisites: $(DEV_STAMP)
	@$(BIN)/python -m tests.support.prerequisites

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

test: prerequisites lint typecheck
	$(BIN)/pytest

# The promise-breaking suites alone (they also run, shorter, inside `make test`).
prove: prerequisites
	$(BIN)/pytest -m prove tests/prove tests/properties tests/fuzz tests/contract -s

# The long runs: more opt-outs, kills, examples and rounds and the long memory soak (about 45 minutes on 2 cores).
prove-long: prerequisites
	PROVE_LONG=1 $(BIN)/pytest tests/prove tests/properties tests/fuzz tests/contract -s

openapi: $(RUNTIME_STAMP)
	$(BIN)/consent-service openapi > openapi/openapi.json

bench: $(DEV_STAMP)
	$(BIN)/python bench/core.py

# After changing a dependency in pyproject.toml: re-resolve both locks for every platform and every
# Python >= 3.11 at once, keeping the pinned versions that still fit (`make lock UPGRADE=1` takes the
# newest). The dev lock is resolved first and constrains the runtime lock, so both pin the same versions.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) 'uv>=0.9'
	$(COMPILE) --extra dev pyproject.toml requirements/build.in -o requirements/dev.lock
	$(COMPILE) -c requirements/dev.lock pyproject.toml requirements/build.in -o requirements/runtime.lock

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
