"""A step lock as one of this process's threads takes it: a thread lock, then the workers' lock.

Why: `ctx.locked(name)` (`exchange.state.locks`) keeps other workers — processes, machines —
out, and it waits by polling (a file lock retried every 0.1 s on SQLite, an advisory lock
every 0.2 s on PostgreSQL). A fan-out delivers several subscriptions on threads of one
process (`exchange.run.fanout`), and each of their batches appends to the one ledger:
two threads wanting it at once would each lose up to a poll interval per batch. Here a
thread waits on a `threading.Lock` of the same name first, which hands over at once;
only the thread holding it then takes the workers' lock, usually free.

What a caller must know: the thread lock is taken right before the workers' lock of
the same name and released right after it, so the locks are still taken in the order the
callers name them and nothing new can deadlock. Code that calls `ctx.locked` directly
still excludes these threads (through the workers' lock), only without the fast handover.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from exchange.quarantine.context import QuarantineContext
    from exchange.run.context import StepContext

__all__ = ["locked", "progress"]

_NAMES = threading.Lock()
_PROGRESS = threading.Lock()
_THREADS: dict[str, threading.Lock] = {}


def _thread_lock(name: str) -> threading.Lock:
    with _NAMES:
        return _THREADS.setdefault(name, threading.Lock())


@contextmanager
def locked(ctx: QuarantineContext, name: str) -> Iterator[None]:
    """Hold the step lock `name` (e.g. "ledger") against this process's threads and other workers."""
    with _thread_lock(name), ctx.locked(name):
        yield


def progress(ctx: StepContext, event: str, rows: int) -> None:
    """Report progress one thread at a time: a listener (`Hooks.progress`) need not be thread-safe."""
    with _PROGRESS:
        ctx.progress(event, rows)
