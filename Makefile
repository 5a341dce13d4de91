# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
# Everything the project needs is installed from here (a virtual environment in .venv).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)
MADOGUCHI := $(BIN)/madoguchi

.PHONY: run test install lock lint typecheck unit check-format format bench clean assets translations

## Python packages: pyproject.toml's ranges, at the exact versions of constraints.txt.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

install: $(STAMP) assets translations

## make lock: the newest releases within pyproject.toml's ranges, resolved in a scratch venv
## and written to constraints.txt (then run make test, and commit both).
LOCK_VENV := var/lock-venv
lock:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LOCK_VENV)/bin/python -m pip install --quiet -e ".[dev]"
	{ sed -n '/^#/p' constraints.txt; $(LOCK_VENV)/bin/python -m pip freeze --exclude-editable; } > constraints.txt.new
	mv constraints.txt.new constraints.txt
	rm -rf $(LOCK_VENV)

## Front-end files from the npm registry: htmx (served, copied into web/static/vendor)
## and axe-core (browser tests). `npm ci` installs exactly package-lock.json.
NODE_STAMP := node_modules/.package-lock.json
HTMX := web/static/vendor/htmx.min.js

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $(NODE_STAMP)

$(HTMX): $(NODE_STAMP)
	mkdir -p $(dir $(HTMX))
	cp node_modules/htmx.org/dist/htmx.min.js $(HTMX)
	cp node_modules/htmx.org/LICENSE $(dir $(HTMX))htmx.LICENSE

assets: $(HTMX)

## Page texts: extract every msgid (Babel), merge into the ja/en catalogs, compile the .mo files.
translations: $(STAMP)
	$(BIN)/pybabel --quiet extract -F babel.cfg -k N_ --no-location --sort-output \
		--project=madoguchi --copyright-holder="Madoguchi contributors" \
		-o web/translations/messages.pot web
	$(BIN)/pybabel --quiet update -i web/translations/messages.pot -d web/translations -D messages \
		--no-fuzzy-matching --ignore-obsolete --ignore-pot-creation-date --width=100
	$(BIN)/pybabel --quiet compile -d web/translations -D messages

## make run: install, migrate both zones, seed demo data once, start both zones.
run: install
	$(MADOGUCHI) issuance db upgrade
	$(MADOGUCHI) reservation db upgrade
	$(MADOGUCHI) demo seed
	$(MADOGUCHI) up

## make test: install, lint, type-check and run the whole suite on real PostgreSQL.
test: install lint typecheck
	@test -x /usr/bin/chromium || echo "make test: no Chromium at /usr/bin/chromium (apt-get install chromium): the browser tests are skipped$${CI:+, and fail because CI=true}."
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## make bench: every benchmark with its baseline in the same run (figures: bench/README.md).
bench: install
	$(BIN)/python -m bench.sync_bundle
	$(BIN)/python -m bench.access_log
	$(BIN)/python -m bench.booking_surge
	$(BIN)/python -m bench.card_import

clean:
	rm -rf $(VENV) var/test-pg .mypy_cache .ruff_cache .pytest_cache node_modules web/static/vendor
	find web/translations -name '*.mo' -delete
