"""The bounded-memory check: reading many rows must not grow the process's memory.

The stated bound: reading `rows` rows from the start, in batches of
`memory_batch_size(rows)`, raises the process's peak resident memory (RSS) by less than
`MEMORY_BOUND_MIB` (256) MiB over what it was before the read. The rows are made wide
enough (a longer `note`) that all of them together take at least `DATA_FACTOR` (2) times
the bound as Arrow data, so a source that holds the whole table — or a growing share of
it — fails whatever the row count. Defaults: 1,000,000 rows (`--govbus-conformance-rows`)
of about 540 bytes, 512 MiB in all, read in batches of 10,000 rows.

How it measures (Linux): the rows are seeded first, in parts of `SEED_ROWS` (one file
per part for a drop folder); then freed memory is handed back to the system (Python's
garbage collector, Arrow's memory pool, glibc's `malloc_trim`) so that the read cannot
hide in memory the seeding left behind; then the kernel's peak counter is reset
(`/proc/self/clear_refs`) and read back (`VmHWM` in `/proc/self/status`) after the read.
Where the peak cannot be reset, a thread samples `VmRSS` every millisecond instead. The
system under test runs in the same process when it is in-process (SQLite, a test HTTP
server): what it holds before the read is part of the baseline, what it allocates while
serving the read counts. The bound leaves room for readers that decode a file's row
group or a mainframe chunk at a time (measured: 15 – 110 MiB for the built-ins).
"""

from __future__ import annotations

import ctypes
import gc
import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from connectors.testing.harness import ConnectorHarness
from connectors.testing.sample import CURSOR, KEY, sample_rows

MEMORY_BOUND_MIB = 256
"""The stated bound: peak RSS growth while reading, in MiB."""
DATA_FACTOR = 2.0
"""The rows read take at least this many times the bound as Arrow data."""
DEFAULT_ROWS = 1_000_000
SEED_ROWS = 25_000
_MIB = 1 << 20
_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")
_FIXED_ROW_BYTES = 42  # key (10 + 4 offset), cursor 8, decimal 16, note offset 4


@dataclass(frozen=True)
class MemoryReport:
    """What the check measured (also on success, for the record)."""

    rows: int
    batch_size: int
    data_mib: float
    growth_mib: float
    bound_mib: float
    seconds: float
    method: str


def note_length(rows: int, bound_mib: float = MEMORY_BOUND_MIB) -> int:
    """The `note` width that makes `rows` rows take DATA_FACTOR × the bound as Arrow data."""
    wanted = DATA_FACTOR * bound_mib * _MIB / rows
    return max(16, math.ceil(wanted) - _FIXED_ROW_BYTES)


def memory_batch_size(rows: int) -> int:
    """Batches of 10,000 rows, fewer for small row counts (whose rows are wider)."""
    return max(100, min(10_000, rows // 100))


def check_bounded_memory(
    harness: ConnectorHarness, rows: int = DEFAULT_ROWS, *, bound_mib: float = MEMORY_BOUND_MIB
) -> MemoryReport:
    """Seed `rows` rows, read them all from the start, and assert the bound (module doc)."""
    cursor_field = CURSOR if harness.reads_by_cursor_field else None
    width = note_length(rows, bound_mib)
    data_bytes = 0
    for start in range(0, rows, SEED_ROWS):
        table = sample_rows(start, min(SEED_ROWS, rows - start), note_length=width)
        data_bytes += table.nbytes
        harness.seed(table, key_fields=[KEY], cursor_field=cursor_field)
        del table
    batch_size = memory_batch_size(rows)
    source = harness.make_source(key_fields=[KEY], cursor_field=cursor_field)
    try:
        _release_free_memory()
        with _PeakMeter() as meter:
            started = time.monotonic()
            count = 0
            for batch in source.read(None, batch_size=batch_size):
                size = batch.data.num_rows
                assert 0 < size <= batch_size, f"a batch of {size} rows (batch_size {batch_size})"
                count += size
                del batch
            seconds = time.monotonic() - started
    finally:
        source.close()
    report = MemoryReport(
        rows=rows,
        batch_size=batch_size,
        data_mib=round(data_bytes / _MIB, 1),
        growth_mib=round(meter.growth / _MIB, 1),
        bound_mib=bound_mib,
        seconds=round(seconds, 1),
        method=meter.method,
    )
    assert count == rows, f"the read yielded {count} rows of {rows}"
    assert report.growth_mib < bound_mib, (
        f"reading {rows} rows ({report.data_mib} MiB as Arrow) in batches of {batch_size} raised the "
        f"peak RSS by {report.growth_mib} MiB; the bound is {bound_mib} MiB. The source must stream: "
        "memory may grow with the batch size, not with the number of rows read"
    )
    return report


def _release_free_memory() -> None:
    """Hand freed memory back to the system, so the read's peak is its own."""
    gc.collect()
    pa.default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the baseline is only less tight
        pass


class _PeakMeter:
    """Peak RSS growth over a `with` block: the kernel's reset peak, else sampling."""

    def __init__(self) -> None:
        self.growth = 0
        self.method = "VmHWM"
        self._baseline = 0
        self._peak = 0
        self._stop = threading.Event()
        self._sampler: threading.Thread | None = None

    def __enter__(self) -> _PeakMeter:
        self._baseline = _status("VmRSS")
        try:
            _CLEAR_REFS.write_text("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
        except OSError:
            self.method = "VmRSS sampled every 1 ms"
            self._peak = self._baseline
            self._sampler = threading.Thread(target=self._sample, daemon=True)
            self._sampler.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._sampler is not None:
            self._stop.set()
            self._sampler.join()
        else:
            self._peak = _status("VmHWM")
        self.growth = max(0, self._peak - self._baseline)

    def _sample(self) -> None:
        while not self._stop.wait(0.001):
            self._peak = max(self._peak, _status("VmRSS"))


def _status(name: str) -> int:
    """A memory figure of /proc/self/status in bytes."""
    for line in _STATUS.read_text().splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"/proc/self/status has no {name}: the memory check needs Linux")
