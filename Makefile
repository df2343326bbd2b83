# Two commands do all set-up on a fresh machine (see README):
#   make demo   venv + install + sample data + dbt build of the sample project + summary
#   make test   venv + install + every test (pytest, which also builds the sample project
#               and the macros' integration project with real dbt on real DuckDB)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SCALE ?= 1
JOBS ?= 2

# dbt must make no network calls (the project's dbt_project.yml says so too).
export DO_NOT_TRACK := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DBT_VERSION_CHECK := false

.PHONY: setup demo test data build lint bench clean

# The venv is rebuilt when pyproject.toml changes.
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

profiles.yml:
	cp profiles.yml.example profiles.yml

setup: $(BIN)/.installed profiles.yml

data: setup
	$(BIN)/python -m sample_data --scale $(SCALE)

build: setup
	$(BIN)/dbt build

demo: data
	$(BIN)/python -m sample_data.demo

test: setup
	$(BIN)/python -m pytest -n $(JOBS)

lint: setup
	$(BIN)/ruff check generator sample_data tests benchmarks
	$(BIN)/ruff format --check generator sample_data tests benchmarks

bench: setup
	$(BIN)/python -m benchmarks

clean:
	rm -rf target logs dbt_packages data/raw *.duckdb .pytest_cache
