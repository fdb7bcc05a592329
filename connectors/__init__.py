"""Connectors: talking to agency systems.

A `Source` reads what changed since a cursor as bounded Arrow batches, each with the
cursor to resume after it; a `Sink` writes a batch idempotently per batch id. Built-ins:
SQL through SQLAlchemy (`SqlSource`, `SqlSink`), Parquet files (`ParquetSource`,
`ParquetSink`), drop folders of CSV, JSON Lines, Avro and Parquet files read once each
(`DropFolderSource` with a `CsvFormat`, `JsonLinesFormat`, `AvroFormat` or
`ParquetFormat`) and atomic file sinks (`CsvSink`, `JsonLinesSink`, `AvroSink`); file
sources report unreadable records as error rows (`SOURCE_ERROR`, `SOURCE_POSITION`,
`SOURCE_RAW`, see `connectors.source_errors`). Mainframe exports: fixed-width EBCDIC or
ASCII records described by a COBOL copybook (`parse_copybook`, `RecordLayout`,
`decode_records`), one file (`FixedWidthSource`) or a drop folder of them
(`FixedWidthFormat`). `make_source`/`make_sink` build one from
a connector's settings, including third-party connectors registered under the
`govbus.connectors` entry point.

JSON APIs: `RestSource` (page, offset, cursor-token or Link paging; incremental by a
cursor field) and `RestSink` (POST with an idempotency key), both with retries, backoff
and a rate limit (`connectors.rest.http_client`).

Secrets (`connectors.credentials`): settings name an environment variable (`token_env`,
`url_env`, `password_env`) or an Airflow connection (`conn_id`, read by
`airflow_connection`); `sql_url` resolves a sql connector's database URL.
`discover_table` drafts a table's Avro record from SQL reflection (`govbus discover`).

SFTP: `SftpDropFolderSource` reads a drop folder on an SFTP server with the same
once-only rules (a `FolderSource` whose `FileStore` is on the server; `DropFolderSource`
is the local one) and `SftpSink` writes batch files there atomically, both through
paramiko with `SftpSettings` (host, login by reference, trusted host key).

The conformance kit `connectors.testing` (not imported here: it needs pytest) checks a
connector against these contracts — every Avro type round-trips, incremental and resumed
reads lose and repeat nothing, writes are idempotent, memory stays bounded — as pytest
tests (`ConnectorConformance`); every built-in connector passes it.

This part imports no other part of GovBus, only the kernel's errors.
"""

from __future__ import annotations

from connectors.atomic_files import sweep_sink, sweep_temporaries
from connectors.base import Cursor, Sink, SinkReceipt, Source, SourceBatch
from connectors.credentials import ConnectionInfo, airflow_connection, sql_url
from connectors.files.avro_files import AvroFormat
from connectors.files.bounds import Limits
from connectors.files.confinement import ALLOWED_ROOTS_ENV, PathRules, allowed_roots
from connectors.files.csv_files import CsvFormat, CsvOptions
from connectors.files.drop_folder import DropFolderSource, FileFormat, FileStore, FolderSource
from connectors.files.jsonl_files import JsonLinesFormat
from connectors.files.parquet import ParquetSink, ParquetSource
from connectors.files.parquet_files import ParquetFormat
from connectors.files.sinks import AvroSink, CsvSink, JsonLinesSink
from connectors.mainframe.copybook import load_copybook, parse_copybook
from connectors.mainframe.fixed_width import FixedWidthSource
from connectors.mainframe.fixed_width_format import FixedWidthFormat
from connectors.mainframe.record_decode import decode_records
from connectors.mainframe.record_layout import LayoutField, RecordLayout
from connectors.registry import (
    ENTRY_POINT_GROUP,
    check_settings,
    confine_settings,
    local_paths,
    make_sink,
    make_source,
    secret_references,
)
from connectors.rest.sink import RestSink
from connectors.rest.source import RestSource
from connectors.sftp.folder import SftpDropFolderSource
from connectors.sftp.session import SftpSettings
from connectors.sftp.sink import SftpSink
from connectors.source_errors import SOURCE_ERROR, SOURCE_POSITION, SOURCE_RAW
from connectors.sql.discover import ColumnDraft, TableDraft, discover_table
from connectors.sql.sink import SqlSink
from connectors.sql.source import SqlSource

__all__ = [
    "ALLOWED_ROOTS_ENV",
    "ENTRY_POINT_GROUP",
    "SOURCE_ERROR",
    "SOURCE_POSITION",
    "SOURCE_RAW",
    "AvroFormat",
    "AvroSink",
    "ColumnDraft",
    "ConnectionInfo",
    "CsvFormat",
    "CsvOptions",
    "CsvSink",
    "Cursor",
    "DropFolderSource",
    "FileFormat",
    "FileStore",
    "FixedWidthFormat",
    "FixedWidthSource",
    "FolderSource",
    "JsonLinesFormat",
    "JsonLinesSink",
    "LayoutField",
    "Limits",
    "ParquetFormat",
    "ParquetSink",
    "ParquetSource",
    "PathRules",
    "RecordLayout",
    "RestSink",
    "RestSource",
    "SftpDropFolderSource",
    "SftpSettings",
    "SftpSink",
    "Sink",
    "SinkReceipt",
    "Source",
    "SourceBatch",
    "SqlSink",
    "SqlSource",
    "TableDraft",
    "airflow_connection",
    "allowed_roots",
    "check_settings",
    "confine_settings",
    "decode_records",
    "discover_table",
    "load_copybook",
    "local_paths",
    "make_sink",
    "make_source",
    "parse_copybook",
    "secret_references",
    "sql_url",
    "sweep_sink",
    "sweep_temporaries",
]
