"""How SqlSink encodes a batch for each database driver, on whole columns.

SqlSink bypasses SQLAlchemy's per-row parameter processing: it converts each column
once with Arrow compute into exactly what the driver stores, then hands the driver
either row tuples (`row_chunks`, for executemany on SQLite and MariaDB/MySQL) or CSV text
(`csv_chunks`, for PostgreSQL's COPY); ADBC takes the `wire_table` itself (SQLite) or,
for PostgreSQL's binary COPY, the batch cast to the table's column types (`typed_table`:
Arrow values, no text). The text encodings keep values exact and round-trip through
SqlSource:

* decimals → their canonical text (SQLite keeps it as text, the servers parse it into
  NUMERIC/DECIMAL exactly);
* timestamps → UTC with microseconds, as `YYYY-MM-DD HH:MM:SS.ffffff` text (SQLAlchemy's
  SQLite format; MariaDB's DATETIME(6) literal), with a `+00` offset for PostgreSQL so the
  session's time zone never matters; dates → `YYYY-MM-DD`;
* floats → float64 (a float32's value is kept, not its shortest decimal spelling);
* binary → bytes for executemany, PostgreSQL's `\\x…` hex text for COPY;
* nulls → None / an unquoted empty CSV field (strings are always quoted by Arrow's CSV
  writer, so an empty string stays empty and distinct from null).

Timestamps and dates must lie in years 1–9999 (what SqlSource and Python can read back).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from govbus.errors import BadInput

UTC_MICROS = pa.timestamp("us", tz="UTC")
_MIN_MICROS, _MAX_MICROS = -62_135_596_800_000_000, 253_402_300_799_999_999  # 0001-01-01, 9999-12-31
_MIN_DAYS, _MAX_DAYS = -719_162, 2_932_896
_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_HEX_PAIRS = np.stack([_HEX_DIGITS[np.arange(256) >> 4], _HEX_DIGITS[np.arange(256) & 15]], axis=1)
_CSV_OPTIONS = pa_csv.WriteOptions(include_header=False, batch_size=8192)


def wire_table(data: pa.Table, dialect: str) -> pa.Table:
    """The batch with every column in the form the `dialect`'s driver receives."""
    columns = [_wire_column(data[name], name, dialect) for name in data.column_names]
    return pa.Table.from_arrays(columns, names=data.column_names)


def row_chunks(data: pa.Table, chunk_rows: int) -> Iterator[Iterator[tuple[Any, ...]]]:
    """Row tuples for `cursor.executemany`, `chunk_rows` at a time, built by zip over columns.

    Only one chunk's Python values exist at a time, so memory stays bounded; each chunk
    is an iterator the driver consumes (no list of tuples is built).
    """
    for offset in range(0, data.num_rows, chunk_rows):
        chunk = data.slice(offset, chunk_rows)
        yield zip(*(chunk[name].to_pylist() for name in chunk.column_names), strict=True)


def csv_chunks(data: pa.Table, chunk_rows: int) -> Iterator[pa.Buffer]:
    """CSV text (no header) for `COPY … FROM STDIN (FORMAT csv)`, `chunk_rows` at a time."""
    for offset in range(0, data.num_rows, chunk_rows):
        sink = pa.BufferOutputStream()
        pa_csv.write_csv(data.slice(offset, chunk_rows), sink, write_options=_CSV_OPTIONS)
        yield sink.getvalue()


def _wire_column(column: pa.ChunkedArray, name: str, dialect: str) -> pa.ChunkedArray | pa.Array:
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    kind = column.type
    if pa.types.is_timestamp(kind):
        text = _utc_micros(column, name).cast(pa.timestamp("us")).cast(pa.string())
        if dialect == "postgresql":
            return pc.binary_join_element_wise(text, "+00", "")
        return text
    if pa.types.is_date(kind):
        days = column.cast(pa.date32())
        _check_range(days.cast(pa.int32()), _MIN_DAYS, _MAX_DAYS, name)
        return column if dialect == "postgresql" else days.cast(pa.string())
    if pa.types.is_decimal(kind):
        return column.cast(pa.string())
    if pa.types.is_floating(kind):
        return column.cast(pa.float64())
    if (pa.types.is_binary(kind) or pa.types.is_large_binary(kind)) and dialect == "postgresql":
        return _bytea_hex(column)
    return column


def _utc_micros(column: pa.ChunkedArray, name: str) -> pa.ChunkedArray:
    """UTC microseconds (naive Arrow timestamps are taken as UTC), in years 1–9999."""
    try:
        column = column.cast(UTC_MICROS)
    except pa.ArrowInvalid:
        raise BadInput(
            "a timestamp has sub-microsecond precision", where=name, hint="round to microseconds"
        ) from None
    _check_range(column.cast(pa.int64()), _MIN_MICROS, _MAX_MICROS, name)
    return column


def _check_range(values: pa.ChunkedArray, low: int, high: int, name: str) -> None:
    extremes = pc.min_max(values)
    low_seen, high_seen = extremes["min"].as_py(), extremes["max"].as_py()
    if low_seen is not None and (low_seen < low or high_seen > high):
        raise BadInput(
            "a date or timestamp lies outside the years 1–9999",
            where=name,
            hint="fix the value at the source; databases and readers cannot round-trip it",
        )


def _bytea_hex(column: pa.ChunkedArray) -> pa.Array:
    """PostgreSQL's bytea hex text (`\\x00ff`) for each value, built with numpy in one pass."""
    array = column.combine_chunks().cast(pa.large_binary())
    _, offsets_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[array.offset : array.offset + len(array) + 1]
    raw = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.empty(0, np.uint8)
    raw = raw[offsets[0] : offsets[-1]]
    out_offsets = np.zeros(len(array) + 1, dtype=np.int64)
    np.cumsum(2 * np.diff(offsets) + 2, out=out_offsets[1:])
    out = np.empty(int(out_offsets[-1]), dtype=np.uint8)
    starts = out_offsets[:-1]
    digits = np.ones(len(out), dtype=bool)
    digits[starts] = digits[starts + 1] = False
    out[starts], out[starts + 1] = ord("\\"), ord("x")
    out[digits] = _HEX_PAIRS[raw].ravel()
    text = pa.LargeStringArray.from_buffers(len(array), pa.py_buffer(out_offsets), pa.py_buffer(out))
    return pc.if_else(array.is_valid(), text, pa.scalar(None, pa.large_string()))


def typed_table(data: pa.Table, types: list[pa.DataType]) -> pa.Table:
    """The batch with each column cast to `types` (Arrow values, no text), for binary COPY.

    Timestamps become UTC microseconds first (naive ones taken as UTC) and are then sent
    as the column wants them: with the UTC zone for `timestamptz`, as UTC wall-clock time
    for `timestamp`. Dates and timestamps are held to years 1–9999 as on the other paths;
    a value that does not fit its column's type (an int64 over an INTEGER column's range)
    is refused by column.
    """
    columns = []
    for name, kind in zip(data.column_names, types, strict=True):
        column = data[name]
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if pa.types.is_timestamp(column.type):
            column = _utc_micros(column, name)
        elif pa.types.is_date(column.type):
            _check_range(column.cast(pa.date32()).cast(pa.int32()), _MIN_DAYS, _MAX_DAYS, name)
        try:
            columns.append(column.cast(kind))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise BadInput(
                f"a value does not fit the column's type ({kind})",
                where=name,
                hint="fix the value at the source, or widen the table's column",
            ) from None
    return pa.Table.from_arrays(columns, names=data.column_names)
