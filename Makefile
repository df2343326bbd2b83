# Two commands do all set-up on a fresh machine (see README):
#   make demo   venv + locked install + sample data + dbt build of the sample project + summary
#   make test   venv + locked install (+ a JDK from apt if missing) + every test (pytest,
#               which builds the sample project and the macros' integration project with
#               real dbt on real DuckDB, and shop_project on a local Spark session)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SCALE ?= 1
JOBS ?= 2
LOCK := requirements/dev.txt
STEP := $(PYTHON) tools/step.py

# dbt must make no network calls (the project's dbt_project.yml says so too).
export DO_NOT_TRACK := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DBT_VERSION_CHECK := false

.PHONY: setup jdk demo test test-latest lock data build lint bench clean

# The venv is rebuilt when the lock or pyproject.toml changes. Exactly the locked versions
# are installed (hashes checked, nothing resolved): uv first, with pip, from its own pinned
# file; then uv installs the lock (it is several times faster than pip and shows progress),
# then this package itself without resolving anything.
$(BIN)/.installed: $(LOCK) requirements/uv.txt requirements/build-constraints.txt pyproject.toml
	@$(STEP) "Creating the virtualenv $(VENV)" -- $(PYTHON) -m venv --clear $(VENV)
	@$(STEP) "Installing uv (requirements/uv.txt, hashes checked)" \
		-- $(BIN)/python -m pip install --disable-pip-version-check --require-hashes --no-deps -r requirements/uv.txt
	@$(STEP) "Installing $$(grep -c '^[a-z]' $(LOCK)) locked packages from $(LOCK) (hashes checked)" \
		-- $(BIN)/uv pip install --python $(BIN)/python --require-hashes --no-deps \
		--build-constraints requirements/build-constraints.txt -r $(LOCK)
	@$(STEP) "Installing gen-model itself (editable)" \
		-- $(BIN)/uv pip install --python $(BIN)/python --no-deps --no-build-isolation -e .
	@$(BIN)/python tools/lockcheck.py
	touch $@

profiles.yml:
	cp profiles.yml.example profiles.yml

setup: $(BIN)/.installed profiles.yml

data: setup
	@$(STEP) "Generating the sample data (scale $(SCALE))" -- $(BIN)/python -m sample_data --scale $(SCALE)

build: setup
	$(BIN)/dbt build

demo: data
	$(BIN)/python -m sample_data.demo
	@echo
	@echo "Next: run gen-model from this folder as .venv/bin/gen-model --help"
	@echo "      (or 'source .venv/bin/activate' once, then gen-model \"your request\")."

jdk:
	@bash tools/ensure-jdk.sh

test: setup jdk
	$(BIN)/python -m pytest -n $(JOBS) $(PYTEST_ARGS)

# Re-resolve the lock at the newest versions pyproject.toml's ranges allow (commit the result).
lock: setup
	$(BIN)/uv pip compile pyproject.toml requirements/tools.in --extra dev --extra spark --generate-hashes \
		--universal --python-version 3.11 --no-header --upgrade -o $(LOCK)
	$(BIN)/uv pip compile requirements/build.in --generate-hashes --universal --python-version 3.11 \
		--no-header --upgrade -o requirements/build-constraints.txt
	$(BIN)/uv pip compile requirements/uv.in --constraint $(LOCK) --generate-hashes \
		--universal --python-version 3.11 --no-header -o requirements/uv.txt
	$(BIN)/python tools/lockcheck.py

# Drift check: the newest versions the ranges allow, unlocked, in a venv of its own.
test-latest: jdk
	@$(STEP) "Creating .venv-latest" -- $(PYTHON) -m venv .venv-latest
	@$(STEP) "Installing the newest versions pyproject.toml allows (not the lock)" \
		-- .venv-latest/bin/python -m pip install --disable-pip-version-check --upgrade -e '.[dev,spark]'
	test -f profiles.yml || cp profiles.yml.example profiles.yml
	.venv-latest/bin/python -m pytest -n $(JOBS)

lint: setup
	$(BIN)/ruff check generator sample_data tests benchmarks tools
	$(BIN)/ruff format --check generator sample_data tests benchmarks tools

bench: setup
	$(BIN)/python -m benchmarks

clean:
	rm -rf target logs dbt_packages data/raw *.duckdb .pytest_cache
