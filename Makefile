# One entry point for people and CI. `make` builds the venv (and generates the CRI stubs);
# `make test` runs the whole suite; `make check` runs the linters, the layering contracts and the
# check that importing our code generates nothing.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: all venv test check unit e2e bench clean

all: venv

venv: $(STAMP)

$(STAMP): pyproject.toml hack/install-deps.sh cri/proto/runtime.proto
	bash hack/install-deps.sh
	@touch $@

check: $(STAMP)
	$(VENV)/bin/ruff check apis httpstream pki server client controllers scheduler kubelet tools cri vmruntime gateway proxy test bench hack
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(PY) hack/verify-import-writes-nothing.py

test: $(STAMP)
	$(PY) -m pytest -q -ra $(PYTEST_ARGS) test

unit: $(STAMP)
	$(PY) -m pytest -q test/unit test/storage

e2e: $(STAMP)
	$(PY) -m pytest -q -ra test/e2e

bench: $(STAMP)
	bash bench/run-all.sh

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
