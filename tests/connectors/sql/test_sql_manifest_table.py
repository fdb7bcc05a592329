"""`govbus_delivery_manifests`: a SQL recipient verifies the rows its table holds (issue 15).

On every database kind: the sink keeps each batch's signed manifest and sorted record
leaves beside the table, once per batch id; reading the held rows back in the delivered
types re-hashes them to the same leaves; a changed row, a forged leaf list or an edited
manifest is caught; a row replaced by a later batch's upsert still verifies.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
from collections.abc import Iterator
from decimal import Decimal

import pyarrow as pa
import pytest
import sqlalchemy as sa

import audit
import connectors
import consent
from connectors import DeliveryManifest, SqlSink
from consent import KeyStore
from exchange.run.manifests import sorted_leaves

SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("name", pa.string()),
        pa.field("amount", pa.decimal128(12, 2)),
        pa.field("at", pa.timestamp("us", tz="UTC")),
        pa.field("day", pa.date32()),
        pa.field("flag", pa.bool_()),
        pa.field("ratio", pa.float64()),
    ]
)
T0 = dt.datetime(2026, 3, 1, 12, 30, 0, 123456, tzinfo=dt.UTC)


def _batch(ids: range, *, amount: int = 10) -> pa.Table:
    return pa.table(
        {
            "id": list(ids),
            "name": [None if i % 7 == 0 else f"Zoë {i}" for i in ids],
            "amount": [Decimal(f"{amount + i}.25") for i in ids],
            "at": [T0 + dt.timedelta(seconds=i) for i in ids],
            "day": [dt.date(2026, 1, 1) + dt.timedelta(days=i) for i in ids],
            "flag": [i % 2 == 0 for i in ids],
            "ratio": [i / 3 for i in ids],
        },
        schema=SCHEMA,
    )


def _manifest(keystore: KeyStore, batch_id: str, data: pa.Table) -> DeliveryManifest:
    leaves = sorted_leaves(data)
    root = audit.merkle_root([leaves[i : i + 32] for i in range(0, len(leaves), 32)])
    signed = consent.sign_manifest(
        batch_id,
        signing_key=keystore.signing_key(),
        contract_id="c",
        contract_version="1.0.0",
        schema_sha256="ab" * 32,
        rows_delivered=data.num_rows,
        rows_denied=0,
        files=[],
        policy_version="p",
        details={"fields": data.column_names, "records_sorted_root": root},
    )
    return DeliveryManifest(
        batch_id=batch_id,
        key_id=signed.key_id,
        data=signed.data,
        signature=signed.signature,
        public_key_pem=signed.public_key_pem,
        names=(signed.manifest_name, signed.signature_name, signed.public_key_name),
        rows=data.num_rows,
        sorted_root=root,
        sorted_leaves=leaves,
        arrow_schema=data.schema.serialize().to_pybytes(),
    )


@pytest.fixture
def sink(db_url: str, table_name: str) -> Iterator[SqlSink]:
    made = SqlSink(db_url, table_name, key_fields=["id"], schema=SCHEMA)
    yield made
    made.close()
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        table = connectors.sql.manifest_table.manifests_table(None)
        if sa.inspect(conn).has_table(table.name):
            conn.execute(sa.delete(table).where(table.c.table_name == table_name))
    engine.dispose()


def _report(url: str, table: str, keystore: KeyStore) -> consent.TableReport:
    location, stored = connectors.read_manifests(url, table)
    return consent.verify_table_rows(
        location, stored, keystore.public_keys(), lambda schema: connectors.read_rows(url, table, schema)
    )


def _write(sink: SqlSink, keystore: KeyStore, batch_id: str, data: pa.Table) -> None:
    sink.write(batch_id, data)
    sink.write_manifest(_manifest(keystore, batch_id, data))


def test_held_rows_verify_after_upserts_and_a_retry_and_a_changed_row_is_caught(
    sink: SqlSink, db_url: str, table_name: str, keystore: KeyStore
) -> None:
    assert isinstance(sink, connectors.ManifestStore)
    _write(sink, keystore, "b-1", _batch(range(0, 40)))
    _write(sink, keystore, "b-1", _batch(range(0, 40)))  # a retried batch: one manifest row
    _write(sink, keystore, "b-2", _batch(range(30, 60), amount=99))  # replaces rows 30..39
    report = _report(db_url, table_name, keystore)
    assert report.ok, (report.problems, [b.problems for b in report.batches])
    assert [(b.batch_id, b.rows, b.held) for b in report.batches] == [("b-1", 40, 30), ("b-2", 30, 30)]
    assert report.rows_held == 60 and report.rows_unmatched == 0

    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"UPDATE {table_name} SET name = 'someone else' WHERE id = 3"))
        changed = _report(db_url, table_name, keystore)
        assert not changed.ok and changed.rows_unmatched == 1
        with engine.begin() as conn:  # a value put back as delivered verifies again
            conn.execute(sa.text(f"UPDATE {table_name} SET name = 'Zoë 3' WHERE id = 3"))
        assert _report(db_url, table_name, keystore).ok
    finally:
        engine.dispose()


def test_a_forged_leaf_list_or_an_edited_manifest_is_caught(
    sink: SqlSink, db_url: str, table_name: str, keystore: KeyStore
) -> None:
    _write(sink, keystore, "b-1", _batch(range(0, 10)))
    table = connectors.sql.manifest_table.manifests_table(None)
    engine = sa.create_engine(db_url)
    key = (table.c.table_name == table_name) & (table.c.batch_id == "b-1")
    try:
        with engine.connect() as conn:
            original = conn.execute(sa.select(table.c.leaves, table.c.manifest).where(key)).one()
        # Someone changes a row and adds its new leaf to the list: the signed root refuses it.
        with engine.begin() as conn:
            conn.execute(sa.update(table).where(key).values(leaves=b"\x00" * 32 + original.leaves[32:]))
        forged = _report(db_url, table_name, keystore)
        assert not forged.ok
        assert "the stored leaf hashes do not give the signed root (altered)" in forged.batches[0].problems
        with engine.begin() as conn:
            conn.execute(
                sa.update(table)
                .where(key)
                .values(leaves=original.leaves, manifest=original.manifest.replace(b'"rows"', b'"Rows"'))
            )
        edited = _report(db_url, table_name, keystore)
        assert not edited.ok
        assert any("signature does not verify" in p for p in edited.batches[0].problems)
    finally:
        engine.dispose()


def test_an_untrusted_key_verifies_nothing(
    sink: SqlSink, db_url: str, table_name: str, keystore: KeyStore
) -> None:
    _write(sink, keystore, "b-1", _batch(range(0, 5)))
    location, stored = connectors.read_manifests(db_url, table_name)
    report = consent.verify_table_rows(
        location, stored, {}, lambda s: connectors.read_rows(db_url, table_name, s)
    )
    assert not report.ok
    assert report.batches[0].problems == ["signed by an unknown key id (not among the trusted keys)"]


def test_writing_many_manifests_keeps_no_batchs_leaves_in_memory(sink: SqlSink, keystore: KeyStore) -> None:
    """A delivery writes a manifest per batch: the sink's engine must not keep each batch's
    leaves (32 bytes a row) alive, e.g. in its compiled-statement cache (a leak of
    ~3 MiB a 100,000-row batch was measured before the statement took them as parameters)."""
    data = _batch(range(0, 50))
    manifest = _manifest(keystore, "b-0", data)
    # a marker no other object holds: found again only if something kept it
    marker = b"\x5a" * 32 * data.num_rows
    cache = sink._engine._compiled_cache
    sizes = []
    for n in range(12):
        sink.write(f"b-{n}", data)
        sink.write_manifest(dataclasses.replace(manifest, batch_id=f"b-{n}", sorted_leaves=bytes(marker)))
        sizes.append(len(cache))
    gc.collect()
    kept = [
        o
        for o in gc.get_objects()
        if isinstance(o, dict) and any(v == marker for v in o.values() if isinstance(v, bytes))
    ]
    assert sizes[-1] == sizes[1], f"compiled statements per manifest write: {sizes}"
    assert not kept
