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

.PHONY: install data build run test lint bench clean

$(VENV)/.installed: pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

data: install
	$(BIN)/gandan data fetch

build: data
	$(BIN)/gandan build
	$(BIN)/gandan network build

run: build
	$(BIN)/gandan serve --host $(HOST) --port $(PORT)

test: build
	bash scripts/test-services.sh
	$(BIN)/ruff check geo app tests scripts
	$(BIN)/mypy geo app
	$(BIN)/pytest -n 2

lint: install
	$(BIN)/ruff check geo app tests scripts
	$(BIN)/mypy geo app

bench: build
	$(BIN)/python scripts/bench.py all

clean:
	rm -rf build data/boundaries/upstream
