# Two commands do everything on a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

# Upstream data comes from ../shared/data/mirror when that folder exists (CI, offline machines);
# otherwise it is downloaded from the pinned upstream addresses.
MIRROR_DEFAULT := $(abspath ../shared/data/mirror)
ifeq ($(origin GANDAN_DATA_MIRROR), undefined)
ifneq ($(wildcard $(MIRROR_DEFAULT)),)
export GANDAN_DATA_MIRROR := $(MIRROR_DEFAULT)
endif
endif

.PHONY: install data web-assets build run test lint bench clean

$(VENV)/.installed: pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

data: install
	$(BIN)/gandan data fetch

# Leaflet, Bootstrap, Font Awesome… for the map pages, from npm (pinned by app/pages/package-lock.json),
# copied into app/static/vendor (git-ignored) and served by the app: the maps work offline. Idempotent.
WEB_ASSETS_STAMP := app/static/vendor/.installed.json
web-assets: $(WEB_ASSETS_STAMP)
$(WEB_ASSETS_STAMP): app/pages/package.json app/pages/package-lock.json app/assets.py | install
	$(BIN)/python -m app.assets
	touch $@

# The road graphs are rebuilt only when their inputs change (about 20 s); the index always (about 2 s).
NETWORK_STAMP := build/network/manifest.json
$(NETWORK_STAMP): data/sources.toml data/network_speeds.toml | data
	$(BIN)/gandan network build

build: data web-assets $(NETWORK_STAMP)
	$(BIN)/gandan build

run: build
	$(BIN)/gandan serve --host $(HOST) --port $(PORT)

test: build
	bash scripts/test-services.sh
	$(BIN)/ruff check geo app tests scripts
	$(BIN)/mypy geo app
	$(BIN)/pytest -n 2 --dist loadfile

lint: install
	$(BIN)/ruff check geo app tests scripts
	$(BIN)/mypy geo app

bench: build
	$(BIN)/python scripts/bench.py all

clean:
	rm -rf build data/boundaries/upstream app/static/vendor
