"""The error-row convention: how a file source reports a record it could not read.

A source batch may carry three extra string columns besides the data columns:

    _govbus_source_error     null when the row is fine; else why it could not be read,
                             naming the position, never a value:
                             "orders-0001.csv line 17: expected 6 fields, found 5"
    _govbus_source_position  where the record is: "<file>:<line>" for text files
                             (1-based physical line), "<file>@<byte>" for byte offsets,
                             "<file>#<record>" (1-based) for record-oriented files;
                             null on fine rows (the file sources here do not number them)
    _govbus_source_raw       the record as found in the file (text; bytes that do not
                             decode are shown as backslash escapes), null on fine rows

On an error row every data column is null. The exchange quarantines error rows with
their reason, position and raw text (the raw text may hold personal data: it goes to
quarantine, never into a message or a log line) and lets the other rows flow.

The file sources of this package always add the three columns, so every batch of a file
has the same columns whether or not it holds errors.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

SOURCE_ERROR = "_govbus_source_error"
SOURCE_POSITION = "_govbus_source_position"
SOURCE_RAW = "_govbus_source_raw"
SOURCE_ERROR_COLUMNS = (SOURCE_ERROR, SOURCE_POSITION, SOURCE_RAW)
ERROR_FIELDS = [pa.field(name, pa.string()) for name in SOURCE_ERROR_COLUMNS]


def with_error_columns(table: pa.Table) -> pa.Table:
    """`table` plus the three columns, all null (every row read fine)."""
    for field in ERROR_FIELDS:
        table = table.append_column(field, pa.nulls(table.num_rows, pa.string()))
    return table


def error_rows(
    data_schema: pa.Schema,
    reasons: Sequence[str],
    positions: Sequence[str],
    raws: Sequence[str | None],
) -> pa.Table:
    """Error rows for `data_schema` (without the error columns): data columns all null."""
    count = len(reasons)
    columns = [pa.nulls(count, field.type) for field in data_schema]
    columns += [pa.array(list(values), pa.string()) for values in (reasons, positions, raws)]
    fields = [field.with_nullable(True) for field in data_schema]
    return pa.Table.from_arrays(columns, schema=pa.schema([*fields, *ERROR_FIELDS]))


def data_schema(table: pa.Table) -> pa.Schema:
    """The schema of `table` without the error columns."""
    return pa.schema([field for field in table.schema if field.name not in SOURCE_ERROR_COLUMNS])
