# OpenEM: `make demo` and `make test` set up everything they need on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PG_URL ?= postgres://postgres@127.0.0.1:5432/openem

.PHONY: demo test test-fast test-browser test-postgres test-slow check lint typecheck bootstrap system-packages bench bench-quick clean

bootstrap: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Chromium drives the browser tests. Installed from Debian's packages when we are root;
# otherwise the browser tests skip with a message saying how to install it.
system-packages:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian's chromium for the browser tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-liberation >/dev/null) \
	      || echo "Could not install chromium; browser tests will be skipped"; \
	  else echo "chromium not found: browser tests will be skipped (apt-get install chromium)"; fi; \
	fi
	@# PostGIS: `openem bench crime` measures crime matching beside it (docs/crime.md, "Speed").
	@if ! dpkg -s postgresql-15-postgis-3 >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian's PostGIS for the crime matching bench"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15-postgis-3 >/dev/null) \
	      || echo "Could not install PostGIS; openem bench crime will report the matcher alone"; \
	  else echo "PostGIS not found: openem bench crime will report the matcher alone (apt-get install postgresql-15-postgis-3)"; fi; \
	fi

# The demo runs with the shipped development settings and without two-factor sign-in (openem.safety).
demo: export OPENEM_DEMO = 1
demo: bootstrap
	$(BIN)/openem migrate --noinput
	$(BIN)/openem demo-setup
	@echo "OpenEM portal: http://$(HOST):$(PORT)/  (the simulated caseload is fed live; stop with Ctrl-C)"
	$(BIN)/openem run $(HOST):$(PORT) --demo-live

test: bootstrap system-packages
	$(BIN)/pytest -m "not slow"

test-fast: bootstrap
	$(BIN)/pytest -m "not slow and not browser"

test-slow: bootstrap system-packages
	$(BIN)/pytest -m slow

test-postgres: bootstrap
	DATABASE_URL=$(PG_URL) $(BIN)/pytest -m "not slow"

bench: bootstrap system-packages
	$(BIN)/openem bench engine
	$(BIN)/openem bench detection
	$(BIN)/openem bench alerts
	$(BIN)/openem bench ingest
	$(BIN)/openem bench trail
	$(BIN)/openem bench simulate
	$(BIN)/openem bench national
	$(BIN)/openem bench crime
	$(BIN)/openem bench caselist
	$(BIN)/openem bench mi

bench-quick: bootstrap system-packages
	$(BIN)/openem bench engine --quick
	$(BIN)/openem bench detection --quick
	$(BIN)/openem bench alerts --quick
	$(BIN)/openem bench ingest --quick
	$(BIN)/openem bench trail --quick
	$(BIN)/openem bench simulate --quick
	$(BIN)/openem bench national --quick
	$(BIN)/openem bench crime --quick
	$(BIN)/openem bench caselist --quick
	$(BIN)/openem bench mi --quick

lint: bootstrap
	$(BIN)/ruff check openem tests
	$(BIN)/ruff format --check openem tests

typecheck: bootstrap
	$(BIN)/mypy openem

check: lint typecheck

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .mypy_cache .ruff_cache
