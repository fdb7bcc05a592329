"""How a bus process allocates memory: the system allocator for Arrow, two malloc arenas.

Why: a run moves every row through Arrow buffers, NumPy arrays and C libraries (SQLite,
OpenSSL, the Parquet writer) on several threads: the stage pipeline's checker and
writer, a thread per subscription of a fan-out and each delivery's audit thread.
Measured on a whole run of 1 M and 10 M rows (bench/memory_bench.py, docs/performance.md),
pyarrow's default pool (mimalloc) keeps what it freed for reuse and glibc gives each
thread that allocates at once an arena of its own (up to 8 per core), so the peak
resident memory grew with the number of batches (1,103 MiB at 10 M rows) although the
live data stayed bounded. With Arrow on the system allocator and glibc held to two
arenas, freed memory is reused across threads and batches: 771 MiB at 10 M rows, and the
run was no slower (4.71 s against 5.12 s at 1 M rows).

What a caller must know:

* `tune_process_memory()` is called by `Bus.open`, before the bus starts a thread. It
  is idempotent, and it changes nothing the operator chose: `ARROW_DEFAULT_MEMORY_POOL`
  set keeps that pool, `MALLOC_ARENA_MAX` set keeps glibc's own reading of it;
* the arena cap applies to arenas created after the call (glibc's `mallopt`), so a
  program embedding the bus that has already started many threads keeps their arenas;
  elsewhere than glibc (musl, macOS) only the Arrow pool changes;
* `GOVBUS_MEMORY_TUNING=off` leaves both alone (to compare, or for a host program that
  manages its allocators itself).
"""

from __future__ import annotations

import ctypes
import logging
import os
from dataclasses import dataclass

__all__ = ["MALLOC_ARENAS", "MemoryTuning", "tune_process_memory"]

log = logging.getLogger("govbus.exchange")

MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # glibc's mallopt parameter number
_done: MemoryTuning | None = None


@dataclass(frozen=True)
class MemoryTuning:
    """What `tune_process_memory` did: the Arrow pool in use and whether arenas were capped."""

    arrow_pool: str
    arenas_capped: bool


def tune_process_memory() -> MemoryTuning:
    """Set this process's allocators as the module doc says (once); return what is in effect."""
    global _done
    if _done is not None:
        return _done
    import pyarrow as pa

    tuning = os.environ.get("GOVBUS_MEMORY_TUNING", "on").strip().lower() not in ("off", "0", "false", "no")
    if tuning and "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
        pa.set_memory_pool(pa.system_memory_pool())
    capped = False
    if tuning and "MALLOC_ARENA_MAX" not in os.environ:
        capped = _cap_arenas()
    _done = MemoryTuning(pa.default_memory_pool().backend_name, capped)
    log.debug("memory: Arrow pool %s, malloc arenas capped: %s", _done.arrow_pool, capped)
    return _done


def _cap_arenas() -> bool:
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_M_ARENA_MAX, MALLOC_ARENAS))
    except (OSError, AttributeError):  # not glibc: its allocator has no such setting
        return False
