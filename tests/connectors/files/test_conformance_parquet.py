"""The conformance kit on the Parquet connector: one file read by cursor, and a drop folder.

`ParquetSink` writes `<batch id>.parquet`; `ParquetSource` reads one file (`path`) by
cursor field, and a `directory` makes the source a drop folder reading each new file once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import ClassVar

import pyarrow as pa
import pytest

from connectors import Sink, Source, make_sink, make_source
from connectors.testing import ConnectorConformance, ConnectorHarness

EXPORT = "export"


class ParquetFileHarness(ConnectorHarness):
    """A system that rewrites one export file in place: `<directory>/export.parquet`."""

    not_supported: ClassVar[Mapping[str, str]] = {
        "idempotent_write": "the same ParquetSink is checked by the drop-folder harness "
        "(this source reads one file, not the batch files a sink writes)",
        "bounded_memory": "this harness rewrites its one export file whole at every seed (40 "
        "rewrites of a growing file for 1,000,000 rows); ParquetSource's row-group-at-a-time read "
        "is checked in test_parquet_row_groups.py",
    }

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.rows: list[pa.Table] = []

    def make_source(self, *, key_fields: Sequence[str], cursor_field: str | None) -> Source:
        path = str(self.directory / f"{EXPORT}.parquet")
        return make_source(
            {"connector": "parquet", "path": path}, key_fields=key_fields, cursor_field=cursor_field
        )

    def make_sink(self, *, schema: pa.Schema, key_fields: Sequence[str]) -> Sink:
        settings = {"connector": "parquet", "directory": str(self.directory)}
        return make_sink(settings, key_fields=key_fields, schema=schema)

    def seed(self, table: pa.Table, *, key_fields: Sequence[str], cursor_field: str | None) -> None:
        """The export is rewritten with every row so far (written by the sink as one batch)."""
        self.rows.append(table)
        sink = self.make_sink(schema=table.schema, key_fields=key_fields)
        sink.write(EXPORT, pa.concat_tables(self.rows))
        sink.close()


class ParquetFolderHarness(ConnectorHarness):
    """A drop folder of Parquet batch files: written by ParquetSink, each read once."""

    reads_by_cursor_field = False

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def make_source(self, *, key_fields: Sequence[str], cursor_field: str | None) -> Source:
        settings = {"connector": "parquet", "directory": str(self.directory), "settle_seconds": 0}
        return make_source(settings, key_fields=key_fields, cursor_field=cursor_field)

    def make_sink(self, *, schema: pa.Schema, key_fields: Sequence[str]) -> Sink:
        settings = {"connector": "parquet", "directory": str(self.directory)}
        return make_sink(settings, key_fields=key_fields, schema=schema)


class TestParquetFile(ConnectorConformance):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> ParquetFileHarness:
        return ParquetFileHarness(tmp_path / "export")


class TestParquetFolder(ConnectorConformance):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> ParquetFolderHarness:
        return ParquetFolderHarness(tmp_path / "drop")
