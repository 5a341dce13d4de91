# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
# Everything the project needs is installed from here (a virtual environment in .venv).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
MADOGUCHI := $(BIN)/madoguchi

.PHONY: run test install lint typecheck unit check-format format bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

install: $(STAMP)

## make run: install, migrate both zones, seed demo data once, start both zones.
run: install
	$(MADOGUCHI) issuance db upgrade
	$(MADOGUCHI) reservation db upgrade
	$(MADOGUCHI) issuance seed-demo
	$(MADOGUCHI) reservation seed-demo
	$(MADOGUCHI) up

## make test: install, lint, type-check and run the whole suite on real PostgreSQL.
test: install lint typecheck
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python bench/sync_bundle.py

clean:
	rm -rf $(VENV) var/test-pg .mypy_cache .ruff_cache .pytest_cache
