"""`FixedWidthSource`: the records of one mainframe export file, decoded with a copybook.

For a drop folder of such files (each read once, archived after commit) use
`connectors.files.drop_folder.DropFolderSource` with a `FixedWidthFormat`; this source reads
one file, for a system that rewrites the same export in place.

Batches hold at most `batch_size` records in file order, decoded as described in
`connectors.mainframe.fixed_width_format`, with the error columns of `connectors.source_errors`:
a record that does not decode is a row whose `_govbus_source_error` says why (file,
byte offset, record number, field and copybook line), `_govbus_source_position` is
"<file>@<byte>" and `_govbus_source_raw` its bytes; its data columns are null. The
exchange quarantines those rows and drops the three columns from the others. Reading
never fails on a bad record.

Cursor: `{"file": <name>, "sha256": <hex of the whole file>, "records_done": n,
"offset": <byte offset after those records>}`, plus `block_end` (VB: the end of the block
the next record belongs to) and `segment_ids` (the open segment ancestors) when they
apply. Reading from a cursor of the same, unchanged file resumes after its records (at
the end: nothing). A cursor of another file name or content starts from the beginning: a
new export replaces the old one. A file that changes while it is read raises
TransientError (retry once it is complete).
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
from connectors.mainframe.fixed_width_format import FixedWidthFormat
from connectors.mainframe.fixed_width_settings import FORMAT_SETTINGS, format_options
from connectors.mainframe.record_layout import RecordLayout
from govbus.errors import BadConfiguration, BadInput, TransientError

_CURSOR_KEYS = {"file", "sha256", "records_done", "offset"}
_STATE_KEYS = ("block_end", "segment_ids")
SETTINGS = ("path", "directory", "pattern", "archive_directory", "settle_seconds", *FORMAT_SETTINGS)


def fixed_width_source(
    settings: Mapping[str, Any], *, key_fields: Sequence[str], cursor_field: str | None
) -> Source:
    """The source for the `fixed_width` connector's settings (see the registry).

    `path` reads one file (`FixedWidthSource`); `directory` reads a drop folder of them
    (`DropFolderSource`, with its `pattern`, `archive_directory` and `settle_seconds`).
    `copybook` is required; the format settings are those of
    `connectors.mainframe.fixed_width_settings`. Records are read in file order, so a
    `cursor_field` is refused.
    """
    reader = SettingsReader(settings, "fixed_width", SETTINGS)
    if cursor_field is not None:
        raise BadConfiguration(
            "a fixed-width source reads records in file order and takes no cursor field",
            where="cursor_field",
            hint="remove cursor_field from the contract",
        )
    options = format_options(reader, settings)
    path, directory = reader.optional_text("path"), reader.optional_text("directory")
    if (path is None) == (directory is None):
        raise BadConfiguration("give either path (one file) or directory (a drop folder)", where="path")
    file_format = FixedWidthFormat(**options)
    if path is not None:
        return FixedWidthSource(path, copybook=file_format, key_fields=key_fields)
    check_key_fields(file_format, key_fields)
    return DropFolderSource(
        file_format,
        directory,
        pattern=reader.optional_text("pattern"),
        archive_directory=reader.optional_text("archive_directory"),
        settle_seconds=reader.number("settle_seconds", 1.0, minimum=0, maximum=86_400),
    )


def check_key_fields(file_format: FixedWidthFormat, key_fields: Sequence[str]) -> None:
    """Refuse key fields that are not columns of the format (BadConfiguration naming one)."""
    if isinstance(key_fields, str) or not isinstance(key_fields, Sequence):
        raise BadConfiguration("must be a list of field names", where="key_fields")
    for i, name in enumerate(key_fields):
        if name not in file_format.schema.names:
            raise BadConfiguration("is not a field of the copybook", where=f"key_fields[{i}]")


class FixedWidthSource:
    """Decoded records of one mainframe export file, in file order, resumable by position.

    `copybook` is a copybook path, a `RecordLayout` or a ready `FixedWidthFormat` (then the
    other format keywords must be left out); the keywords are `FixedWidthFormat`'s
    (`encoding`, `record_format`, `record_length`, `naming`, …). `key_fields` must be
    columns of the format (checked here; records are not sorted).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        copybook: str | os.PathLike[str] | RecordLayout | FixedWidthFormat,
        key_fields: Sequence[str] = (),
        **format_keywords: Any,
    ) -> None:
        if not isinstance(path, str | os.PathLike) or not str(path):
            raise BadConfiguration("must be a file path", where="path")
        if isinstance(copybook, FixedWidthFormat):
            if format_keywords:
                raise BadConfiguration("give the format's settings to the format", where=min(format_keywords))
            self.format = copybook
        else:
            self.format = FixedWidthFormat(copybook, **format_keywords)
        check_key_fields(self.format, key_fields)
        self.key_fields = tuple(key_fields)
        self._path = Path(path)

    @property
    def layout(self) -> RecordLayout:
        """The record layout (fields, offsets, kinds) the file is decoded with."""
        return self.format.layout

    @property
    def schema(self) -> pa.Schema:
        """The schema of every batch: the layout's fields, seg_id columns, the error columns."""
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
            start, skipped, state = self._start(cursor, digest, size)
            for table, offset, done, after in self.format.tables(
                handle, name, start, skipped, size, batch_size, state
            ):
                if _identity(handle) != identity:
                    raise TransientError(
                        "the file changed while it was read", where=name, hint="retry once it is complete"
                    )
                position = {"file": name, "sha256": digest, "records_done": done, "offset": offset}
                yield SourceBatch(table, position | {k: after[k] for k in _STATE_KEYS if k in after})

    def _start(self, cursor: Cursor | None, digest: str, size: int) -> tuple[int, int, dict[str, Any]]:
        """(offset, records done, resume state); the file's start for no cursor or another file."""
        if cursor is None or cursor["file"] != self._path.name or cursor["sha256"] != digest:
            return self.format.start(size), 0, {}
        offset, done = cursor["offset"], cursor["records_done"]
        for value in (offset, done):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise BadInput("holds a position that is not a count", where="cursor")
        if offset > size:
            raise BadInput("holds a position past the end of the file", where="cursor")
        begin, end = self.format.start(size), self.format.end(size)
        length = self.format.record_length
        if self.format.record_format == "fixed" and offset != min(begin + done * length, end):
            raise BadInput("does not fit this file's record length", where="cursor")
        return offset, done, {k: cursor[k] for k in _STATE_KEYS if k in cursor}


def _identity(handle: io.FileIO) -> tuple[int, int, int]:
    stat = os.fstat(handle.fileno())
    return stat.st_size, stat.st_mtime_ns, stat.st_ino


def _sha256(handle: io.FileIO) -> str:
    digest = hashlib.sha256()
    handle.seek(0)
    for block in iter(lambda: handle.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()
