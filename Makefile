# govflow — two commands do all set-up: `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
export GOVFLOW_TEST_PG_URL ?= postgresql://postgres@127.0.0.1:5432/test

WEB_DEPS := web/node_modules/.installed

.PHONY: run test test-fast load bench bench-engine bench-instructions bench-timers lint format postgres browser clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "govflow needs $(PYTHON)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## web/node_modules: the browser libraries the workspace serves (htmx, bpmn-js, form-js), from package-lock.json
$(WEB_DEPS): web/package.json web/package-lock.json
	@command -v npm >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq npm; }
	cd web && npm ci --ignore-scripts --no-audit --no-fund
	touch $(WEB_DEPS)

## browser: Debian's chromium and a Chinese font for the browser tests (never `playwright install`)
browser:
	@test -x /usr/bin/chromium && fc-list :lang=zh 2>/dev/null | grep -q . || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-zenhei; }

## run: install, create the SQLite database, load the demo org and the process library, serve on :8000
## with a worker beside it (timers, deadlines, messages, the daily purge, verifications asked for)
run: $(STAMP) $(WEB_DEPS)
	$(BIN)/govflow init --demo
	@echo "Serving the workspace at http://$(HOST):$(PORT) with a worker beside it  (Ctrl-C stops both)"
	$(BIN)/govflow worker --name demo-worker & worker=$$!; trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT; \
	  $(BIN)/govflow serve --host $(HOST) --port $(PORT)

## postgres: start the local PostgreSQL cluster if it is not running (tests need it)
postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || \
	  (pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start && sleep 2) || true

## test: the whole suite, on SQLite and PostgreSQL, with the browser tests (screenshots in tests/artifacts/),
## in TEST_WORKERS processes (pytest-xdist; a test file stays in one process, its fixtures and artifacts with it)
TEST_WORKERS ?= 2
test: $(STAMP) $(WEB_DEPS) browser postgres
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile

## test-fast: SQLite only, without the subprocess tests
test-fast: $(STAMP)
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile -m "not postgres and not slow"

## load: 50 officials for 60 s against `govflow serve --workers 4` on PostgreSQL (make test runs 15 s of it)
load: $(STAMP) postgres
	GOVFLOW_LOAD_SECONDS=60 $(BIN)/pytest -q -s -m load tests/test_load.py

## bench: every figure of issue 9 in one table (bench/run.py; bench/results.json); BENCH_ARGS=--smoke for a quick check
bench: $(STAMP) postgres
	$(BIN)/python -m bench.run $(BENCH_ARGS)

## bench-engine: the engine benchmark alone (in-memory SpiffWorkflow vs govflow on SQLite and PostgreSQL)
bench-engine: $(STAMP) postgres
	$(BIN)/python bench/engine.py

## bench-instructions: instructions per instance under callgrind, govflow vs in-memory SpiffWorkflow (repeats within 1%)
bench-instructions: $(STAMP) postgres
	@command -v valgrind >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq valgrind; }
	$(BIN)/python -m bench.instructions --postgres

## bench-timers: due jobs per second with 1 and 2 workers on PostgreSQL, and the delay to firing
bench-timers: $(STAMP) postgres
	$(BIN)/python bench/timers.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) govflow.db govflow.db-wal govflow.db-shm .pytest_cache web/node_modules tests/artifacts
