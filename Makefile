# Lagebild: set-up, run and test. Two commands for a fresh machine: `make run`, `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501

.PHONY: run test lint venv dev assets chromium postgres axe a11y demo bench bench-load screenshot clean

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  echo "python3-venv is missing: installing it with apt-get"; \
	  $(SUDO) apt-get update && $(SUDO) apt-get install -y python3-venv && $(PYTHON) -m venv $(VENV); }

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(VENV)/.runtime: $(BIN)/python requirements.txt constraints.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	@touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	@touch $@

venv: $(VENV)/.runtime
dev: $(VENV)/.dev

# Leaflet and plugins are copied from their PyPI packages into static/vendor (git-ignored).
assets: $(VENV)/.runtime
	$(BIN)/python -m geo.assets

# Debian's Chromium for the browser tests (never a downloaded browser).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium with apt-get"; \
	  $(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y chromium; }

# Debian's PostgreSQL 15 + PostGIS 3 and nginx: the database-store tests start a throwaway
# cluster (as an unprivileged user, see tests/pgcluster.py); bench/load.py also runs nginx.
PG_BIN := /usr/lib/postgresql/15/bin
postgres:
	@{ [ -x $(PG_BIN)/initdb ] && [ -f /usr/share/postgresql/15/extension/postgis.control ] \
	   && [ -x /usr/sbin/nginx ]; } || { \
	  echo "installing postgresql-15, postgresql-15-postgis-3 and nginx with apt-get"; \
	  $(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y \
	    --no-install-recommends postgresql-15 postgresql-15-postgis-3 nginx; }

# axe-core (accessibility engine for the browser tests) from npm, pinned in package-lock.json.
node_modules/axe-core/axe.min.js: package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
	  echo "installing Debian's npm with apt-get"; \
	  $(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y npm; }
	npm ci --ignore-scripts --no-audit --no-fund
	@touch $@

axe: node_modules/axe-core/axe.min.js

# Accessibility audit: axe-core on every page, German and English, in every frame.
a11y: dev assets chromium axe
	$(BIN)/python scripts/a11y_audit.py

# app.py = dashboard.py plus the app's own tile route (local base maps, cache of viewed tiles).
run: assets chromium
	$(BIN)/streamlit run app.py --server.port $(PORT)

lint: dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# Unit and AppTests in parallel on both cores (pytest-xdist), then the browser tests one at a
# time (each starts its own streamlit server and Chromium).
test: dev assets chromium axe postgres
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n 2 -m "not browser"
	$(BIN)/python -m pytest -m browser

demo: venv
	$(BIN)/python -m data demo --out data/demo
	$(BIN)/python -m data plan data/demo --start 2026-04-01 --weeks 13 --name "Demo: Streifenplan 2026-Q2" --ship data/demo_plans

bench: dev assets chromium
	$(BIN)/python bench/run.py --complaints 1000000 --pings 10000000

# Shared deployment under load: throwaway PostgreSQL, two replicas, nginx (bench/load.py).
bench-load: dev assets postgres
	$(BIN)/python bench/load.py

screenshot: dev assets chromium
	$(BIN)/python scripts/screenshot.py

clean:
	rm -rf $(VENV) static/vendor .pytest_cache test-output node_modules
