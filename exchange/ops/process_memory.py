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
* `release_free_memory(batch)` hands the pages malloc holds free back to the system
  (glibc's `malloc_trim`) every `TRIM_EVERY` batches. The stage calls it after each
  segment, the fan-out after each piece: batches of different sizes on several threads
  leave free chunks in the middle of the heap that glibc keeps, which made the peak grow
  with the run's length (a 10 M-row stage held 60-100 MiB of them by its end). Trimming
  after every batch cost 10 % more CPU (a piece's pages are faulted in again by the
  next; the fan-out's resident set swings by 60-100 MiB from piece to piece, so a
  threshold on it trims as often); every 3rd batch held a 10 M-row run to 1.11x the
  peak of 1 M rows (572 MiB, against 656 MiB without) for about 0.3 s more system time a
  million rows;
* `tune_process_memory()` also moves every object alive at that moment (the imported
  modules', some 80,000) out of the cyclic garbage collector's sight (`gc.freeze`), once
  per process: each full collection walked them all again (70 ms, with every thread
  stopped), about 0.3 s of a 1 M-row run; afterwards 0.12 s. They are never garbage;
* `GOVBUS_MEMORY_TUNING=off` leaves all of it alone (to compare, or for a host program
  that manages its allocators itself).
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
from dataclasses import dataclass

__all__ = ["MALLOC_ARENAS", "TRIM_EVERY", "MemoryTuning", "release_free_memory", "tune_process_memory"]

log = logging.getLogger("govbus.exchange")

MALLOC_ARENAS = 2
TRIM_EVERY = 3  # batches between two trims of a stage or a fan-out (`release_free_memory`)
_M_ARENA_MAX = -8  # glibc's mallopt parameter number
_done: MemoryTuning | None = None
_libc: ctypes.CDLL | None = None


@dataclass(frozen=True)
class MemoryTuning:
    """What `tune_process_memory` did: the Arrow pool in use and whether arenas were capped."""

    arrow_pool: str
    arenas_capped: bool
    trims: bool = False  # whether `release_free_memory` hands free pages back


def tune_process_memory() -> MemoryTuning:
    """Set this process's allocators as the module doc says (once); return what is in effect."""
    global _done
    if _done is not None:
        return _done
    import pyarrow as pa

    tuning = _tuning()
    if tuning and "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
        pa.set_memory_pool(pa.system_memory_pool())
    capped = False
    if tuning and "MALLOC_ARENA_MAX" not in os.environ:
        capped = _cap_arenas()
    if tuning:
        gc.freeze()
    _done = MemoryTuning(pa.default_memory_pool().backend_name, capped, tuning and _glibc() is not None)
    log.debug("memory: Arrow pool %s, malloc arenas capped: %s", _done.arrow_pool, capped)
    return _done


def release_free_memory(batch: int | None = None) -> bool:
    """Give the free pages malloc holds back to the system (module doc); with `batch` (a
    count of batches done), only at every `TRIM_EVERY`-th. Returns whether it trimmed: never
    before `tune_process_memory`, with the tuning off, or elsewhere than glibc."""
    if _done is None or not _done.trims or _libc is None:
        return False
    if batch is not None and (batch <= 0 or batch % TRIM_EVERY):
        return False
    _libc.malloc_trim(0)
    return True


def _tuning() -> bool:
    return os.environ.get("GOVBUS_MEMORY_TUNING", "on").strip().lower() not in ("off", "0", "false", "no")


def _glibc() -> ctypes.CDLL | None:
    global _libc
    if _libc is None:
        try:
            libc = ctypes.CDLL("libc.so.6")
        except OSError:  # not glibc: its allocator has no such settings
            return None
        if not (hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim")):
            return None
        _libc = libc
    return _libc


def _cap_arenas() -> bool:
    libc = _glibc()
    return libc is not None and bool(libc.mallopt(_M_ARENA_MAX, MALLOC_ARENAS))
