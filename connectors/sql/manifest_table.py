"""`govbus_delivery_manifests`: the signed manifests of the batches a SQL sink wrote, beside them.

A table in the recipient's database (in the data table's schema), one row per (table,
batch id): the number of rows, `sorted_root` (the RFC 6962 root of the batch's record
leaf hashes sorted ascending, which the signed manifest carries as
`delivery.records_sorted_root`), the signer's key id, the exact manifest bytes and raw
Ed25519 signature, the delivered Arrow schema (IPC) and the sorted leaf hashes
themselves (32 bytes each, concatenated).

Why sorted leaves: a table does not keep the order rows were written in, so a root over
the delivery order could not be recomputed from it; the sorted root can, and the stored
leaves let every row the table holds be matched to a batch even after later upserts
replaced some of a batch's rows (`consent.verify_table_rows`). The leaves are not signed
themselves: a verifier recomputes their root and compares it with the signed one.

Written by `SqlSink.write_manifest` right after the batch's own transaction (the
manifest needs the batch's audit work, done one batch behind the write): replacing a
batch's row is idempotent, so a retried delivery leaves one row per batch. A crash in
between leaves a batch without its manifest until the retry, which rewrites both.

The verifier's side: `read_manifests` and `read_rows` (the held rows as Arrow, in the
delivered field order and types).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import mysql
from sqlalchemy.sql import sqltypes

from connectors.base import DeliveryManifest
from connectors.sql.column_types import arrow_type_of, to_arrow_array
from connectors.sql.engine import db_error, open_engine, reflect_table, require_columns, split_table_name
from govbus.errors import BadInput

MANIFESTS_TABLE = "govbus_delivery_manifests"
_BLOB = sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")
_READ_ROWS = 50_000


@functools.cache
def manifests_table(schema_name: str | None) -> sa.Table:
    """The table's definition, in the data table's schema (None: the default one).

    One object per schema: SQLAlchemy caches compiled statements by the table they name,
    so a new definition per batch would add a cache entry per batch.
    """
    return sa.Table(
        MANIFESTS_TABLE,
        sa.MetaData(),
        sa.Column("table_name", sa.String(255), primary_key=True),
        sa.Column("batch_id", sa.String(255), primary_key=True),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("sorted_root", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("manifest", _BLOB, nullable=False),
        sa.Column("signature", _BLOB, nullable=False),
        sa.Column("arrow_schema", _BLOB, nullable=False),
        sa.Column("leaves", _BLOB, nullable=False),
        schema=schema_name,
    )


def write_manifest(engine: sa.Engine, table_name: str, where: str, manifest: DeliveryManifest) -> str:
    """Replace the batch's manifest row in one transaction (creating the table if absent)."""
    if manifest.sorted_root is None or len(manifest.sorted_leaves) != 32 * manifest.rows:
        raise BadInput(
            "a manifest for rows in a table needs the batch's sorted leaf hashes",
            where=f"batch {manifest.batch_id}",
        )
    schema_name, _ = split_table_name(table_name)
    table = manifests_table(schema_name)
    try:
        try:
            with engine.begin() as conn:
                table.create(conn, checkfirst=True)
        except sa_exc.SQLAlchemyError:
            if not sa.inspect(engine).has_table(MANIFESTS_TABLE, schema=schema_name):
                raise  # not created by a concurrent writer either
        key = (table.c.table_name == table_name) & (table.c.batch_id == manifest.batch_id)
        with engine.begin() as conn:
            conn.execute(sa.delete(table).where(key))
            # The values go as parameters, not into the statement: a compiled statement is
            # cached, and one holding a batch's leaves would keep 32 bytes a row alive.
            conn.execute(
                sa.insert(table),
                {
                    "table_name": table_name,
                    "batch_id": manifest.batch_id,
                    "row_count": manifest.rows,
                    "sorted_root": manifest.sorted_root,
                    "key_id": manifest.key_id,
                    "manifest": manifest.data,
                    "signature": manifest.signature,
                    "arrow_schema": manifest.arrow_schema,
                    "leaves": manifest.sorted_leaves,
                },
            )
    except sa_exc.SQLAlchemyError as exc:
        raise db_error(exc, where) from None
    return f"{where} ({MANIFESTS_TABLE})"


@dataclass(frozen=True)
class StoredManifest:
    """One row of `govbus_delivery_manifests`, as stored (nothing checked yet)."""

    batch_id: str
    rows: int
    sorted_root: str
    key_id: str
    data: bytes
    signature: bytes
    arrow_schema: bytes
    leaves: bytes


def read_manifests(url: str, table_name: str) -> tuple[str, list[StoredManifest]]:
    """The redacted location and every stored manifest of `table_name`, by batch id."""
    schema_name, _ = split_table_name(table_name)
    engine, redacted = open_engine(url)
    where = f"{redacted}#{table_name}"
    try:
        if not sa.inspect(engine).has_table(MANIFESTS_TABLE, schema=schema_name):
            raise BadInput(
                f"the database holds no {MANIFESTS_TABLE} table",
                where=where,
                hint="a table the bus delivered into has one beside it; check the URL and schema",
            )
        table = manifests_table(schema_name)
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(table).where(table.c.table_name == table_name).order_by(table.c.batch_id)
            ).all()
    except sa_exc.SQLAlchemyError as exc:
        raise db_error(exc, where) from None
    finally:
        engine.dispose()
    stored = [
        StoredManifest(
            batch_id=row.batch_id,
            rows=int(row.row_count),
            sorted_root=row.sorted_root,
            key_id=row.key_id,
            data=bytes(row.manifest),
            signature=bytes(row.signature),
            arrow_schema=bytes(row.arrow_schema),
            leaves=bytes(row.leaves),
        )
        for row in rows
    ]
    return where, stored


def read_rows(url: str, table_name: str, schema: pa.Schema) -> Iterator[pa.Table]:
    """The rows `table_name` holds now, in batches, as `schema`'s fields, order and types.

    Rows come in primary-key order when the table has one. The columns are read as
    `SqlSource` reads them, then cast to the delivered types, so a row the bus wrote
    hashes to the leaf it had when it left the bus.
    """
    engine, redacted = open_engine(url)
    where = f"{redacted}#{table_name}"
    try:
        table = reflect_table(engine, table_name, where)
        require_columns(table, schema.names, "delivered fields")
        for column in table.columns:
            if isinstance(column.type, sqltypes.Float) and column.type.asdecimal:
                column.type.asdecimal = False  # MariaDB DOUBLE: read the exact float, as SqlSource does
        columns = [table.c[name] for name in schema.names]
        types = [arrow_type_of(column) for column in columns]
        with engine.connect() as conn:
            # In key order, so reads under two schemas (a table whose fields changed) align row by row.
            query = sa.select(*columns).order_by(*table.primary_key.columns)
            result = conn.execution_options(yield_per=_READ_ROWS).execute(query)
            for rows in result.partitions():
                values = list(zip(*rows, strict=True))
                arrays = [
                    to_arrow_array(values[i], types[i], column.type, f"{table_name}.{column.name}")
                    for i, column in enumerate(columns)
                ]
                yield _cast(pa.Table.from_arrays(arrays, names=schema.names), schema, where)
    except sa_exc.SQLAlchemyError as exc:
        raise db_error(exc, where) from None
    finally:
        engine.dispose()


def _cast(data: pa.Table, schema: pa.Schema, where: str) -> pa.Table:
    try:
        return data.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        raise BadInput(
            "the table's values do not read back as the delivered types",
            where=where,
            hint="a column's type was changed after delivery",
        ) from None
