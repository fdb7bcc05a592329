# GovBus — the two commands of the quick start are `make demo` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
UV_VERSION := 0.13.9

# Airflow runs with the repository as its home: airflow.cfg here, DAGs in dags/,
# its metadata database under .govbus/ (git-ignored).
export AIRFLOW_HOME   := $(CURDIR)
export AIRFLOW_CONFIG := $(CURDIR)/airflow.cfg
export GOVBUS_HOME    ?= $(CURDIR)/.govbus
# The database tests run against these servers (set them empty to skip those tests).
export GOVBUS_TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
export GOVBUS_TEST_MARIADB_URL  ?= mysql+pymysql://root@127.0.0.1:3306/test

.PHONY: install browser demo airflow airflow-celery test lint bench bench-dlt lock clean

install: $(VENV)/.installed

# With PYTHONDONTWRITEBYTECODE=1 (as on these machines) Python caches no bytecode, so the
# install compiles it: the dependencies through uv (about 25 s once), GovBus's own modules
# through compileall (quiet; a failure to compile does not fail the install). Without it
# every `govbus` command compiles pandas, SQLAlchemy, ... from source as it starts.
$(VENV)/.installed: requirements.lock setup.cfg setup.py pyproject.toml govbus/_sha256_batch.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	-$(BIN)/python -m compileall -q govbus connectors schemas contracts consent audit exchange
	touch $@

demo: install
	$(BIN)/govbus demo

# Airflow's metadata DB (.govbus/airflow.db), one pool per source agency, and the DAG
# files parsed once (so `airflow dags list` shows them before a DAG processor runs); then
# `airflow standalone` with the venv on PATH runs them (docs/airflow.md). Quiet: Airflow
# logs warnings only, and its graphviz notice (the CLI's graph rendering) is left out.
AIRFLOW_QUIET := AIRFLOW__LOGGING__LOGGING_LEVEL=WARNING PYTHONWARNINGS="ignore:Could not import graphviz"
airflow: install
	@mkdir -p .govbus
	@echo "airflow db migrate: metadata in .govbus/airflow.db"
	@$(AIRFLOW_QUIET) $(BIN)/airflow db migrate
	@$(BIN)/govbus airflow pools
	@echo "airflow dags reserialize: the DAG files parsed into the metadata DB"
	@$(AIRFLOW_QUIET) $(BIN)/airflow dags reserialize
	@echo "Next (docs/airflow.md): PATH=$(CURDIR)/$(BIN):\$$PATH AIRFLOW__API__HOST=127.0.0.1 airflow standalone"

# Airflow with the CeleryExecutor on this machine (docs/deployment.md): PostgreSQL holds
# Airflow's metadata (database govbus_airflow, created if missing) and the GovBus state (its
# schema govbus); Redis is the broker (AIRFLOW_CELERY_BROKER=amqp://guest:guest@127.0.0.1:5672//
# for RabbitMQ). Starts the API server, DAG processor, scheduler and two Celery workers in the
# foreground; Ctrl+C stops them all.
AIRFLOW_CELERY_DB     ?= postgresql+psycopg://postgres@127.0.0.1:5432/govbus_airflow
AIRFLOW_CELERY_BROKER ?= redis://127.0.0.1:6379/0
airflow-celery: install
	@mkdir -p .govbus
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python -m exchange.orchestration.celery_stack \
	  --metadata-url '$(AIRFLOW_CELERY_DB)' --broker '$(AIRFLOW_CELERY_BROKER)' --workers 2

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# The portal's end-to-end test drives Debian's Chromium; the set-up installs it (as root)
# instead of letting a test tool download a browser.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "The portal's browser test needs Chromium: sudo apt-get install chromium" >&2; fi; }

test: lint browser
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/exchange_bench.py
	$(BIN)/python bench/memory_bench.py
	$(BIN)/python bench/initial_load_bench.py
	$(BIN)/python bench/contracts_bench.py
	$(BIN)/python bench/consent_bench.py
	$(BIN)/python bench/disclosure_bench.py
	$(BIN)/python bench/fixed_width_bench.py
	$(BIN)/python bench/file_connectors_bench.py
	$(BIN)/python bench/sql_sink_bench.py
	$(BIN)/python bench/dag_parse_bench.py
	$(BIN)/python bench/audit_bench.py
	$(BIN)/python bench/cli_startup_bench.py

# The SQL sink bench with dlt beside it (issue 18's "≥ 3.4× dlt"). dlt is not a GovBus
# dependency: it goes in a venv of its own (.venv-dlt: the lock, GovBus, dlt from PyPI),
# so the project's venv and lock stay as they are.
DLT_VENV := .venv-dlt
bench-dlt: install
	test -x $(DLT_VENV)/bin/python || $(BIN)/uv venv --quiet --python $(BIN)/python $(DLT_VENV)
	$(BIN)/uv pip sync --quiet --python $(DLT_VENV)/bin/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(DLT_VENV)/bin/python --no-deps -e .
	$(BIN)/uv pip install --quiet --python $(DLT_VENV)/bin/python "dlt[postgres,sqlalchemy]==1.31.0"
	# dlt's SQLite merge slows as its table grows (13,000 rows/s at 20,000 rows; 1 M rows ran over 40 min)
	$(DLT_VENV)/bin/python bench/sql_sink_bench.py --only postgresql --rows 100000
	$(DLT_VENV)/bin/python bench/sql_sink_bench.py --only sqlite --rows 20000

# Re-resolve the pinned dependencies after changing setup.cfg.
lock:
	$(BIN)/uv pip compile setup.cfg --extra dev --python-version 3.11 --quiet -o requirements.lock

clean:
	rm -rf .govbus bench/out $(DLT_VENV)
