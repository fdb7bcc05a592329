"""Temporary files of atomic writes: names that say who wrote them, and sweeping the stale ones.

Why: every file the bus hands a recipient (a batch file, a manifest, its signature, an
encrypted file) is written to a hidden temporary in the same folder and renamed into
place. A process killed between the write and the rename leaves that temporary behind:
in a recipient's inbox, a whole batch of personal data that no manifest, ledger entry or
purge instruction names. Removing it on failure is not enough (SIGKILL runs no cleanup),
so the next writer to that folder removes it (`sweep`), and it must never remove the
temporary of a writer that is still at work.

A temporary's name says who wrote it:

    .<name>.tmp-<host>-<boot>-<pid>-<start>-<random>

`host` is 8 hex digits of SHA-256 over the host name and the PID namespace (two
containers with one host name but their own PIDs differ), `boot` 8 hex digits of the
kernel's boot id, `pid` the writer's process id and `start` its start time (clock ticks
since boot, `/proc/<pid>/stat`; 0 where unknown), which tells a reused PID from the
writer. `<name>` is cut so that the whole name fits in 255 bytes. Readers of drop
folders ignore dot-files, so a temporary is never read as data.

Which temporaries `sweep` removes (files only, never a symlink or a folder):

* written on this host since its last boot by a process that no longer runs (no such
  PID, or a PID now held by a process started at another time): at once;
* any other (another host sharing the folder, a previous boot, a name from before this
  scheme, `.<name>.tmp-<hex>`): once not modified for `MAX_AGE` (one hour). A batch is
  bounded, so no write takes that long; were one to, its rename would fail (the file is
  gone), the write would raise and the step would retry it: nothing is lost or doubled.

The kernel is the home of this because both `connectors` (batch files) and `consent`
(manifests, encrypted files) write such temporaries and neither imports the other.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import socket
import threading
import time
from datetime import timedelta
from pathlib import Path

MAX_AGE = timedelta(hours=1)
SWEEP_EVERY = 300.0  # seconds: how often a writer sweeps a folder it keeps writing to
_swept: dict[str, float] = {}  # folder -> monotonic time of this process's last sweep
_swept_lock = threading.Lock()
_NAME_BYTES = 255
_TAG = re.compile(
    r"\.(?P<name>.+)\.tmp-(?:"
    r"(?P<host>[0-9a-f]{8})-(?P<boot>[0-9a-f]{8})-(?P<pid>[0-9]{1,10})-(?P<start>[0-9]{1,20})-[0-9a-f]{8}"
    r"|[0-9a-f]{8}|[0-9a-f]{16})",  # the names temporaries had before (random only)
    re.DOTALL,
)


def _short_hash(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogateescape")).hexdigest()[:8]


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def process_start(pid: int) -> int | None:
    """Start time of process `pid` (clock ticks since boot), None if it does not run.

    0 when the process runs but its start time cannot be read (no `/proc`, or another
    user's process hidden by `hidepid`): then only that the PID is taken is known. A
    zombie (killed, not yet reaped) does not run.
    """
    stat = _read(f"/proc/{pid}/stat")
    if stat:
        fields = stat.rpartition(")")[2].split()
        if fields and fields[0] in ("Z", "X"):
            return None
        return int(fields[19]) if len(fields) > 19 and fields[19].isdigit() else 0
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return None
    except OSError:
        return 0  # it exists, owned by someone else
    return 0


_UNKNOWN_BOOT = _short_hash("unknown boot")
HOST = _short_hash(socket.gethostname(), _pid_namespace())
BOOT = _short_hash(_read("/proc/sys/kernel/random/boot_id") or "unknown boot")


def _writer_tag() -> str:
    """This process's part of a temporary's name (the PID changes in a forked child)."""
    pid = os.getpid()
    return f"{HOST}-{BOOT}-{pid}-{process_start(pid) or 0}"


def temporary_name(name: str) -> str:
    """The hidden name to write `name` under before renaming it into place (see module doc)."""
    suffix = f".tmp-{_writer_tag()}-{secrets.token_hex(4)}"
    room = _NAME_BYTES - 1 - len(suffix)
    cut = name.encode("utf-8", "surrogateescape")[:room].decode("utf-8", "ignore")
    return f".{cut}{suffix}"


def is_temporary(name: str) -> bool:
    """Whether a file name is one of these temporaries (any version of the scheme)."""
    return _TAG.fullmatch(name) is not None


def _stale(name: str, modified: float, now: float, max_age: timedelta) -> bool:
    match = _TAG.fullmatch(name)
    if match is None:
        return False
    if now - modified > max_age.total_seconds():
        return True
    if match["host"] != HOST or match["boot"] != BOOT or BOOT == _UNKNOWN_BOOT:
        return False  # another host or boot: only the age tells
    start = process_start(int(match["pid"]))
    if start is None:
        return True  # the writer is gone
    written_by = int(match["start"])
    return bool(start and written_by and start != written_by)  # the PID was reused


def sweep(
    directory: str | os.PathLike[str], *, max_age: timedelta = MAX_AGE, every: float | None = None
) -> list[str]:
    """Remove the stale temporaries in `directory` (see module doc); return their names.

    With `every` (seconds), only if this process has not swept that folder for that
    long: what writers do before each write, so a folder written batch after batch is
    listed once, not once per file. A folder that does not exist or cannot be listed has
    nothing to sweep. A temporary that vanishes meanwhile (renamed by its writer,
    removed by another sweeper) is skipped.
    """
    removed: list[str] = []
    key, ticks = os.fspath(directory), time.monotonic()
    with _swept_lock:
        last = _swept.get(key)
        if every is not None and last is not None and ticks - last < every:
            return removed
        _swept[key] = ticks
    now = time.time()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(".") or ".tmp-" not in entry.name:
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            if not _stale(entry.name, entry.stat(follow_symlinks=False).st_mtime, now, max_age):
                continue
            os.unlink(entry.path)
        except OSError:
            continue
        removed.append(entry.name)
    return removed


def temporaries(directory: str | os.PathLike[str]) -> list[Path]:
    """Every temporary in `directory`, stale or live (for checks and tests)."""
    try:
        return sorted(Path(e.path) for e in os.scandir(directory) if is_temporary(e.name))
    except OSError:
        return []
