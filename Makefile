# Aperture: `make run` starts both servers (`make dev`: reloading), `make test` runs every test,
# `make docs` builds the documentation site.
# All set up .venv first.

# The first interpreter that actually runs (a pyenv shim can be on PATH and still fail).
PYTHON ?= $(shell for p in python3.12 python3; do \
	$$p -c 'import sys; assert sys.version_info >= (3, 11)' >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
# The OpenID Connect provider the single sign-on tests run (npm package oidc-provider).
OIDC_PROVIDER := tests/oidc/node_modules/.package-lock.json

.PHONY: install test-provider run dev run-front base-image test lint format docs bench screenshot clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is required" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,docs,bench]'
	touch $@

# Without npm the single sign-on tests skip (and fail under CI=true), saying what to install.
test-provider: $(OIDC_PROVIDER)

$(OIDC_PROVIDER): tests/oidc/package.json tests/oidc/package-lock.json
	@if command -v npm >/dev/null; then npm ci --prefix tests/oidc --no-audit --no-fund; \
	else echo "npm not found: the single sign-on tests will skip (apt-get install nodejs npm)" >&2; fi

# PROCFILE=path/to/Procfile runs other commands in the same set-up (a team's own site, say).
PROCFILE ?= Procfile
run: install
	PATH="$(BIN):$$PATH" $(BIN)/honcho start --procfile $(PROCFILE)

# Both servers, reloading: saving an app's file rebuilds that app in the running Bokeh processes
# (its open pages follow), saving a catalog file restarts them, saving the site's code or a catalog
# file reloads the site; templates are read afresh.
dev: install
	PATH="$(BIN):$$PATH" $(BIN)/honcho start --procfile deploy/Procfile.dev

# The same two servers behind nginx (Debian's package), as in docker-compose: the site on :8080,
# the standalone apps on :5006.
run-front: install
	PATH="$(BIN):$$PATH" $(BIN)/honcho start --procfile deploy/Procfile.front --env deploy/front.env

# The local Debian base image for `docker-compose build` where no registry can be reached.
base-image:
	deploy/base-image/build

# First the Debian packages every test needs (installed if this can, else the command to run),
# then the test OpenID provider (npm); SYSTEM_PACKAGES=no skips the first, and the tests that need
# a missing package then skip.
SYSTEM_PACKAGES ?= yes
test: install
	@test "$(SYSTEM_PACKAGES)" = no || deploy/system-packages
	@$(MAKE) --no-print-directory test-provider
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@$(MAKE) --no-print-directory docs
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The documentation site, from docs/ into site/ (git-ignored): offline (no fonts, no scripts
# fetched) and strict, so a broken link or any warning fails the build. The settings reference
# is generated from the code that reads the settings while it builds (docs/hooks/).
# (Not --quiet: it hides the warnings from the strict check too, and the build passes.)
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# Each script prints our way next to the naive way; BENCH_SECONDS is the length of each
# throughput row (6 rows), the rest is bounded by counts.
BENCH_SECONDS ?= 15
bench: install
	$(BIN)/python bench/live_page_views.py --seconds $(BENCH_SECONDS)
	$(BIN)/python bench/page_ttfb.py
	$(BIN)/python bench/unfollowed_pages.py
	$(BIN)/python bench/time_to_plot.py
	$(BIN)/python bench/session_cleanup.py
	$(BIN)/python bench/login_lookup.py
	$(BIN)/python bench/audit_trail.py
	$(BIN)/python bench/login_check.py
	$(BIN)/python bench/stream_capacity.py
	$(BIN)/python bench/recycling_rss.py
	$(BIN)/python bench/restore_after_kill.py
	$(BIN)/python bench/shared_views.py
	$(BIN)/python bench/dev_loop.py
	$(BIN)/python bench/shared_views_across_processes.py

# Refreshes the screenshot of the README and the documentation site from the browser tests.
screenshot: install
	APERTURE_SCREENSHOT_DIR=$(CURDIR)/docs $(BIN)/python -m pytest tests/browser -k sliders_page_shows_the_live_app

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache tests/artifacts tests/oidc/node_modules site
