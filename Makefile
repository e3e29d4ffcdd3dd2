# Two commands: `make demo` (set up, run the demo) and `make test` (set up, run the tests).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench clean proto

demo: $(STAMP)
	$(BIN)/cleanroom demo

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

bench: $(STAMP)
	$(BIN)/pip install -q -e '.[test,bench]'
	$(BIN)/python benchmarks/blind_bench.py

# Regenerate the gRPC/protobuf code from proto/ (tests fail when it is stale).
proto: $(STAMP)
	$(BIN)/python -m cleanroom.wire.codegen

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
