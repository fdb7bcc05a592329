"""The conformance tests of the `arrow_log` example connector (docs/write-a-connector.md)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pytest

from connectors import Sink, Source, make_sink, make_source
from connectors.testing import ConnectorConformance, ConnectorHarness


class ArrowLogHarness(ConnectorHarness):
    """An empty Arrow log in `directory`, reached through the connector's settings."""

    reads_by_cursor_field = False  # it reads in commit order: what was added since the cursor

    def __init__(self, directory: Path) -> None:
        self.settings = {"connector": "arrow_log", "directory": str(directory)}

    def make_source(self, *, key_fields: Sequence[str], cursor_field: str | None) -> Source:
        return make_source(self.settings, key_fields=key_fields, cursor_field=cursor_field)

    def make_sink(self, *, schema: pa.Schema, key_fields: Sequence[str]) -> Sink:
        return make_sink(self.settings, key_fields=key_fields, schema=schema)


class TestArrowLog(ConnectorConformance):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> ArrowLogHarness:
        return ArrowLogHarness(tmp_path / "log")
