"""`FixedWidthSource`: the records of one mainframe export file, decoded with a copybook.

For a drop folder of such files (each read once, archived after commit) use
`connectors.files.drop_folder.DropFolderSource` with a `FixedWidthFormat`; this source reads
one file, for a system that rewrites the same export in place.

Batches hold at most `batch_size` records in file order, decoded as described in
`connectors.mainframe.fixed_width_format`, with the error columns of `connectors.source_errors`:
a record that does not decode is a row whose `_govbus_source_error` says why (file,
byte offset, record number, field), `_govbus_source_position` is "<file>@<byte>" and
`_govbus_source_raw` its bytes; its data columns are null. The exchange quarantines
those rows and drops the three columns from the others. Reading never fails on a bad
record.

Cursor: `{"file": <name>, "sha256": <hex of the whole file>, "records_done": n,
"offset": <byte offset after those records>}`. Reading from a cursor of the same,
unchanged file resumes after its records (at the end: nothing). A cursor of another
file name or content starts from the beginning: a new export replaces the old one. A
file that changes while it is read raises TransientError (retry once it is complete).
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from connectors.base import Cursor, Source, SourceBatch
from connectors.files.drop_folder import DropFolderSource
from connectors.files.settings import SettingsReader
from connectors.mainframe.code_pages import ENCODINGS
from connectors.mainframe.copybook import NAMINGS
from connectors.mainframe.fixed_width_format import RECORD_FORMATS, FixedWidthFormat
from connectors.mainframe.record_layout import RecordLayout
from govbus.errors import BadConfiguration, BadInput, TransientError

_CURSOR_KEYS = {"file", "sha256", "records_done", "offset"}
SETTINGS = (
    "path", "directory", "copybook", "encoding", "record_format", "record_length", "naming",
    "pattern", "archive_directory", "settle_seconds",
)  # fmt: skip


def fixed_width_source(
    settings: Mapping[str, Any], *, key_fields: Sequence[str], cursor_field: str | None
) -> Source:
    """The source for the `fixed_width` connector's settings (see the registry).

    `path` reads one file (`FixedWidthSource`); `directory` reads a drop folder of them
    (`DropFolderSource`, with its `pattern`, `archive_directory` and `settle_seconds`).
    `copybook` is required; `encoding` (cp037), `record_format` (fixed),
    `record_length` and `naming` (leaf) are optional. Records are read in file order,
    so a `cursor_field` is refused.
    """
    reader = SettingsReader(settings, "fixed_width", SETTINGS)
    if cursor_field is not None:
        raise BadConfiguration(
            "a fixed-width source reads records in file order and takes no cursor field",
            where="cursor_field",
            hint="remove cursor_field from the contract",
        )
    options = {
        "copybook": reader.text("copybook"),
        "encoding": reader.choice("encoding", "cp037", ENCODINGS),
        "record_format": reader.choice("record_format", "fixed", RECORD_FORMATS),
        "record_length": settings.get("record_length"),
        "naming": reader.choice("naming", "leaf", NAMINGS),
    }
    path, directory = reader.optional_text("path"), reader.optional_text("directory")
    if (path is None) == (directory is None):
        raise BadConfiguration("give either path (one file) or directory (a drop folder)", where="path")
    if path is not None:
        return FixedWidthSource(path, key_fields=key_fields, **options)
    file_format = FixedWidthFormat(**options)
    for i, name in enumerate(key_fields):
        if name not in file_format.layout.names:
            raise BadConfiguration("is not a field of the copybook", where=f"key_fields[{i}]")
    return DropFolderSource(
        file_format,
        directory,
        pattern=reader.optional_text("pattern"),
        archive_directory=reader.optional_text("archive_directory"),
        settle_seconds=reader.number("settle_seconds", 1.0, minimum=0, maximum=86_400),
    )


class FixedWidthSource:
    """Decoded records of one fixed-width file, in file order, resumable by position.

    `copybook` is a copybook path or a `RecordLayout`; `encoding` one of cp037, cp273,
    cp500, cp1047, ascii; `record_format` "fixed" or "rdw"; `record_length` (fixed only)
    the real record length when records carry bytes the copybook does not describe.
    `key_fields` must be fields of the layout (checked here; records are not sorted).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        copybook: str | os.PathLike[str] | RecordLayout,
        encoding: str = "cp037",
        record_format: str = "fixed",
        record_length: int | None = None,
        key_fields: Sequence[str] = (),
        naming: str = "leaf",
    ) -> None:
        if not isinstance(path, str | os.PathLike) or not str(path):
            raise BadConfiguration("must be a file path", where="path")
        self.format = FixedWidthFormat(
            copybook,
            encoding=encoding,
            record_format=record_format,
            record_length=record_length,
            naming=naming,
        )
        if isinstance(key_fields, str) or not isinstance(key_fields, Sequence):
            raise BadConfiguration("must be a list of field names", where="key_fields")
        for i, name in enumerate(key_fields):
            if name not in self.format.layout.names:
                raise BadConfiguration("is not a field of the copybook", where=f"key_fields[{i}]")
        self.key_fields = tuple(key_fields)
        self._path = Path(path)

    @property
    def layout(self) -> RecordLayout:
        """The record layout (fields, offsets, kinds) the file is decoded with."""
        return self.format.layout

    @property
    def schema(self) -> pa.Schema:
        """The schema of every batch: the layout's fields, then the three error columns."""
        return self.format.schema

    def read(self, cursor: Cursor | None, *, batch_size: int = 50_000) -> Iterator[SourceBatch]:
        """Yield batches of at most `batch_size` records after `cursor` (see the module doc)."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise BadInput("must be a positive integer", where="batch_size")
        if cursor is not None and (not isinstance(cursor, dict) or not _CURSOR_KEYS <= set(cursor)):
            raise BadInput("is not a cursor of a fixed-width source", where="cursor")
        return self._batches(cursor, batch_size)

    def close(self) -> None:
        """Nothing to release: the file is opened and closed by each read."""

    def _batches(self, cursor: Cursor | None, batch_size: int) -> Iterator[SourceBatch]:
        name = self._path.name
        try:
            handle = open(self._path, "rb", buffering=0)  # closed by the `with` below
        except FileNotFoundError:
            raise BadConfiguration("the file does not exist", where="path") from None
        except OSError as exc:
            raise TransientError(f"cannot open the file ({type(exc).__name__})", where=name) from None
        with handle:
            identity = _identity(handle)
            digest = _sha256(handle)
            size = identity[0]
            start, skipped = self._start(cursor, digest, size)
            for table, offset, done in self.format.tables(handle, name, start, skipped, size, batch_size):
                if _identity(handle) != identity:
                    raise TransientError(
                        "the file changed while it was read", where=name, hint="retry once it is complete"
                    )
                after = {"file": name, "sha256": digest, "records_done": done, "offset": offset}
                yield SourceBatch(table, after)

    def _start(self, cursor: Cursor | None, digest: str, size: int) -> tuple[int, int]:
        """(offset, records done) to resume from; (0, 0) for no cursor or another file."""
        if cursor is None or cursor["file"] != self._path.name or cursor["sha256"] != digest:
            return 0, 0
        offset, done = cursor["offset"], cursor["records_done"]
        for value in (offset, done):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise BadInput("holds a position that is not a count", where="cursor")
        if offset > size:
            raise BadInput("holds a position past the end of the file", where="cursor")
        length = self.format.record_length
        if self.format.record_format == "fixed" and offset != min(done * length, size):
            raise BadInput("does not fit this file's record length", where="cursor")
        return offset, done


def _identity(handle: io.FileIO) -> tuple[int, int, int]:
    stat = os.fstat(handle.fileno())
    return stat.st_size, stat.st_mtime_ns, stat.st_ino


def _sha256(handle: io.FileIO) -> str:
    digest = hashlib.sha256()
    handle.seek(0)
    for block in iter(lambda: handle.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()
