"""Parquet drop files: `ParquetFormat` reads them for `DropFolderSource`.

(`connectors.files.parquet.ParquetSource` reads *one* file by cursor field; this format reads
every new file of a folder once.) Record batches of at most `ROWS_PER_TABLE` rows come
straight from `pyarrow.parquet` in the file's own types; resuming skips whole row
groups without reading them. A file that is not Parquet, is truncated or corrupt fails
the read with `BadInput` naming the file (nothing of a failed read is committed or
archived).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from connectors.source_errors import with_error_columns
from govbus.errors import BadInput, TransientError

ROWS_PER_TABLE = 65_536
SETTINGS = ("directory", "pattern", "archive_directory", "settle_seconds")


class ParquetFormat:
    """The `FileFormat` of Parquet files (see the module doc)."""

    kind = "parquet"
    default_pattern = "*.parquet"

    def records(self, path: Path, name: str, skip: int) -> Iterator[pa.Table]:
        """The file's rows after the first `skip`, plus the (all-null) error columns."""
        try:
            source = pq.ParquetFile(path)
            groups = []
            for index in range(source.metadata.num_row_groups):
                rows = source.metadata.row_group(index).num_rows
                if skip >= rows and not groups:
                    skip -= rows
                    continue
                groups.append(index)
            for batch in source.iter_batches(batch_size=ROWS_PER_TABLE, row_groups=groups):
                table = pa.Table.from_batches([batch])
                if skip:
                    table, skip = table.slice(min(skip, table.num_rows)), max(0, skip - table.num_rows)
                if table.num_rows:
                    yield with_error_columns(table)
        except FileNotFoundError:
            raise TransientError("the file disappeared while it was being read", where=name) from None
        except (pa.ArrowException, OSError) as exc:
            if isinstance(exc, OSError) and not isinstance(exc, pa.ArrowException) and exc.errno:
                raise TransientError(f"cannot read the file ({type(exc).__name__})", where=name) from None
            raise BadInput(
                "not a readable Parquet file (truncated or corrupt?)",
                where=name,
                hint="ask the sender to send the file again",
            ) from None
