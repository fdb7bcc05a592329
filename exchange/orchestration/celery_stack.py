"""Airflow with the CeleryExecutor on one machine: what `make airflow-celery` starts.

    python -m exchange.orchestration.celery_stack [--workers 2] [--broker redis://127.0.0.1:6379/0]

It prepares PostgreSQL (a database for Airflow's metadata, created if missing, with the
GovBus state in its schema `govbus`), runs `airflow db migrate`, `govbus db upgrade` and
`govbus airflow pools`, then starts the API server, the DAG processor, the scheduler and
N Celery workers (`airflow celery worker`), each in its own process group, and stops
them all on Ctrl+C. The broker is Redis or RabbitMQ (`amqp://guest:guest@127.0.0.1:5672//`);
Celery's results go to the metadata database.

Every process gets the same environment (`CeleryStack.environment`): one JWT secret for
the execution API, one metadata database, one GovBus state, one catalog and one staging
location. On several machines the same variables are what each worker needs
(docs/deployment.md); here every worker also reports its own name as the task's
hostname (`worker_hostname`), so the UI and the metadata show which worker ran what.
`tests/dags/test_celery_executor.py` starts this stack, runs the sample DAGs and kills
a worker in the middle of a delivery.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import sqlalchemy as sa

from govbus.errors import BadConfiguration, TransientError

__all__ = ["CeleryStack", "StackConfig", "main", "worker_hostname"]

WORKER_NAME_ENV = "GOVBUS_WORKER_NAME"
SERVICES = ("api-server", "dag-processor", "scheduler")


def worker_hostname() -> str:
    """The hostname a task reports (Airflow's `[core] hostname_callable`): the worker's name if set.

    Two workers on one machine share its hostname; naming each tells them apart in the
    task instances. Unset, it is the machine's name, as Airflow's default.
    """
    return os.environ.get(WORKER_NAME_ENV) or socket.getfqdn()


@dataclass
class StackConfig:
    """What the stack runs on. `metadata_url`: Airflow's PostgreSQL database (SQLAlchemy URL)."""

    metadata_url: str
    broker_url: str = "redis://127.0.0.1:6379/0"
    workers: int = 2
    concurrency: int = 1
    api_port: int = 8080
    logs: Path = field(default_factory=lambda: Path(".govbus") / "celery-logs")
    jwt_secret: str = field(default_factory=lambda: secrets.token_hex(32))
    state_schema: str = "govbus"
    extra_env: Mapping[str, str] = field(default_factory=dict)
    worker_env: Mapping[str, str] = field(default_factory=dict)  # only the workers get these

    @property
    def state_url(self) -> str:
        """The GovBus state: the schema `state_schema` of the metadata database."""
        joiner = "&" if "?" in self.metadata_url else "?"
        return f"{self.metadata_url}{joiner}options=-csearch_path%3D{self.state_schema}"


class CeleryStack:
    """The running services; a context manager that stops every process it started."""

    def __init__(self, config: StackConfig, base_env: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.base_env = dict(os.environ if base_env is None else base_env)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[IO[bytes]] = []

    def environment(self) -> dict[str, str]:
        """Every process's environment: the executor, broker, databases and the shared secret."""
        cfg = self.config
        url = cfg.metadata_url
        return {
            **self.base_env,
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": url,
            # Airflow derives an asyncpg URL otherwise; psycopg 3 serves async too.
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": url,
            "AIRFLOW__CELERY__BROKER_URL": cfg.broker_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + url,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(cfg.concurrency),
            "AIRFLOW__API__PORT": str(cfg.api_port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{cfg.api_port}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": cfg.jwt_secret,
            # By its module name: run as `python -m`, this module is `__main__` to its own process.
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "exchange.orchestration.celery_stack.worker_hostname",
            "GOVBUS_STATE_URL": cfg.state_url,
            **cfg.extra_env,
        }

    def prepare(self) -> None:
        """The metadata database (created if missing) and the state schema, migrated; the pools."""
        _create_database(self.config.metadata_url, self.config.state_schema)
        env = self.environment()
        _run([_tool("airflow"), "db", "migrate"], env)
        _run([_tool("govbus"), "db", "upgrade"], env)
        _run([_tool("govbus"), "airflow", "pools"], env)

    def start(self) -> None:
        """Start the API server, DAG processor, scheduler and the workers, each in its own group."""
        self.config.logs.mkdir(parents=True, exist_ok=True)
        env = self.environment()
        for service in SERVICES:
            self._spawn(service, [_tool("airflow"), service], env)
        for i in range(1, self.config.workers + 1):
            self.start_worker(f"worker-{i}")

    def start_worker(self, name: str) -> None:
        """One Celery worker named `name` (its task instances' hostname); logs are read locally."""
        env = {**self.environment(), **self.config.worker_env, WORKER_NAME_ENV: name}
        args = [_tool("airflow"), "celery", "worker", "--celery-hostname", f"{name}@%h"]
        args += ["--concurrency", str(self.config.concurrency), "--skip-serve-logs"]
        self._spawn(name, args, env)

    def kill(self, name: str) -> None:
        """SIGKILL a process and everything it started, as when its machine dies.

        Its whole session, not only its process group: Airflow's task processes move to
        groups of their own, and a task left running after its worker died would go on
        holding the step's lock while the scheduler retries the task elsewhere.
        """
        process = self.processes[name]
        for pid in _session(process.pid) or [process.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM every process group, SIGKILL what is left after 30 s, then any task left over."""
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        for process in self.processes.values():
            for pid in _session(process.pid):  # task processes in groups of their own
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for handle in self._logs:
            handle.close()
        self._logs.clear()

    def __enter__(self) -> CeleryStack:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> None:
        log = (self.config.logs / f"{name}.log").open("wb")
        self._logs.append(log)
        self.processes[name] = subprocess.Popen(  # noqa: S603 - our own tools, from the venv
            args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def _session(sid: int) -> list[int]:
    """The processes of session `sid` (Linux /proc); empty where /proc cannot tell."""
    members = []
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == sid:  # after "pid (comm)": state, ppid, pgrp, session
            members.append(int(entry.parent.name))
    return members


def _tool(name: str) -> str:
    """`airflow` / `govbus` next to this interpreter (the venv), else on PATH."""
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise BadConfiguration(
            f"the `{name}` command is not installed", where="PATH", hint="run `make install`"
        )
    return found


def _run(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=900, check=False)  # noqa: S603
    if done.returncode != 0:
        raise TransientError(
            f"`{' '.join(Path(a).name if i == 0 else a for i, a in enumerate(args))}` failed "
            f"(exit {done.returncode}): {(done.stdout + done.stderr).strip()[-1500:]}",
            where="the Celery stack's preparation",
            hint="check that PostgreSQL and the broker are running",
        )


def _create_database(url: str, schema: str) -> None:
    """Create the database `url` names if it is missing (needs CREATEDB), and the state schema."""
    target = sa.make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}
            ).first()
            if not exists:
                conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    finally:
        admin.dispose()
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    finally:
        engine.dispose()


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Prepare and run the stack until Ctrl+C (what `make airflow-celery` calls)."""
    parser = argparse.ArgumentParser(
        prog="python -m exchange.orchestration.celery_stack", description=__doc__
    )
    parser.add_argument(
        "--metadata-url",
        default=os.environ.get(
            "AIRFLOW_CELERY_DB", "postgresql+psycopg://postgres@127.0.0.1:5432/govbus_airflow"
        ),
    )
    parser.add_argument(
        "--broker", default=os.environ.get("AIRFLOW_CELERY_BROKER", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument(
        "--logs", type=Path, default=Path(os.environ.get("GOVBUS_HOME", ".govbus")) / "celery-logs"
    )
    args = parser.parse_args(argv)
    secret = os.environ.get("AIRFLOW__API_AUTH__JWT_SECRET") or secrets.token_hex(32)
    config = StackConfig(
        args.metadata_url, args.broker, args.workers, args.concurrency, args.port, args.logs, secret
    )
    stack = CeleryStack(config)
    # Ctrl+C, and SIGTERM from systemd or a container runtime, stop every process started.
    # (A shell starting this in the background may have left SIGINT ignored: restore it.)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    print(f"preparing {sa.make_url(config.metadata_url).render_as_string(hide_password=True)}", flush=True)
    stack.prepare()
    stack.start()
    names = ", ".join(stack.processes)
    print(
        f"started {names}; UI on http://127.0.0.1:{args.port}; logs in {args.logs}; Ctrl+C stops", flush=True
    )
    try:
        while all(p.poll() is None for p in stack.processes.values()):
            time.sleep(2)
        dead = [n for n, p in stack.processes.items() if p.poll() is not None]
        print(f"stopped by itself: {', '.join(dead)} (see its log); stopping the others", flush=True)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
