"""The conformance kit on the drop folders and file sinks: CSV, JSON Lines, Avro.

The sink writes a batch file into the folder and the drop-folder source reads the new
files, so each seed is one more file. CSV and JSON Lines carry text (and JSON's types):
what comes back is checked after the bus's conform step (`schemas.conform`), on exactly
the values a subscriber would get.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import schemas
from connectors import Sink, Source, make_sink, make_source
from connectors.testing import ConnectorConformance, ConnectorHarness

NOT_TEXT = "CSV fields are scalar text: lists, maps and records cannot be written"


def conformed(table: pa.Table, avro_schema: Mapping[str, Any]) -> pa.Table:
    """What the bus's stage step makes of a text batch: conformed to the schema, no issue."""
    result = schemas.conform(table, schemas.parse_schema(dict(avro_schema)))
    assert result.issues.num_rows == 0, result.issues.to_pylist()
    return result.table


class FolderHarness(ConnectorHarness):
    """A drop folder `directory` written by the `kind` file sink, read by its source."""

    reads_by_cursor_field = False

    def __init__(self, kind: str, directory: Path, **source_settings: Any) -> None:
        self.kind, self.directory = kind, directory
        self.source_settings = {"settle_seconds": 0, **source_settings}

    def make_source(self, *, key_fields: Sequence[str], cursor_field: str | None) -> Source:
        settings = {"connector": self.kind, "directory": str(self.directory), **self.source_settings}
        return make_source(settings, key_fields=key_fields, cursor_field=cursor_field)

    def make_sink(self, *, schema: pa.Schema, key_fields: Sequence[str]) -> Sink:
        settings = {"connector": self.kind, "directory": str(self.directory)}
        return make_sink(settings, key_fields=key_fields, schema=schema)


class TextFolderHarness(FolderHarness):
    """CSV and JSON Lines: typed by the conform step, like the bus does."""

    def conform(self, table: pa.Table, avro_schema: Mapping[str, Any]) -> pa.Table:
        return conformed(table, avro_schema)


class TestCsvFolder(ConnectorConformance):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> FolderHarness:
        harness = TextFolderHarness("csv", tmp_path / "drop", newlines_in_values=True)
        nested = dict.fromkeys(("array", "map", "record"), NOT_TEXT)
        harness.types_not_supported = nested
        return harness


class TestJsonLinesFolder(ConnectorConformance):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> FolderHarness:
        return TextFolderHarness("jsonl", tmp_path / "drop")


class TestAvroFolder(ConnectorConformance):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> FolderHarness:
        harness = FolderHarness("avro", tmp_path / "drop")
        harness.read_types = {pa.dictionary(pa.int32(), pa.string()): pa.string()}  # enums as text
        return harness
