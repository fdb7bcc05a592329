"""Kill -9 a run at its Nth crash point: the child side of tests/e2e/test_crash_injection.py.

A *crash point* is a moment where a real crash would leave a distinct state behind:

* `db-write` — before a statement that changes a database (INSERT, UPDATE, DELETE, ...):
  the state database (ledger entries, delivery records, stages, cursors, quarantine,
  checkpoints, tiles, access index) and the SQL sinks alike;
* `db-commit` — before a transaction's COMMIT reaches the database;
* `fsync` — before a file's contents are forced to disk;
* `rename` / `renamed` — before and after a temporary file is renamed into place (batch
  files, manifests and their signatures, encrypted files): between write and rename is
  where a crash used to leave a hidden copy of a batch behind;
* `stage-write` — before a staged segment or snapshot part is written.

No hook in the bus itself: the points are found by wrapping `os.replace`, `os.fsync`,
the staging area's writes and SQLAlchemy's engine events in the child only. A run's
points come in the same order every time (one thread writes; the audit thread only
hashes), so point N of a clean run is point N of every run from the same seed.

The process that imports everything once (`python -m tests.e2e.crash_harness`) reads one
JSON request per line on stdin, forks a child per request (so no child pays for the
imports: pyarrow, SQLAlchemy, FastAPI) and answers one JSON line: how the child ended.
The child sets the request's environment, opens the bus, runs every dataset (with the
sample agencies' systems up) and, at point `crash_at`, sends itself SIGKILL. Without
`crash_at` it writes the labels of every point it passed to `points_file`. With
`modules_file`, it writes the modules the run imported, and this process then imports
them too, so that later children start warm (a run takes about 0.6 s instead of 1).
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
from typing import Any

_WRITES = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER)\b", re.IGNORECASE)


class Points:
    """Counts crash points; kills this process at `crash_at`."""

    def __init__(self, crash_at: int | None) -> None:
        self.crash_at = crash_at
        self.labels: list[str] = []

    def __call__(self, label: str) -> None:
        self.labels.append(label)
        if self.crash_at is not None and len(self.labels) >= self.crash_at:
            sys.stdout.flush()
            os.kill(os.getpid(), signal.SIGKILL)


def install(points: Points) -> None:
    """Wrap every crash point of the bus in this process (see the module doc)."""
    import sqlalchemy as sa

    from exchange.run.staging import StagingArea

    real_replace, real_fsync, real_write = os.replace, os.fsync, StagingArea.write_table

    def replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        points("rename")
        real_replace(src, dst, *args, **kwargs)
        points("renamed")

    def fsync(fd: int) -> None:
        points("fsync")
        real_fsync(fd)

    def write_table(self: StagingArea, name: str, table: Any) -> None:
        points("stage-write")
        real_write(self, name, table)

    def before_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if _WRITES.match(statement):
            points("db-write")

    def before_commit(conn: Any) -> None:
        points("db-commit")

    os.replace = replace  # type: ignore[assignment]
    os.fsync = fsync  # type: ignore[assignment]
    StagingArea.write_table = write_table  # type: ignore[method-assign]
    sa.event.listen(sa.engine.Engine, "before_cursor_execute", before_execute)
    sa.event.listen(sa.engine.Engine, "commit", before_commit)


def run_child(request: dict[str, Any]) -> int:
    """One run in this (forked) process; the exit code says how it went (0: every dataset ok)."""
    os.environ.update(request["env"])
    points = Points(request.get("crash_at"))
    install(points)
    from exchange import Bus
    from exchange.demo.deployment import agency_systems

    bus = Bus.open()
    try:
        with agency_systems(bus):
            results = bus.run()
    finally:
        bus.close()
    if request.get("points_file"):
        with open(request["points_file"], "w", encoding="utf-8") as out:
            json.dump(points.labels, out)
    if request.get("modules_file"):
        with open(request["modules_file"], "w", encoding="utf-8") as out:
            json.dump(sorted(sys.modules), out)
    return 0 if all(r.ok for r in results) else 3


def _warm(modules_file: str) -> None:
    """Import here what a run imported lazily, so that the next children need not."""
    import importlib

    with open(modules_file, encoding="utf-8") as names:
        for name in json.load(names):
            if name not in sys.modules and not name.startswith("__"):
                try:
                    importlib.import_module(name)
                except Exception:  # a module that imports only in its own context
                    continue


def serve() -> None:
    """Read requests from stdin, fork a child for each, answer how it ended (see module doc)."""
    # Imported once here, so that no forked child pays for them.
    import exchange.demo.deployment
    import exchange.demo.health_api  # noqa: F401
    from exchange import Bus  # noqa: F401

    for line in sys.stdin:
        request = json.loads(line)
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            code = 70
            try:
                code = run_child(request)
            except BaseException as exc:  # reported by the exit code; the parent reads stderr
                print(f"child failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        answer = {
            "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
            "code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        }
        if request.get("modules_file") and answer["code"] == 0:
            _warm(request["modules_file"])
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    serve()
