"""Connectors: talking to agency systems.

A `Source` reads what changed since a cursor as bounded Arrow batches, each with the
cursor to resume after it; a `Sink` writes a batch idempotently per batch id, and one
that is also a `ManifestStore` keeps each batch's signed `DeliveryManifest` where its
recipient can check it (SFTP beside the file, REST at a `manifest_url`, SQL in
`govbus_delivery_manifests`: `read_manifests`, `read_rows` are the recipient's side). Built-ins:
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

from typing import TYPE_CHECKING

from govbus.lazy_faces import lazy_face

if TYPE_CHECKING:
    from connectors.atomic_files import sweep_sink, sweep_temporaries
    from connectors.base import (
        Cursor,
        DeliveryManifest,
        ManifestStore,
        Sink,
        SinkReceipt,
        Source,
        SourceBatch,
    )
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
    from connectors.sql.manifest_table import MANIFESTS_TABLE, StoredManifest, read_manifests, read_rows
    from connectors.sql.sink import SqlSink
    from connectors.sql.source import SqlSource

# Where each public name lives: imported on first use (PEP 562), so importing this package
# (or one of its modules) does not load every dependency of every other module: `govbus
# --help`, `govbus status` and the DAG file load only what they use. A new public name goes
# here, under TYPE_CHECKING above and in `__all__` (tests/architecture/test_lazy_faces.py).
_LAZY: dict[str, tuple[str, str]] = {
    "sweep_sink": ("connectors.atomic_files", "sweep_sink"),
    "sweep_temporaries": ("connectors.atomic_files", "sweep_temporaries"),
    "Cursor": ("connectors.base", "Cursor"),
    "DeliveryManifest": ("connectors.base", "DeliveryManifest"),
    "ManifestStore": ("connectors.base", "ManifestStore"),
    "Sink": ("connectors.base", "Sink"),
    "SinkReceipt": ("connectors.base", "SinkReceipt"),
    "Source": ("connectors.base", "Source"),
    "SourceBatch": ("connectors.base", "SourceBatch"),
    "ConnectionInfo": ("connectors.credentials", "ConnectionInfo"),
    "airflow_connection": ("connectors.credentials", "airflow_connection"),
    "sql_url": ("connectors.credentials", "sql_url"),
    "AvroFormat": ("connectors.files.avro_files", "AvroFormat"),
    "Limits": ("connectors.files.bounds", "Limits"),
    "ALLOWED_ROOTS_ENV": ("connectors.files.confinement", "ALLOWED_ROOTS_ENV"),
    "PathRules": ("connectors.files.confinement", "PathRules"),
    "allowed_roots": ("connectors.files.confinement", "allowed_roots"),
    "CsvFormat": ("connectors.files.csv_files", "CsvFormat"),
    "CsvOptions": ("connectors.files.csv_files", "CsvOptions"),
    "DropFolderSource": ("connectors.files.drop_folder", "DropFolderSource"),
    "FileFormat": ("connectors.files.drop_folder", "FileFormat"),
    "FileStore": ("connectors.files.drop_folder", "FileStore"),
    "FolderSource": ("connectors.files.drop_folder", "FolderSource"),
    "JsonLinesFormat": ("connectors.files.jsonl_files", "JsonLinesFormat"),
    "ParquetSink": ("connectors.files.parquet", "ParquetSink"),
    "ParquetSource": ("connectors.files.parquet", "ParquetSource"),
    "ParquetFormat": ("connectors.files.parquet_files", "ParquetFormat"),
    "AvroSink": ("connectors.files.sinks", "AvroSink"),
    "CsvSink": ("connectors.files.sinks", "CsvSink"),
    "JsonLinesSink": ("connectors.files.sinks", "JsonLinesSink"),
    "load_copybook": ("connectors.mainframe.copybook", "load_copybook"),
    "parse_copybook": ("connectors.mainframe.copybook", "parse_copybook"),
    "FixedWidthSource": ("connectors.mainframe.fixed_width", "FixedWidthSource"),
    "FixedWidthFormat": ("connectors.mainframe.fixed_width_format", "FixedWidthFormat"),
    "decode_records": ("connectors.mainframe.record_decode", "decode_records"),
    "LayoutField": ("connectors.mainframe.record_layout", "LayoutField"),
    "RecordLayout": ("connectors.mainframe.record_layout", "RecordLayout"),
    "ENTRY_POINT_GROUP": ("connectors.registry", "ENTRY_POINT_GROUP"),
    "check_settings": ("connectors.registry", "check_settings"),
    "confine_settings": ("connectors.registry", "confine_settings"),
    "local_paths": ("connectors.registry", "local_paths"),
    "make_sink": ("connectors.registry", "make_sink"),
    "make_source": ("connectors.registry", "make_source"),
    "secret_references": ("connectors.registry", "secret_references"),
    "RestSink": ("connectors.rest.sink", "RestSink"),
    "RestSource": ("connectors.rest.source", "RestSource"),
    "SftpDropFolderSource": ("connectors.sftp.folder", "SftpDropFolderSource"),
    "SftpSettings": ("connectors.sftp.session", "SftpSettings"),
    "SftpSink": ("connectors.sftp.sink", "SftpSink"),
    "SOURCE_ERROR": ("connectors.source_errors", "SOURCE_ERROR"),
    "SOURCE_POSITION": ("connectors.source_errors", "SOURCE_POSITION"),
    "SOURCE_RAW": ("connectors.source_errors", "SOURCE_RAW"),
    "ColumnDraft": ("connectors.sql.discover", "ColumnDraft"),
    "TableDraft": ("connectors.sql.discover", "TableDraft"),
    "discover_table": ("connectors.sql.discover", "discover_table"),
    "MANIFESTS_TABLE": ("connectors.sql.manifest_table", "MANIFESTS_TABLE"),
    "StoredManifest": ("connectors.sql.manifest_table", "StoredManifest"),
    "read_manifests": ("connectors.sql.manifest_table", "read_manifests"),
    "read_rows": ("connectors.sql.manifest_table", "read_rows"),
    "SqlSink": ("connectors.sql.sink", "SqlSink"),
    "SqlSource": ("connectors.sql.source", "SqlSource"),
}


__getattr__, __dir__ = lazy_face(__name__, _LAZY)


__all__ = [
    "ALLOWED_ROOTS_ENV",
    "ENTRY_POINT_GROUP",
    "MANIFESTS_TABLE",
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
    "DeliveryManifest",
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
    "ManifestStore",
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
    "StoredManifest",
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
    "read_manifests",
    "read_rows",
    "secret_references",
    "sql_url",
    "sweep_sink",
    "sweep_temporaries",
]
