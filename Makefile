# buildstate — `make run` serves on 127.0.0.1:8080 (SQLite by default), `make test` runs everything.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export BUILDSTATE_DATABASE_URL ?= sqlite://./buildstate.db
export BUILDSTATE_HOST ?= 127.0.0.1
export BUILDSTATE_PORT ?= 8080

.PHONY: run test test-sqlite test-postgres install schema bench bench-short clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m app.manage prepare
	$(BIN)/uvicorn app.main:app --host $(BUILDSTATE_HOST) --port $(BUILDSTATE_PORT) --proxy-headers

test: test-sqlite test-postgres

test-sqlite: $(STAMP)
	BUILDSTATE_TEST_BACKEND=sqlite $(BIN)/python -m pytest -q

test-postgres: $(STAMP)
	BUILDSTATE_TEST_BACKEND=postgres $(BIN)/python -m pytest -q

schema: $(STAMP)
	$(BIN)/python -m schema.export

bench: $(STAMP)
	$(BIN)/python scripts/bench.py

bench-short: $(STAMP)
	$(BIN)/python scripts/bench.py --short

clean:
	rm -rf $(VENV) buildstate.db .pytest_cache
