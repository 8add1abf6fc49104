# buildstate — `make run` serves on 127.0.0.1:8080 (SQLite by default), `make test` runs everything.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export BUILDSTATE_DATABASE_URL ?= sqlite://./buildstate.db
export BUILDSTATE_HOST ?= 127.0.0.1
export BUILDSTATE_PORT ?= 8080

.PHONY: run run-cluster orchestrator webhook-sender cleanup cleanup-dry-run test test-sqlite test-postgres install schema bench bench-short clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# With a CI platform configured, `make run` runs the orchestrator and webhook sender in-process.
PLATFORM_URLS := $(BUILDSTATE_JENKINS_URL)$(BUILDSTATE_CONCOURSE_URL)$(BUILDSTATE_GENERIC_TRIGGER_URL)
RUN_ORCHESTRATOR := $(or $(BUILDSTATE_ORCHESTRATOR),$(if $(PLATFORM_URLS),embedded))

run: $(STAMP)
	$(BIN)/python -m app.manage prepare
	$(if $(RUN_ORCHESTRATOR),BUILDSTATE_ORCHESTRATOR=$(RUN_ORCHESTRATOR) )$(BIN)/uvicorn app.main:app --host $(BUILDSTATE_HOST) --port $(BUILDSTATE_PORT) --proxy-headers

# API=N API processes on ports BUILDSTATE_PORT.. and WORKERS=M of each worker, on one PostgreSQL.
API ?= 2
WORKERS ?= 1
run-cluster: $(STAMP)
	$(BIN)/python scripts/run_cluster.py --api $(API) --workers $(WORKERS)

orchestrator: $(STAMP)
	$(BIN)/python -m app.workers.orchestrator

webhook-sender: $(STAMP)
	$(BIN)/python -m app.workers.webhook_sender

# Retire expired artifacts (ARGS=--delete-from-storage also deletes the objects; see app/workers/cleanup.py).
cleanup: $(STAMP)
	$(BIN)/python -m app.workers.cleanup $(ARGS)

cleanup-dry-run: $(STAMP)
	$(BIN)/python -m app.workers.cleanup --dry-run $(ARGS)

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
