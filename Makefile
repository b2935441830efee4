# The platform's commands. `make demo` and `make test` are all a newcomer needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export GX_ANALYTICS_ENABLED := false
export DAGSTER_HOME ?= $(CURDIR)/data/dagster_home
export DO_NOT_TRACK := 1

.PHONY: setup demo run test test-fast dev bench validate lint contract clean help

help:
	@echo "make demo   set up, generate the demo extract, build everything, print where the outputs are"
	@echo "make test   run the test suite (sets up the environment if needed)"
	@echo "make run    materialise the whole graph on DA_EXTRACT_DIR"
	@echo "make dev    the Dagster UI on http://127.0.0.1:3000"
	@echo "make bench  benchmarks at wmp scale (generator, dbt build, typology, regressions, evaluation)"
	@echo "make validate  the evaluation's simulation study (bias, RMSE, coverage; reports/validation/)"
	@echo "make lint   ruff (Python) and sqlfluff (dbt models); the generated contract files up to date"
	@echo "make contract  regenerate the files that restate the extract contract (dap/contract.yml)"

# Idempotent: re-runs pip only when pyproject.toml or constraints.txt change.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/dap synth --scale demo --seed 1 --out data/extracts/demo --if-missing
	DA_EXTRACT_DIR=$(CURDIR)/data/extracts/demo $(BIN)/dap run

run: setup
	$(BIN)/dap run

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: setup
	$(BIN)/python -m pytest -m "not slow and not browser and not postgres" $(PYTEST_ARGS)

dev: setup
	@$(BIN)/python -c 'import pathlib, sys; from dap.commands.run import ensure_instance_config; ensure_instance_config(pathlib.Path(sys.argv[1]))' "$(DAGSTER_HOME)"
	$(BIN)/python -m orchestration.lib.dbt_cli
	$(BIN)/dagster dev -m orchestration.definitions -h 127.0.0.1 -p 3000

bench: setup
	$(BIN)/python -m bench

# The evaluation's simulation study: 200 replicates × 4 scenarios × 2 true effects on both cores.
validate: setup
	nice -n 10 $(BIN)/python -m validation --replicates $(or $(REPLICATES),200) --out reports/validation

# The extract contract is dap/contract.yml; this rewrites the dbt YAML, macros, vars and README table from it.
contract: setup
	$(BIN)/python -m dap.contract_gen

# ruff for the Python, sqlfluff (.sqlfluff: the jinja templater, no warehouse needed) for the dbt models, and
# the generated contract files up to date.
lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint dbt_project/models
	$(BIN)/python -m dap.contract_gen --check

clean:
	rm -rf data/warehouse* data/versions data/builds reports dbt_project/target
