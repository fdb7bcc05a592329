"""Writing one file per batch id atomically: a reader sees the whole file or none.

`write_atomically` writes through a temporary dot-file in the target directory
(`govbus.temp_files`: `.<name>.tmp-<writer>-<random>`, which every drop-folder reader
ignores), fsyncs it, renames it over the target with `os.replace` and fsyncs the
directory. A failure at any point removes the temporary and leaves a previous file of
the same name untouched, so a retry of the same batch id never leaves a half file or a
second copy.

A process killed before the rename cannot remove its temporary, so the first write to
a folder in a process (and again every `SWEEP_EVERY` seconds) first sweeps the folder:
temporaries whose writer is gone, or older than an hour, are removed
(`sweep_temporaries`; the deliver step also calls `sweep_sink` before a delivery's first
batch, which covers a delivery that writes nothing). A concurrent writer's live
temporary is never removed: its name carries the writer's host, boot, PID and start time.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from govbus.errors import BadInput
from govbus.temp_files import SWEEP_EVERY, sweep, temporary_name

BATCH_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}")


def sweep_temporaries(directory: str | os.PathLike[str], *, force: bool = True) -> list[str]:
    """Remove the stale temporaries of interrupted writes in `directory`; their names.

    Without `force`, only if this process has not swept the folder in the last
    `SWEEP_EVERY` seconds (what `write_atomically` does before each write).
    """
    return sweep(directory, every=None if force else SWEEP_EVERY)


def sink_directory(sink: Any) -> Path | None:
    """The local folder a file sink writes into, or None for any other sink.

    A sink says so with a `local_directory` attribute; the sinks of `connectors.files`
    (CSV, JSON Lines, Avro, Parquet) keep it as `_directory`. SQL, REST and SFTP sinks
    (the SFTP folder is remote) have none.
    """
    folder = getattr(sink, "local_directory", None)
    if folder is None and type(sink).__module__.startswith("connectors.files."):
        folder = getattr(sink, "_directory", None)
    return Path(folder) if isinstance(folder, str | os.PathLike) else None


def sweep_sink(sink: Any) -> list[str]:
    """Sweep the folder of a file sink before a delivery (see module doc); [] for other sinks."""
    folder = sink_directory(sink)
    return sweep_temporaries(folder) if folder is not None else []


def check_batch_id(batch_id: object) -> str:
    """A batch id safe as a file name: letters, digits, '.', '_', '-', not starting with '.'."""
    if not isinstance(batch_id, str) or not BATCH_ID.fullmatch(batch_id):
        raise BadInput(
            "is not a safe batch id",
            where="batch_id",
            hint="use letters, digits, '.', '_' and '-', not starting with '.'",
        )
    return batch_id


class _HashingFile:
    """A write-only file that also hashes what goes through it."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self.digest = hashlib.sha256()
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self.digest.update(data)
        return self._handle.write(data)

    def flush(self) -> None:
        self._handle.flush()

    def tell(self) -> int:
        return self._handle.tell()

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True  # the real handle is closed by write_atomically


def write_atomically(directory: Path, name: str, write: Callable[[BinaryIO], None]) -> tuple[Path, str]:
    """Create `directory/name` with what `write(handle)` writes; return (path, sha256 hex).

    `directory` is created if missing. A symlink planted under `name` is replaced, never
    followed. OSError and the callback's own exceptions propagate after cleanup.
    """
    directory.mkdir(parents=True, exist_ok=True)
    directory = directory.resolve(strict=True)
    target = directory / name
    if target.parent != directory:
        raise BadInput("the batch file would leave the directory", where="batch_id")
    sweep_temporaries(directory, force=False)
    temporary = directory / temporary_name(name)
    try:
        with open(temporary, "xb") as handle:
            hashing = _HashingFile(handle)
            write(hashing)  # type: ignore[arg-type]
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)  # make the rename itself durable
    finally:
        os.close(descriptor)
    return target, hashing.digest.hexdigest()
