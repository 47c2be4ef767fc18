# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONSTRAINTS := constraints.txt
STAMP_CORE := $(VENV)/.installed-core
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: demo test services lint typecheck imports pytest install install-dev lock clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_CORE): pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e .
	touch $@

$(STAMP_DEV): pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e '.[dev]'
	touch $@ $(STAMP_CORE)

install: $(STAMP_CORE)
install-dev: $(STAMP_DEV)

## demo: install (first time) and run a 30-second load test against the bundled reference agent
demo: $(STAMP_CORE)
	$(BIN)/agentload demo

## test: install the dev extras and run lint, types, import contracts and the test suite
test: $(STAMP_DEV) services lint typecheck imports pytest

## services: programs the tests start themselves (a real redis-server, headless chromium); installed once
services:
	@command -v redis-server >/dev/null 2>&1 || { \
	  echo "installing redis-server (the Redis store tests start one on loopback)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >/dev/null \
	  || { echo "could not install redis-server; install it and rerun" >&2; exit 1; }; }
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing chromium (the HTML report tests open report.html in it, headless)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null \
	  || { echo "could not install chromium; install it and rerun" >&2; exit 1; }; }

lint: $(STAMP_DEV)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP_DEV)
	$(BIN)/mypy

imports: $(STAMP_DEV)
	$(BIN)/lint-imports

pytest: $(STAMP_DEV)
	$(BIN)/python -m pytest -q

## bench: benchmarks of the load generator itself (under 15 minutes); updates docs/performance.md
## (first installs the peers it compares against, once, into bench/.peers/: see bench/peers.py)
bench: $(STAMP_CORE)
	$(BIN)/python bench/run_all.py

## lock: re-pin every dependency (run after changing pyproject.toml)
lock: | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip freeze --exclude-editable --exclude agentload > $(CONSTRAINTS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
