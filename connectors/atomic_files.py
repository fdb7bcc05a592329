"""Writing one file per batch id atomically: a reader sees the whole file or none.

`write_atomically` writes through a temporary dot-file in the target directory
(`.<name>.tmp-<random>`, which every drop-folder reader ignores), fsyncs it, renames it
over the target with `os.replace` and fsyncs the directory. A failure at any point
removes the temporary and leaves a previous file of the same name untouched, so a retry
of the same batch id never leaves a half file or a second copy.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from govbus.errors import BadInput

BATCH_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}")


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
    temporary = directory / f".{name}.tmp-{secrets.token_hex(8)}"
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
