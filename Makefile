# Funnelwatch: `make demo` starts the product with demo data, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR ?= $(CURDIR)/data/demo
HOST ?= 127.0.0.1
PORT ?= 8000
SIZE ?= S
DB ?= sqlite

.PHONY: demo test lint format venv system-deps messages bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,bench,vad]'
	touch $@

venv: $(BIN)/.installed

# Debian packages the tests use: Chromium for the browser tests, Dovecot for the IMAP tests.
system-deps:
	@scripts/system-deps.sh

messages: venv
	@$(BIN)/funnelwatch compilemessages --ignore '.venv/*' -v 0

demo: venv messages
	FUNNELWATCH_DATA_DIR=$(DEMO_DIR) scripts/demo.sh $(HOST) $(PORT)

test: venv system-deps messages
	$(BIN)/pytest -q $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: venv
	$(BIN)/python -m bench.run --size $(SIZE) --db $(DB)

clean:
	rm -rf $(VENV) data build *.egg-info
