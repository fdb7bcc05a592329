"""Parquet drop files: `ParquetFormat` reads them for `DropFolderSource`.

(`connectors.files.parquet.ParquetSource` reads *one* file by cursor field; this format reads
every new file of a folder once.) Record batches of at most `ROWS_PER_TABLE` rows come
straight from `pyarrow.parquet` in the file's own types; resuming skips whole row
groups without reading them. A file that is not Parquet, is truncated or corrupt, whose
column names are not UTF-8 or whose columns nest deeper than `max_depth` fails the read
with `BadInput` naming the file (nothing of a failed read is committed or archived).

pyarrow does not check what a Parquet file claims: text that is not valid UTF-8 and
decimals with more digits than their declared precision come out as they are. Each
table is therefore checked (`connectors.files.bounds.value_problems`, vectorized): a
record holding such a value, or one longer than `max_field_bytes`, becomes an error row
("orders.parquet record 17: name: text that is not valid UTF-8"; position
"orders.parquet#17") whose raw text is the record as JSON, bad bytes escaped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from connectors.files.bounds import (
    BINARY_LIMIT_SETTINGS,
    Limits,
    check_type_depth,
    record_texts,
    split_rows,
    value_problems,
)
from connectors.source_errors import with_error_columns
from govbus.errors import BadInput, GovBusError, TransientError

ROWS_PER_TABLE = 65_536
SETTINGS = ("directory", "pattern", "archive_directory", "settle_seconds", *BINARY_LIMIT_SETTINGS)


class ParquetFormat:
    """The `FileFormat` of Parquet files (see the module doc)."""

    kind = "parquet"
    default_pattern = "*.parquet"

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()

    def records(self, path: Path, name: str, skip: int) -> Iterator[pa.Table]:
        """The file's rows after the first `skip`, plus the error columns."""
        self.limits.check_file(path, name)
        try:
            source = pq.ParquetFile(path)
            check_type_depth(source.schema_arrow, self.limits, name)
            groups = []
            record = 1  # the 1-based number of the next record read
            for index in range(source.metadata.num_row_groups):
                rows = source.metadata.row_group(index).num_rows
                if skip >= rows and not groups:
                    skip -= rows
                    record += rows
                    continue
                groups.append(index)
            for batch in source.iter_batches(batch_size=ROWS_PER_TABLE, row_groups=groups):
                table = pa.Table.from_batches([batch])
                if skip:
                    skipped = min(skip, table.num_rows)
                    table, skip, record = table.slice(skipped), skip - skipped, record + skipped
                if table.num_rows:
                    yield checked_table(table, name, record, self.limits)
                    record += table.num_rows
        except GovBusError:
            raise
        except FileNotFoundError:
            raise TransientError("the file disappeared while it was being read", where=name) from None
        except UnicodeDecodeError:
            raise BadInput(
                "a column name or the file's metadata is not valid UTF-8",
                where=name,
                hint="ask the sender to write the file with UTF-8 column names",
            ) from None
        except (pa.ArrowException, OSError) as exc:
            if isinstance(exc, OSError) and not isinstance(exc, pa.ArrowException) and exc.errno:
                raise TransientError(f"cannot read the file ({type(exc).__name__})", where=name) from None
            raise BadInput(
                "not a readable Parquet file (truncated or corrupt?)",
                where=name,
                hint="ask the sender to send the file again",
            ) from None


def checked_table(table: pa.Table, name: str, first: int, limits: Limits) -> pa.Table:
    """`table` (records `first`, `first + 1`, … of file `name`) with the error columns; the
    records holding text that is not UTF-8, a decimal beyond its precision or a value over
    `max_field_bytes` become error rows (module doc). Shared with the Avro format."""
    problems = value_problems(table, limits, utf8=True, decimals=True)
    if not problems.any:
        return with_error_columns(table)
    rows = np.flatnonzero(problems.codes >= 0)
    numbers = (rows + first).tolist()
    return split_rows(
        table,
        problems,
        [f"{name} record {n}" for n in numbers],
        [f"{name}#{n}" for n in numbers],
        record_texts(table, rows),
    )
