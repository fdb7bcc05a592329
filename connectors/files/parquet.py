"""Parquet files: `ParquetSink` (one file per batch id, atomic) and `ParquetSource`.

ParquetSink writes `<directory>/<batch_id>.parquet` through a temporary dot-file in the
same directory, fsynced and renamed into place, so a reader sees the whole file or none;
rewriting a batch id replaces the file. Dot-files in the directory are temporaries of an
interrupted write: readers must ignore them.

ParquetSource reads one file with the same compound-cursor semantics as SqlSource, row
group by row group (`connectors.files.row_groups`: plan on the ordering columns, then
read, filter and — only where row groups are out of order or overlap — sort,
vectorized), so a file in cursor order is never held whole; its batches and cursors are
those of a sort of the whole file. The groups read are checked as drop files are
(`connectors.files.bounds`): text that is not UTF-8, a decimal beyond its precision or a
value over `max_field_bytes` refuses the read naming the record (this source has no
error rows: its cursor orders every row); a hard-linked file is refused. Such a refusal,
or a duplicate ordering value, comes when the read reaches it, possibly after batches
were yielded: a stage fails whole then, as before.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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
from connectors.files import row_groups
from connectors.files.bounds import Limits, check_type_depth, value_problems
from govbus.errors import BadConfiguration, BadInput, GovBusError, TransientError


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


# Rows of one chunk per row group while merging a large run of overlapping row groups.
MERGE_CHUNK_ROWS = 8_192


class ParquetSource:
    """Reads rows of one Parquet file strictly after a compound cursor.

    Ordering is `cursor_fields` followed by the `key_fields` not among them (as in
    SqlSource); it must be strict (no two rows equal on it: refused as BadInput) and the
    ordering fields must not be null. `cursor_fields=None` is a full refresh by key.
    `columns` selects what is read (default all); it must include the ordering fields.
    Overlapping row groups of more than `sort_in_memory_rows` rows together are sorted
    through temporary files (`connectors.files.row_groups`), not in memory.
    """

    sort_in_memory_rows = 500_000

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
        """Nothing to release: the file is closed when each read ends."""

    def _batches(self, cursor: Cursor | None, batch_size: int) -> Iterator[SourceBatch]:
        where = self._path.name
        with self._reading(where), self._open() as source:
            self._check_schema(source, where)
            types = [source.schema_arrow.field(name).type for name in self._order]
            position = parse_cursor(cursor, mode=self._mode, fields=self._order, types=types)
            runs = row_groups.plan(
                source, self._order, position, lambda name: self._refuse_nulls(where, name)
            )
            tables = self._sorted_tables(source, runs, position, where)
            for data, last in row_groups.rebatch(tables, batch_size):
                after = None if last and self._mode == FULL else encode_last_row(data, self._order)
                yield SourceBatch(data, make_cursor(self._mode, self._order, after))

    def _sorted_tables(
        self, source: pq.ParquetFile, runs: list[row_groups.Run], position: list[object] | None, where: str
    ) -> Iterator[pa.Table]:
        """Each run's rows after the cursor, in order: one run's row groups in memory at a time."""
        columns = list(self._columns) if self._columns else None
        for run in runs:
            if run.needs_sort and len(run.groups) > 1 and run.rows > self.sort_in_memory_rows:
                yield from self._merged(source, run, position, where, columns)
                continue
            tables = []
            for group in sorted(run.groups, key=lambda g: g.index):
                table = source.read_row_group(group.index, columns=columns)
                self._check_values(table, where, group.first_record)
                if position is not None:
                    table = table.filter(row_groups.after_mask(table, self._order, position))
                tables.append(table)
            table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
            del tables
            if run.needs_sort:
                table = table.sort_by([(name, "ascending") for name in self._order])
                self._check_strict(table)
            yield table

    def _merged(
        self,
        source: pq.ParquetFile,
        run: row_groups.Run,
        position: list[object] | None,
        where: str,
        columns: list[str] | None,
    ) -> Iterator[pa.Table]:
        """A large run of overlapping row groups: each sorted alone into a temporary file
        (private to this process, removed when the read ends), then merged."""
        order = [(name, "ascending") for name in self._order]
        with tempfile.TemporaryDirectory(prefix="govbus-parquet-sort-") as folder:
            paths = []
            for group in sorted(run.groups, key=lambda g: g.index):
                table = source.read_row_group(group.index, columns=columns)
                self._check_values(table, where, group.first_record)
                if position is not None:
                    table = table.filter(row_groups.after_mask(table, self._order, position))
                paths.append(f"{folder}/{group.index}.parquet")
                pq.write_table(table.sort_by(order), paths[-1], row_group_size=MERGE_CHUNK_ROWS)
                del table
            previous: pa.Table | None = None  # the last row yielded: ties across pieces
            for piece in row_groups.merge(paths, self._order, MERGE_CHUNK_ROWS):
                tail = piece.slice(piece.num_rows - 1)
                self._check_strict(piece if previous is None else pa.concat_tables([previous, piece]))
                previous = tail
                yield piece

    @contextmanager
    def _open(self) -> Iterator[pq.ParquetFile]:
        """The file, open for both passes of a read (a file renamed over it meanwhile is not seen)."""
        try:
            handle = self._path.open("rb")
        except FileNotFoundError:
            raise BadConfiguration("the file does not exist", where="path") from None
        try:
            if os.fstat(handle.fileno()).st_nlink > 1:
                raise BadConfiguration(
                    "the file is a hard link (it has other names, maybe outside the allowed folders)",
                    where="path",
                    hint="point path at a copy of the file, not a link to it",
                )
            yield pq.ParquetFile(handle)
        finally:
            handle.close()

    @contextmanager
    def _reading(self, where: str) -> Iterator[None]:
        """pyarrow's and the OS's errors while reading, as GovBus errors naming the file."""
        try:
            yield
        except GovBusError:
            raise
        except FileNotFoundError:
            raise BadConfiguration("the file does not exist", where="path") from None
        except UnicodeDecodeError:
            raise BadInput("a column name or the file's metadata is not valid UTF-8", where=where) from None
        except pa.ArrowException:
            raise BadInput("not a readable Parquet file", where=where) from None
        except OSError as exc:
            raise TransientError(f"cannot read the file ({type(exc).__name__})", where=where) from None

    def _check_schema(self, source: pq.ParquetFile, where: str) -> None:
        """The settings' fields are in the file, ordering fields of a cursor type, depth bounded."""
        schema = source.schema_arrow
        if self._columns is not None:
            missing = [name for name in self._columns if name not in schema.names]
            if missing:
                raise BadInput("not a readable Parquet file", where=where)
            schema = pa.schema([schema.field(name) for name in self._columns])
        check_type_depth(schema, self._limits, where)
        for setting, names in self._settings.items():
            for i, name in enumerate(names):
                if name not in schema.names:
                    raise BadConfiguration(f"field {name} is not in the file", where=f"{setting}[{i}]")
        for name in self._order:
            check_cursor_type(name, schema.field(name).type)

    @staticmethod
    def _refuse_nulls(where: str, name: str) -> None:
        raise BadInput(
            "a cursor or key field holds nulls",
            where=f"{where}: {name}",
            hint="cursor and key fields must not be null",
        )

    def _check_values(self, table: pa.Table, where: str, first_record: int) -> None:
        """Refuse text that is not UTF-8, decimals beyond their precision and values over
        max_field_bytes (pyarrow passes them on as the file holds them). `first_record` is
        the 1-based record number of the table's first row in the file."""
        problems = value_problems(table, self._limits, utf8=True, decimals=True)
        if problems.any:
            row = int(np.flatnonzero(problems.codes >= 0)[0])
            raise BadInput(
                f"record {row + first_record}: {problems.reasons[problems.codes[row]]}",
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


def _names(names: Sequence[str], setting: str) -> tuple[str, ...]:
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise BadConfiguration("must be a list of field names", where=setting)
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name:
            raise BadConfiguration("must be a field name", where=f"{setting}[{i}]")
    return tuple(names)
