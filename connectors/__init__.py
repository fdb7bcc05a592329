"""Connectors: talking to agency systems.

A `Source` reads what changed since a cursor as bounded Arrow batches, each with the
cursor to resume after it; a `Sink` writes a batch idempotently per batch id. Built-ins:
SQL through SQLAlchemy (`SqlSource`, `SqlSink`) and Parquet files (`ParquetSource`,
`ParquetSink`); `make_source`/`make_sink` build one from a connector's settings,
including third-party connectors registered under the `govbus.connectors` entry point.

This part imports no other part of GovBus, only the kernel's errors.
"""

from __future__ import annotations

from connectors.base import Cursor, Sink, SinkReceipt, Source, SourceBatch
from connectors.parquet import ParquetSink, ParquetSource
from connectors.registry import ENTRY_POINT_GROUP, make_sink, make_source
from connectors.sql_sink import SqlSink
from connectors.sql_source import SqlSource

__all__ = [
    "ENTRY_POINT_GROUP",
    "Cursor",
    "ParquetSink",
    "ParquetSource",
    "Sink",
    "SinkReceipt",
    "Source",
    "SourceBatch",
    "SqlSink",
    "SqlSource",
    "make_sink",
    "make_source",
]
