"""Parquet files: `ParquetSink` (one file per batch id, atomic) and `ParquetSource`.

ParquetSink writes `<directory>/<batch_id>.parquet` through a temporary dot-file in the
same directory, fsynced and renamed into place, so a reader sees the whole file or none;
rewriting a batch id replaces the file. Dot-files in the directory are temporaries of an
interrupted write: readers must ignore them.

ParquetSource reads one file with the same compound-cursor semantics as SqlSource. It
reads the whole file into memory on each `read` (acceptable for drop files up to a few
million rows; a row-group-pruning reader is the way beyond that), then filters,
sorts and slices vectorized. The file is checked as drop files are
(`connectors.files.bounds`): text that is not UTF-8, a decimal beyond its precision or a
value over `max_field_bytes` refuses the read naming the record (this source has no
error rows: its cursor orders every row); a hard-linked file is refused.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from connectors.atomic_files import check_batch_id, write_atomically
from connectors.base import Cursor, SinkReceipt, SourceBatch
from connectors.cursors import (
    FULL,
    INCREMENTAL,
    check_cursor_type,
    encode_last_row,
    make_cursor,
    parse_cursor,
)
from connectors.files.bounds import Limits, check_type_depth, value_problems
from govbus.errors import BadConfiguration, BadInput, TransientError


class ParquetSink:
    """Writes each batch as `<directory>/<batch_id>.parquet`, atomically and idempotently."""

    def __init__(self, directory: str | Path) -> None:
        if not isinstance(directory, str | os.PathLike) or not str(directory):
            raise BadConfiguration("must be a directory path", where="directory")
        self._directory = Path(directory)

    def write(self, batch_id: str, data: pa.Table) -> SinkReceipt:
        """Write the batch's file; an existing file of the same batch id is replaced."""
        check_batch_id(batch_id)
        if not isinstance(data, pa.Table):
            raise BadInput("must be a pyarrow Table", where="data")
        name = f"{batch_id}.parquet"
        try:
            self._directory.mkdir(parents=True, exist_ok=True)
            directory = self._directory.resolve(strict=True)
            target = directory / name
            if target.resolve().parent != directory:  # e.g. a symlink planted under that name
                raise BadInput("the batch file would leave the directory", where="batch_id")
            target, digest = write_atomically(directory, name, lambda handle: pq.write_table(data, handle))
        except pa.ArrowException as exc:  # the data: a type Parquet cannot hold
            raise BadInput(
                f"the batch cannot be written as Parquet ({type(exc).__name__})",
                where=f"batch {batch_id}",
                hint="use column types Parquet supports",
            ) from None
        except OSError as exc:
            raise TransientError(
                f"cannot write the batch file ({type(exc).__name__})",
                where=str(self._directory),
                hint="check the directory exists, is writable and has free space",
            ) from None
        return SinkReceipt(
            batch_id=batch_id, rows=data.num_rows, location=str(target), files=((name, digest),)
        )

    def close(self) -> None:
        """Nothing to release: every write is complete when it returns."""


