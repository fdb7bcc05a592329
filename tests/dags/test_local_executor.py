"""The sample DAGs under Airflow's LocalExecutor, in parallel, with the metadata DB on PostgreSQL.

This is a production-shaped Airflow 3 on one machine: `airflow db migrate`, then the API
server (task workers report to its execution API), the DAG processor (the scheduler
does not parse DAG files in Airflow 3) and the scheduler, whose LocalExecutor runs up to
`parallelism` tasks at once. The GovBus state lives in its own schema of the same
PostgreSQL database. Nothing is triggered by hand: unpausing a DAG lets the scheduler
create its latest scheduled run, and the Social Benefits Agency's DAG runs on the
Asset event of its delivery.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from exchange import Bus
from exchange.demo import deployment as demo
from tests.conftest import postgres_url
from tests.dags.conftest import AIRFLOW, GOVBUS, airflow_environ, run
from tests.e2e.helpers import benefits_rows, sql_rows

DAGS = ("tax.income", "registry.residents", "benefits.recompute_entitlements")
DEADLINE = 420  # seconds for the runs once Airflow is up (whole test: 81 s idle, 4.9 min at load 9)


@contextmanager
def _fresh_database() -> Iterator[str]:
    """A new PostgreSQL database (trust auth allows CREATE DATABASE); dropped after."""
    base = postgres_url()
    if not base:
        pytest.skip("GOVBUS_TEST_POSTGRES_URL is not set")
    name = f"govbus_airflow_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def _airflow_services(env: dict[str, str], logs: Path) -> Iterator[None]:
    """API server, DAG processor and scheduler, each in its own process group; all stopped after."""
    procs = []
    try:
        for command in ("api-server", "dag-processor", "scheduler"):
            out = (logs / f"{command}.log").open("w")
            procs.append(
                subprocess.Popen(
                    [AIRFLOW, command],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its workers too are stopped with it
                )
            )
        yield
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def _wait_for(check, what: str, timeout: float, logs: Path) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return
        time.sleep(2)
    tails = "\n".join(f"--- {p.name}\n{p.read_text()[-2500:]}" for p in sorted(logs.glob("*.log")))
    pytest.fail(f"timed out waiting for {what}\n{tails}")


@pytest.mark.slow
def test_sample_dags_succeed_under_local_executor_on_postgresql(govbus_home, tmp_path, monkeypatch):
    logs = tmp_path / "service-logs"
    logs.mkdir()
    with _fresh_database() as url:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE SCHEMA govbus"))
        state_url = f"{url}?options=-csearch_path%3Dgovbus"
        monkeypatch.setenv("GOVBUS_STATE_URL", state_url)
        bus = Bus.open()
        demo.seed(bus, rows=1_500)
        bus.close()

        port = _free_port()
        env = airflow_environ(tmp_path)
        env.update(
            GOVBUS_STATE_URL=state_url,
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=url,
            # Airflow derives an asyncpg URL otherwise; psycopg 3 serves async too.
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC=url,
            AIRFLOW__CORE__EXECUTOR="LocalExecutor",
            AIRFLOW__CORE__PARALLELISM="4",
            AIRFLOW__API__PORT=str(port),
            AIRFLOW__API__WORKERS="1",
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
            AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_hex(32),
            AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
            # Every task process parses the DAG file again (Airflow 3); on a shared 2-core CI
            # machine four of them at once can pass Airflow's 30 s import timeout.
            AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT="300",
            AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT="300",
        )
        run([AIRFLOW, "db", "migrate"], env)
        run([GOVBUS, "airflow", "pools"], env)

        def query(sql: str) -> list[tuple]:
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(sa.text(sql))]

        with _airflow_services(env, logs):
            _wait_for(
                lambda: {r[0] for r in query("SELECT dag_id FROM serialized_dag")} >= set(DAGS),
                "the DAG processor to serialize the sample DAGs",
                180,
                logs,
            )
            pattern = "^(" + "|".join(d.replace(".", r"\.") for d in DAGS) + ")$"
            run([AIRFLOW, "dags", "unpause", "--treat-dag-id-as-regex", "--yes", pattern], env)

            def finished() -> bool:
                runs = query("SELECT dag_id, state FROM dag_run")
                done = {d for d, s in runs if s in ("success", "failed")}
                return set(DAGS) <= done or any(s == "failed" for _, s in runs)

            _wait_for(finished, "the DAG runs", DEADLINE, logs)

        runs = query("SELECT dag_id, state FROM dag_run ORDER BY dag_id")
        tis = query(
            "SELECT dag_id, task_id, map_index, state, pool, start_date, end_date FROM task_instance"
            " ORDER BY start_date"
        )
        engine.dispose()
        state = sa.create_engine(state_url)
        with state.connect() as conn:
            stages = [tuple(r) for r in conn.execute(sa.text("SELECT dataset, status FROM stages"))]
        state.dispose()

    assert runs == [(d, "success") for d in sorted(DAGS)], tis
    # Every task succeeded; no request is approved, so the requested deliveries mapped to nothing.
    assert all(ti[3] == ("skipped" if ti[1] == "deliver_requested" else "success") for ti in tis), tis
    assert {ti[0] for ti in tis if ti[1] == "deliver_requested"} == {"tax.income", "registry.residents"}
    delivers = [ti for ti in tis if ti[:2] == ("tax.income", "deliver")]
    assert sorted(ti[2] for ti in delivers) == [0, 1, 2]  # one mapped instance per subscription
    assert {ti[4] for ti in tis if ti[1] == "stage"} == {"govbus_tax", "govbus_registry"}
    # The LocalExecutor really ran tasks side by side.
    ran = [ti for ti in tis if ti[5] is not None]  # a skipped mapping never started
    overlapping = [(a, b) for i, a in enumerate(ran) for b in ran[i + 1 :] if b[5] < a[6] and a[5] < b[6]]
    assert overlapping, "no two tasks ran at the same time"
    # Data moved, and every stage committed in the state schema.
    assert len(benefits_rows(govbus_home)) > 1_400
    assert sql_rows(govbus_home / "agencies" / "benefits" / "benefits.db", "residents")
    assert sorted(stages) == [("registry.residents", "committed"), ("tax.income", "committed")]
