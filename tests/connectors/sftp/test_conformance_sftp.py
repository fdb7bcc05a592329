"""The conformance kit on the SFTP drop folders and sinks, against a real SFTP server.

The sink uploads a batch file into a folder on the server (tests/connectors/sftp/sftp_server.py,
asyncssh on 127.0.0.1) and the SFTP drop-folder source reads the new files back, so the
same once-only, resume and idempotency rules are proven over the wire as for local
folders. Parquet carries every type; CSV is typed by the conform step like its local twin.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import pytest

from connectors import Sink, Source, make_sink, make_source
from connectors.testing import ConnectorConformance, ConnectorHarness
from tests.connectors.files.test_conformance_files import NOT_TEXT, conformed
from tests.connectors.sftp.sftp_server import SftpTestServer, connector_settings

SAME_TRANSFER = (
    "reading is the same download-then-parse path for every format; the memory bound is "
    "checked on the Parquet class"
)


class SftpHarness(ConnectorHarness):
    """A folder on the test server written by the `kind` SFTP sink, read by its source."""

    reads_by_cursor_field = False

    def __init__(self, kind: str, server: SftpTestServer, folder: Path, **source_settings: Any) -> None:
        self.kind, self.server, self.folder = kind, server, folder
        self.source_settings = {"settle_seconds": 0, **source_settings}

    def make_source(self, *, key_fields: Sequence[str], cursor_field: str | None) -> Source:
        settings = connector_settings(self.server, self.folder, self.kind, **self.source_settings)
        return make_source(settings, key_fields=key_fields, cursor_field=cursor_field)

    def make_sink(self, *, schema: pa.Schema, key_fields: Sequence[str]) -> Sink:
        settings = connector_settings(self.server, self.folder, self.kind)
        return make_sink(settings, key_fields=key_fields, schema=schema)


class CsvSftpHarness(SftpHarness):
    not_supported: ClassVar[Mapping[str, str]] = {"bounded_memory": SAME_TRANSFER}
    types_not_supported: ClassVar[Mapping[str, str]] = dict.fromkeys(("array", "map", "record"), NOT_TEXT)

    def conform(self, table: pa.Table, avro_schema: Mapping[str, Any]) -> pa.Table:
        return conformed(table, avro_schema)


class TestSftpParquet(ConnectorConformance):
    @pytest.fixture
    def harness(self, sftp_server: SftpTestServer, sftp_folder: Path) -> SftpHarness:
        return SftpHarness("sftp_parquet", sftp_server, sftp_folder)


class TestSftpCsv(ConnectorConformance):
    @pytest.fixture
    def harness(self, sftp_server: SftpTestServer, sftp_folder: Path) -> SftpHarness:
        return CsvSftpHarness("sftp_csv", sftp_server, sftp_folder, newlines_in_values=True)
