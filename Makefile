# Two commands: `make demo` (set up, run the demo) and `make test` (set up, run the tests).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast test-e2e lint fuzz bench clean proto chromium bytecode

demo: $(STAMP)
	$(BIN)/cleanroom demo

# Everything: lint, then every test (tests/unit and tests/e2e). `--dist loadfile` keeps each end-to-end
# module on one worker (tests/e2e/conftest.py), so modules run in parallel and unit tests fill the gaps.
test: lint chromium bytecode
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

# Unit tests only (tests/unit: no coordinator process, no gRPC server, no browser): the development loop.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q tests/unit

# End-to-end tests only (tests/e2e: real processes over mTLS gRPC and HTTP, a browser).
test-e2e: $(STAMP) chromium bytecode
	$(BIN)/python -m pytest -n 2 --dist loadfile -q tests/e2e

# The tests start a thousand client and coordinator processes: each would compile every module it imports
# from source where PYTHONDONTWRITEBYTECODE is set (as on CI machines), ~0.1 s a process. Written once here
# (__pycache__ is ignored by git; a stale file is simply recompiled by Python).
bytecode: $(STAMP)
	$(BIN)/python -m compileall -q cleanroom clients

# Lint, format, types, the architecture contracts (pyproject.toml) and the size limits (tools/check_size.py).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo
	$(BIN)/python tools/check_size.py

# Page tests drive Debian's chromium with Playwright (never Playwright's own download).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# Every fuzzing harness (fuzz/) for FUZZ_SECONDS each (default 5 minutes), from a fresh libFuzzer seed.
# `make test` runs them too, for 8 s each from a fixed seed (tests/e2e/test_fuzzing.py).
FUZZ_SECONDS ?= 300
fuzz: $(STAMP)
	$(BIN)/python -m fuzz.run_all --seconds $(FUZZ_SECONDS) --seed 0

bench: $(STAMP)
	$(BIN)/pip install -q -e '.[test,bench]'
	$(BIN)/python benchmarks/blind_bench.py

# Regenerate the gRPC/protobuf code from proto/ (tests fail when it is stale).
proto: $(STAMP)
	$(BIN)/python -m cleanroom.wire.codegen

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,fast]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