class ParquetSource:
    """Reads rows of one Parquet file strictly after a compound cursor.

    Ordering is `cursor_fields` followed by the `key_fields` not among them (as in
    SqlSource); it must be strict (no two rows equal on it: refused as BadInput) and the
    ordering fields must not be null. `cursor_fields=None` is a full refresh by key.
    `columns` selects what is read (default all); it must include the ordering fields.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        cursor_fields: Sequence[str] | None,
        key_fields: Sequence[str] = (),
        columns: Sequence[str] | None = None,
        limits: Limits | None = None,
    ) -> None:
        self._limits = limits or Limits()
        if not isinstance(path, str | os.PathLike) or not str(path):
            raise BadConfiguration("must be a file path", where="path")
        keys = _names(key_fields, "key_fields")
        self._settings = {"key_fields": keys}
        if cursor_fields is None:
            if not keys:
                raise BadConfiguration("a full refresh needs key fields", where="key_fields")
            self._mode, self._order = FULL, keys
        else:
            ordering = _names(cursor_fields, "cursor_fields")
            if not ordering:
                raise BadConfiguration("must name at least one field", where="cursor_fields")
            self._settings["cursor_fields"] = ordering
            self._mode = INCREMENTAL
            self._order = ordering + tuple(key for key in keys if key not in ordering)
        self._columns = None if columns is None else _names(columns, "columns")
        if self._columns is not None and not set(self._order) <= set(self._columns):
            raise BadConfiguration("must include the cursor and key fields", where="columns")
        self._path = Path(path)

    def read(self, cursor: Cursor | None, *, batch_size: int = 50_000) -> Iterator[SourceBatch]:
        """Yield batches of at most `batch_size` rows strictly after `cursor`."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise BadInput("must be a positive integer", where="batch_size")
        return self._batches(cursor, batch_size)

    def close(self) -> None:
        """Nothing to release: the file is closed after each read."""

    def _batches(self, cursor: Cursor | None, batch_size: int) -> Iterator[SourceBatch]:
        table = self._load()
        types = [table.schema.field(name).type for name in self._order]
        position = parse_cursor(cursor, mode=self._mode, fields=self._order, types=types)
        if position is not None:
            table = table.filter(_after_mask(table, self._order, position))
        table = table.sort_by([(name, "ascending") for name in self._order])
        self._check_strict(table)
        for start in range(0, table.num_rows, batch_size):
            data = table.slice(start, batch_size)
            last = start + batch_size >= table.num_rows
            after = None if last and self._mode == FULL else encode_last_row(data, self._order)
            yield SourceBatch(data, make_cursor(self._mode, self._order, after))

    def _load(self) -> pa.Table:
        where = self._path.name
        try:
            if self._path.stat().st_nlink > 1:
                raise BadConfiguration(
                    "the file is a hard link (it has other names, maybe outside the allowed folders)",
                    where="path",
                    hint="point path at a copy of the file, not a link to it",
                )
            table = pq.read_table(self._path, columns=list(self._columns) if self._columns else None)
        except FileNotFoundError:
            raise BadConfiguration("the file does not exist", where="path") from None
        except UnicodeDecodeError:
            raise BadInput("a column name or the file's metadata is not valid UTF-8", where=where) from None
        except OSError as exc:
            raise TransientError(f"cannot read the file ({type(exc).__name__})", where=where) from None
        except pa.ArrowException:
            raise BadInput("not a readable Parquet file", where=where) from None
        self._check_values(table, where)
        for setting, names in self._settings.items():
            for i, name in enumerate(names):
                if name not in table.column_names:
                    raise BadConfiguration(f"field {name} is not in the file", where=f"{setting}[{i}]")
        for name in self._order:
            check_cursor_type(name, table.schema.field(name).type)
            if table[name].null_count:
                raise BadInput(
                    "a cursor or key field holds nulls",
                    where=f"{where}: {name}",
                    hint="cursor and key fields must not be null",
                )
        return table

    def _check_values(self, table: pa.Table, where: str) -> None:
        """Refuse text that is not UTF-8, decimals beyond their precision and values over
        max_field_bytes (pyarrow passes them on as the file holds them)."""
        check_type_depth(table.schema, self._limits, where)
        problems = value_problems(table, self._limits, utf8=True, decimals=True)
        if problems.any:
            row = int(np.flatnonzero(problems.codes >= 0)[0])
            raise BadInput(
                f"record {row + 1}: {problems.reasons[problems.codes[row]]}",
                where=where,
                hint="ask the sender to fix the file (a drop folder instead quarantines such records)",
            )

    def _check_strict(self, table: pa.Table) -> None:
        """Refuse rows equal on every ordering field: a cursor could not tell them apart."""
        if table.num_rows < 2:
            return
        same = None
        for name in self._order:
            column = table[name]
            equal = pc.equal(column.slice(0, table.num_rows - 1), column.slice(1))
            same = equal if same is None else pc.and_(same, equal)
        if pc.any(same).as_py():
            raise BadInput(
                "two rows share the same cursor and key values",
                where=self._path.name,
                hint="key_fields must identify a row",
            )


def _after_mask(table: pa.Table, fields: Sequence[str], position: list[object]) -> pa.ChunkedArray:
    """(f1, f2, …) > (v1, v2, …) on whole columns: f1 > v1 OR (f1 = v1 AND f2 > v2) OR …"""
    mask = equal_prefix = None
    for name, value in zip(fields, position, strict=True):
        column = table[name]
        scalar = pa.scalar(value, type=column.type)
        term = pc.greater(column, scalar)
        if equal_prefix is not None:
            term = pc.and_(equal_prefix, term)
        mask = term if mask is None else pc.or_(mask, term)
        equal = pc.equal(column, scalar)
        equal_prefix = equal if equal_prefix is None else pc.and_(equal_prefix, equal)
    return mask


def _names(names: Sequence[str], setting: str) -> tuple[str, ...]:
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise BadConfiguration("must be a list of field names", where=setting)
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name:
            raise BadConfiguration("must be a field name", where=f"{setting}[{i}]")
    return tuple(names)
