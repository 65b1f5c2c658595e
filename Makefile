# dealreg: `make run` runs the stack on its local default, `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test test-unit lint typecheck pytest clean bench chaos browser screenshots billing-example

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "dealreg needs Python 3.11+")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/dealreg up

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy dealreg tests examples/billing examples/audit bench chaos

pytest: $(VENV)/.installed-dev browser
	$(BIN)/pytest -q

# The browser tests (tests/browser) drive Debian's chromium with Playwright (no browser is
# downloaded): installed here when missing, as root.
CHROMIUM := /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) || { \
	  echo "installing Debian's chromium for the browser tests (apt-get)"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends chromium >/dev/null; } || { \
	    echo "dealreg: cannot install chromium: run 'apt-get install chromium' as root (the browser tests need $(CHROMIUM))" >&2; \
	    exit 1; }; }

# The console's screenshots in docs/console/, made by the browser tests.
screenshots: $(VENV)/.installed-dev browser
	DEALREG_SCREENSHOTS=docs/console $(BIN)/pytest -q tests/browser -k "not postgres"

test: lint typecheck pytest

# The fast tier alone (pure rules, no broker, no database): seconds.
test-unit: $(VENV)/.installed-dev
	$(BIN)/pytest -q tests/unit

# Benchmark (issue #7), not part of `make test`: local broker + PostgreSQL
# (DEALREG_BENCH_DATABASE_URL); prints the table and writes bench/results.json.
BENCH_ARGS ?= --scale

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	@touch $@ $(VENV)/.installed

bench: $(VENV)/.installed-bench
	$(BIN)/python -m bench $(BENCH_ARGS)

# The billing example (docs/billing.md) with its own client, confluent-kafka, which
# `make run` does not install: applies every payout of the running stack once.
BILLING_ARGS ?= --bootstrap 127.0.0.1:9092 --db billing.sqlite --idle-exit 5

$(VENV)/.installed-billing: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[billing]'
	@touch $@ $(VENV)/.installed

billing-example: $(VENV)/.installed-billing
	$(BIN)/python examples/billing/consumer.py $(BILLING_ARGS)

clean:
	rm -rf $(VENV) .dealreg .mypy_cache .ruff_cache .pytest_cache

# The long chaos run (the short one is part of `make test`): 10,000 registrations and 3,000
# deals, faults for 5 minutes; CHAOS_ARGS="--registrations N --fault-seconds S …" to change.
chaos: $(VENV)/.installed-dev
	$(BIN)/python -m chaos $(CHAOS_ARGS)
