# LSIS Tracker. `make help` lists the targets.
# Every target installs what it needs first, so `make run` and `make test` work on a fresh clone.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_BIN ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
MANAGE := $(PY) manage.py
HOST ?= 127.0.0.1
PORT ?= 8000
PRODUCTION_CHECK_ENV := DJANGO_SETTINGS_MODULE=lsis.settings.production SECRET_KEY=check-deploy-dummy-secret-$$(date +%s)-not-used-for-anything-real ALLOWED_HOSTS=lsis.example.gov.uk DATABASE_URL=sqlite:///:memory:

.PHONY: help install run test test-fast bench lint format migrations-check check-deploy clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml requirements/constraints.txt
	@test -x $(PY) || $(PYTHON_BIN) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print("\n".join(p["dependencies"] + p["optional-dependencies"]["dev"]))' > $(VENV)/requirements.txt
	$(PY) -m pip install --quiet -c requirements/constraints.txt -r $(VENV)/requirements.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

install: $(VENV)/.installed node_modules/.installed ## Create .venv and install the pinned Python and npm dependencies (idempotent)

run: install ## Migrate, load the Sector Deal data and demo users, and serve on http://127.0.0.1:8000
	$(MANAGE) migrate --no-input
	$(MANAGE) seed
	$(MANAGE) recompute_metrics
	$(MANAGE) create_demo_users
	@echo ""
	@echo "  LSIS Tracker is starting on http://$(HOST):$(PORT)/"
	@echo "  Dashboards at http://$(HOST):$(PORT)/, the admin at /admin/: sign in as admin, editor, reviewer, board or partner,"
	@echo "  password: $${DEMO_PASSWORD:-lsis-demo-only}   (demo users exist for local use only)"
	@echo "  Database: $${DATABASE_URL:-SQLite file db.sqlite3}; tasks: $${CELERY_BROKER_URL:+a Celery worker on }$${CELERY_BROKER_URL:-run in-process (no broker set)}"
	@echo ""
	@if [ -n "$$CELERY_BROKER_URL" ]; then \
		$(VENV)/bin/celery -A lsis worker --loglevel=INFO & worker=$$!; \
		trap "kill $$worker 2>/dev/null" EXIT INT TERM; \
		$(MANAGE) runserver $(HOST):$(PORT); \
	else \
		$(MANAGE) runserver $(HOST):$(PORT); \
	fi

# One test process per core, each with its own test database and Redis databases (tests/celery_worker.py).
# PYTEST_PARALLEL= (empty) runs the suite in one process.
PYTEST_PARALLEL ?= -n auto

test: install ## Run the whole test suite (uses DATABASE_URL / CELERY_BROKER_URL when set)
	$(VENV)/bin/pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS)

test-fast: install ## The suite without the tests marked slow (real worker, browser, contract, fuzz)
	$(VENV)/bin/pytest -m "not slow" $(PYTEST_PARALLEL) $(PYTEST_ARGS)

# The worker and beat need a broker: without one, tasks run in-process and there is nothing to start.
.PHONY: worker beat
REQUIRE_BROKER = @if [ -z "$$CELERY_BROKER_URL" ]; then \
	echo "CELERY_BROKER_URL is empty: set it to the Redis broker, e.g. CELERY_BROKER_URL=redis://127.0.0.1:6379/0 make $@" >&2; \
	echo "(without a broker, tasks run in-process and no worker or beat is needed)" >&2; \
	exit 1; \
fi

worker: install ## Start a Celery worker (needs CELERY_BROKER_URL)
	$(REQUIRE_BROKER)
	$(VENV)/bin/celery -A lsis worker --loglevel=INFO

beat: install ## Start Celery beat, which sends the periodic jobs (needs CELERY_BROKER_URL)
	$(REQUIRE_BROKER)
	$(VENV)/bin/celery -A lsis beat --loglevel=INFO

bench: install ## Benchmarks in throwaway databases of synthetic data: spreadsheet import, then metrics, then reminders, then the change feed (PostgreSQL: set DATABASE_URL)
	$(PY) -m tests.bench $(BENCH_ARGS)
	@if [ -z "$(BENCH_ARGS)" ]; then $(PY) -m tests.bench.reminders; fi
	@if [ -z "$(BENCH_ARGS)" ]; then $(PY) -m tests.bench.changes; fi

# --- Running as a service (docs/deploy.md) ---
.PHONY: serve-prod backup restore restore-drill drill
serve-prod: install ## Production settings on real processes: gunicorn, two Celery workers, one beat (needs DATABASE_URL, CELERY_BROKER_URL)
	$(PY) -m lsis.ops.serve $(SERVE_ARGS)

BACKUP ?= backups/lsis-$$(date -u +%Y%m%dT%H%M%SZ).dump
backup: install ## Dump the PostgreSQL database (DATABASE_URL) to BACKUP, pg_dump custom format
	$(MANAGE) backup_database --output "$(BACKUP)"

restore: install ## Restore BACKUP=<file> into the database DATABASE_URL names (empty, or RESTORE_ARGS=--replace)
	@case "$(origin BACKUP)" in command*|environment*) ;; *) echo "Name the dump: make restore BACKUP=backups/<file>.dump" >&2; exit 1;; esac
	$(MANAGE) restore_database --input "$(BACKUP)" $(RESTORE_ARGS)

restore-drill: install ## Back up DATABASE_URL, restore into a fresh database and prove it whole; prints figures
	$(MANAGE) restore_drill $(DRILL_ARGS)

drill: install ## Fault drill on loopback: 16 clients for 60 s while a worker, Redis and PostgreSQL fail; prints figures
	$(PY) -m tests.drill $(DRILL_ARGS)

lint: install ## ruff check, ruff format --check, mypy, lint-imports (layers import one way)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports

format: install ## Apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrations-check: install ## Fail if a model change has no migration
	$(MANAGE) makemigrations --check --dry-run

check-deploy: install ## Django's deployment checks under production settings, with dummy secrets
	$(PRODUCTION_CHECK_ENV) $(MANAGE) check --deploy --fail-level WARNING

clean: ## Remove the virtualenv, node_modules and collected static files (keeps the database and backups)
	rm -rf $(VENV) node_modules staticfiles
