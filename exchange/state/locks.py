"""Named exclusive locks so that two workers never run the same step at once.

Under Airflow several workers (processes, machines) may run the same dataset's stage or
the same subscription's delivery at once — a retry overlapping a slow attempt, a manual
trigger. Each step therefore runs under a lock named for what it touches:

* PostgreSQL: a session-level advisory lock (`pg_advisory_lock`), held on a dedicated
  connection for the step's duration; works across machines.
* MariaDB/MySQL: `GET_LOCK`.
* SQLite (one machine by construction): an `flock` on a file under `GOVBUS_HOME/locks`.

A worker that cannot get the lock within `timeout` seconds gets a `TransientError`, so
the orchestrator retries it later; by then the other worker has done the work and the
retry finds nothing left to do.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from govbus.errors import TransientError


def _key(name: str) -> int:
    """A stable signed 64-bit key for PostgreSQL's advisory locks."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextmanager
def exclusive(engine: Engine, lock_dir: Path, name: str, *, timeout: float = 600.0) -> Iterator[None]:
    """Hold the lock `name` (e.g. `deliver:benefits.tax-income`) for the block."""
    backend = engine.url.get_backend_name()
    if backend == "postgresql":
        with _postgres(engine, name, timeout):
            yield
    elif backend in ("mysql", "mariadb"):
        with _mysql(engine, name, timeout):
            yield
    else:
        with _file(lock_dir, name, timeout):
            yield


def _busy(name: str, timeout: float) -> TransientError:
    return TransientError(
        f"another worker has held the lock for more than {timeout:.0f} s",
        where=name,
        hint="it is probably running the same step; retry when it has finished",
    )


@contextmanager
def _postgres(engine: Engine, name: str, timeout: float) -> Iterator[None]:
    key = _key(name)
    with engine.connect() as conn:
        deadline = time.monotonic() + timeout
        while not conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
            conn.rollback()
            if time.monotonic() > deadline:
                raise _busy(name, timeout)
            time.sleep(0.2)
        conn.commit()
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()


@contextmanager
def _mysql(engine: Engine, name: str, timeout: float) -> Iterator[None]:
    lock_name = "govbus:" + hashlib.sha256(name.encode()).hexdigest()[:40]
    with engine.connect() as conn:
        got = conn.execute(sa.text("SELECT GET_LOCK(:n, :t)"), {"n": lock_name, "t": int(timeout)}).scalar()
        if got != 1:
            raise _busy(name, timeout)
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT RELEASE_LOCK(:n)"), {"n": lock_name})


@contextmanager
def _file(lock_dir: Path, name: str, timeout: float) -> Iterator[None]:
    lock_dir.mkdir(parents=True, exist_ok=True)
    path = lock_dir / (hashlib.sha256(name.encode()).hexdigest()[:32] + ".lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise _busy(name, timeout) from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
