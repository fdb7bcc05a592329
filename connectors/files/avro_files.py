"""Avro container drop files: `AvroFormat` reads them for `DropFolderSource`.

fastavro reads the file block by block (a block is what the writer flushed, typically a
few thousand records); records are gathered into tables of at most `RECORDS_PER_TABLE`
and converted as `connectors.files.avro_types` describes, so decimals and every timestamp unit
stay exact and memory stays bounded. Resuming skips whole blocks without decoding them.
fastavro decodes record by record in Cython (there is no columnar Avro decoder); the
step to Arrow is one conversion per table.

A file that is not Avro, is truncated or corrupt, whose schema has no Arrow counterpart
or nests deeper than `max_depth`, or that holds text that is not UTF-8 or a decimal
with more digits than its type declares (fastavro cannot decode past either) fails the
read with `BadInput` naming the file (nothing of a failed read is committed or
archived). A record holding a value longer than `max_field_bytes` becomes an error row
("events.avro record 17: note: longer than max_field_bytes (1048576 bytes)", position
"events.avro#17"), as in Parquet files (`connectors.files.parquet_files.checked_table`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fastavro
import pyarrow as pa

from connectors.files.avro_types import Unsupported, reading_plan
from connectors.files.bounds import BINARY_LIMIT_SETTINGS, Limits, check_type_depth
from connectors.files.parquet_files import checked_table
from connectors.files.text_columns import uuid_text
from govbus.errors import BadInput, GovBusError, TransientError

RECORDS_PER_TABLE = 16_384
MAGIC = b"Obj\x01"
SETTINGS = ("directory", "pattern", "archive_directory", "settle_seconds", *BINARY_LIMIT_SETTINGS)


class AvroFormat:
    """The `FileFormat` of Avro object container files (see the module doc)."""

    kind = "avro"
    default_pattern = "*.avro"

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()

    def records(self, path: Path, name: str, skip: int) -> Iterator[pa.Table]:
        """The file's records after the first `skip`, plus the error columns."""
        self.limits.check_file(path, name)
        try:
            with open(path, "rb") as handle:
                yield from _tables(handle, name, skip, self.limits)
        except GovBusError:
            raise
        except OSError as exc:
            raise TransientError(f"cannot read the file ({type(exc).__name__})", where=name) from None
        except Exception as exc:  # fastavro raises ValueError, EOFError, zlib.error, …
            raise BadInput(_problem(exc), where=name, hint="ask the sender to send the file again") from None


def _tables(handle: Any, name: str, skip: int, limits: Limits) -> Iterator[pa.Table]:
    if handle.read(4) != MAGIC:
        raise BadInput("not an Avro container file", where=name, hint="check the file and the pattern")
    handle.seek(0)
    header = fastavro.reader(handle)  # reads and checks the header only
    try:
        raw, final = reading_plan(header.writer_schema)
    except Unsupported as exc:
        raise BadInput(
            f"the file's Avro schema cannot be read: {exc.args[0]}",
            where=name,
            hint="unions of several non-null types are not supported",
        ) from None
    check_type_depth(final, limits, name)
    handle.seek(0)
    pending: list[dict[str, Any]] = []
    record = 1  # the 1-based number of the first pending record
    for block in fastavro.block_reader(handle):
        if skip >= block.num_records:
            skip -= block.num_records
            record += block.num_records
            continue
        records = iter(block)
        for _ in range(skip):
            next(records)
        record += skip
        skip = 0
        for item in records:
            pending.append(item)
            if len(pending) >= RECORDS_PER_TABLE:
                yield checked_table(_table(pending, raw, final), name, record, limits)
                record += len(pending)
                pending = []
    if pending:
        yield checked_table(_table(pending, raw, final), name, record, limits)


def _table(records: list[dict[str, Any]], raw: pa.Schema, final: pa.Schema) -> pa.Table:
    table = pa.Table.from_pylist(records, schema=raw)
    if not raw.equals(final):
        for i, field in enumerate(raw):
            if isinstance(field.type, pa.BaseExtensionType):  # uuid → its text, vectorized
                table = table.set_column(i, final.field(i), uuid_text(table.column(i).combine_chunks()))
        table = table.cast(final)
    return table


def _problem(exc: Exception) -> str:
    text = str(exc)
    if isinstance(exc, UnicodeDecodeError):
        return "a text value or a name in the file is not valid UTF-8"
    if isinstance(exc, RecursionError):
        return "the file's schema nests too deeply to be read"
    if isinstance(exc, pa.ArrowInvalid) and "precision" in text:
        return "a decimal has more digits than its type declares"
    if "codec" in text:
        return "the file is compressed with a codec this installation cannot read"
    if "header" in text:
        return "not an Avro container file (its header is broken)"
    return "not a readable Avro container file (truncated or corrupt?)"
