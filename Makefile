# Aperture: `make run` starts both servers, `make test` runs every test. Both set up .venv first.

# The first interpreter that actually runs (a pyenv shim can be on PATH and still fail).
PYTHON ?= $(shell for p in python3.12 python3; do \
	$$p -c 'import sys; assert sys.version_info >= (3, 11)' >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run run-front base-image test lint format bench screenshot clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is required" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

run: install
	PATH="$(BIN):$$PATH" $(BIN)/honcho start --procfile Procfile

# The same two servers behind nginx (Debian's package), as in docker-compose: the site on :8080,
# the standalone apps on :5006.
run-front: install
	PATH="$(BIN):$$PATH" $(BIN)/honcho start --procfile deploy/Procfile.front --env deploy/front.env

# The local Debian base image for `docker-compose build` where no registry can be reached.
base-image:
	deploy/base-image/build

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Each script prints our way next to the naive way; BENCH_SECONDS is the length of each
# throughput row (6 rows), the rest is bounded by counts.
BENCH_SECONDS ?= 15
bench: install
	$(BIN)/python bench/live_page_views.py --seconds $(BENCH_SECONDS)
	$(BIN)/python bench/page_ttfb.py
	$(BIN)/python bench/unfollowed_pages.py
	$(BIN)/python bench/time_to_plot.py
	$(BIN)/python bench/session_cleanup.py
	$(BIN)/python bench/stream_capacity.py
	$(BIN)/python bench/recycling_rss.py
	$(BIN)/python bench/shared_views.py

# Refreshes the README's screenshot from the browser tests.
screenshot: install
	APERTURE_SCREENSHOT_DIR=$(CURDIR)/docs $(BIN)/python -m pytest tests/browser -k sliders_page_shows_the_live_app

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache tests/artifacts
