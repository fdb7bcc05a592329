"""Deliveries per minute with one Celery worker and with two, on the sample's tax.income.

The sample deployment is seeded once with N returns into a template PostgreSQL database
(Airflow's metadata, the GovBus state in its schema `govbus`) and a template home; for
each worker count a copy of both, then the stack of
`make airflow-celery` (`exchange.orchestration.celery_stack`: API server, DAG processor,
scheduler, the workers on Redis, concurrency 1 each), then one run of the tax.income DAG.
Read back from Airflow's task instances and the GovBus state: the deliver phase (first
deliver start to last deliver end), delivered batches and rows per minute in it, and the
whole run's time.

Usage: python bench/celery_workers_bench.py [--rows 1000000] [--workers 1 2] [--batch-size 50000]
(needs PostgreSQL at GOVBUS_TEST_POSTGRES_URL's server and Redis on 127.0.0.1:6379).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from exchange import Bus  # noqa: E402
from exchange.demo import deployment as demo  # noqa: E402
from exchange.orchestration.celery_stack import CeleryStack, StackConfig  # noqa: E402
from exchange.state.settings import Settings  # noqa: E402

SERVER = os.environ.get("GOVBUS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database(name: str, template: str | None = None) -> str:
    admin = sa.create_engine(SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    admin.dispose()
    return sa.make_url(SERVER).set(database=name).render_as_string(hide_password=False)


def _drop(name: str) -> None:
    admin = sa.create_engine(SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _environment(work: Path, home: Path, tag: str, batch_size: int) -> dict[str, str]:
    return {
        **os.environ,
        "AIRFLOW_HOME": str(REPO),
        "AIRFLOW_CONFIG": str(REPO / "airflow.cfg"),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(work / f"logs-{tag}"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__OPENLINEAGE__DISABLED": "True",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "300",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": f"govbus-bench-{uuid.uuid4().hex[:6]}",
        "GOVBUS_HOME": str(home),
        "GOVBUS_CATALOG": str(REPO / "catalog"),
        "GOVBUS_BATCH_SIZE": str(batch_size),
    }


def seed_template(rows: int, batch_size: int, work: Path) -> tuple[str, Path]:
    """Airflow's and GovBus's schemas migrated and the sample seeded once, copied for each run.

    Seeding 1 M returns writes ~125,000 consents, each a signed ledger entry: minutes that
    both runs would otherwise repeat.
    """
    name, home = f"govbus_bench_tpl_{uuid.uuid4().hex[:8]}", work / "home-template"
    url = _database(name)
    config = StackConfig(url, logs=work / "svc-template")
    stack = CeleryStack(config, _environment(work, home, "template", batch_size))
    stack.prepare()
    os.environ.update(GOVBUS_HOME=str(home), GOVBUS_STATE_URL=config.state_url)
    bus = Bus.open(dataclasses.replace(Settings.from_env(), batch_size=batch_size))
    started = time.monotonic()
    demo.seed(bus, rows=rows)
    bus.close()
    print(f"  seeded {rows:,} rows once in {time.monotonic() - started:.0f} s", flush=True)
    return name, home


def measure(workers: int, template: tuple[str, Path], batch_size: int, work: Path) -> dict[str, float]:
    """One run of tax.income on `workers` workers, from a copy of the seeded template."""
    name, home = f"govbus_bench_{uuid.uuid4().hex[:8]}", work / f"home-{workers}"
    url = _database(name, template=template[0])
    shutil.copytree(template[1], home)
    env = _environment(work, home, str(workers), batch_size)
    config = StackConfig(url, workers=workers, concurrency=1, api_port=_port(), logs=work / f"svc-{workers}")
    config.jwt_secret = secrets.token_hex(32)
    stack = CeleryStack(config, env)
    try:
        engine = sa.create_engine(url)
        with stack:
            while "tax.income" not in {r[0] for r in _rows(engine, "SELECT dag_id FROM serialized_dag")}:
                time.sleep(2)
            airflow = str(Path(sys.executable).with_name("airflow"))
            subprocess.run(
                [airflow, "dags", "unpause", "tax.income"],
                env=stack.environment(),
                check=True,
                capture_output=True,
            )
            deadline = time.monotonic() + 3600
            while time.monotonic() < deadline:
                states = {
                    s for (s,) in _rows(engine, "SELECT state FROM dag_run WHERE dag_id = 'tax.income'")
                }
                if states & {"success", "failed"}:
                    break
                time.sleep(3)
        tis = _rows(
            engine,
            "SELECT task_id, start_date, end_date, hostname, state FROM task_instance"
            " WHERE dag_id = 'tax.income'",
        )
        run = _rows(engine, "SELECT state, start_date, end_date FROM dag_run WHERE dag_id = 'tax.income'")[0]
        engine.dispose()
        state = sa.create_engine(config.state_url)
        batches, delivered = _rows(state, "SELECT COUNT(*), SUM(rows_delivered) FROM deliveries")[0]
        state.dispose()
    finally:
        _drop(name)
    delivers = [t for t in tis if t[0] == "deliver"]
    assert run[0] == "success" and all(t[4] == "success" for t in delivers), (run, tis)
    first, last = min(t[1] for t in delivers), max(t[2] for t in delivers)
    phase = (last - first).total_seconds()
    stage = next(t for t in tis if t[0] == "stage")
    return {
        "workers": workers,
        "deliver_tasks": len(delivers),
        "hosts": len({t[3] for t in delivers}),
        "stage_s": (stage[2] - stage[1]).total_seconds(),
        "deliver_phase_s": phase,
        "deliver_task_s": sum((t[2] - t[1]).total_seconds() for t in delivers) / len(delivers),
        "batches": int(batches),
        "rows": int(delivered or 0),
        "batches_per_min": batches / phase * 60,
        "rows_per_min": (delivered or 0) / phase * 60,
        "run_s": (run[2] - run[1]).total_seconds(),
    }


def _rows(engine: sa.Engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql))]


def main() -> None:
    """Measure each worker count in turn and print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch-size", type=int, default=50_000)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="govbus-celery-bench-") as tmp:
        print(f"seeding {args.rows:,} rows ...", flush=True)
        template = seed_template(args.rows, args.batch_size, Path(tmp))
        try:
            for workers in args.workers:
                print(f"{workers} worker(s) ...", flush=True)
                results.append(measure(workers, template, args.batch_size, Path(tmp)))
                print(f"  {results[-1]}", flush=True)
        finally:
            _drop(template[0])
    print(
        "\n| workers | deliveries ran on | stage s | one delivery task s (mean) | deliver phase s "
        "| batches/min | rows/min | DAG run s |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['workers']} | {r['hosts']} worker(s) | {r['stage_s']:.1f} | {r['deliver_task_s']:.1f} | "
            f"{r['deliver_phase_s']:.1f} | {r['batches_per_min']:.0f} | {r['rows_per_min'] / 1e6:.2f} M | "
            f"{r['run_s']:.0f} |"
        )


if __name__ == "__main__":
    main()
