"""SqlSink: exact types through a real database, and idempotent upserts by key."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa

from connectors import SqlSink, SqlSource
from govbus.errors import BadConfiguration, BadInput, TransientError

UTC = dt.UTC
SCHEMA = pa.schema(
    [
        ("agency", pa.string()),
        ("seq", pa.int64()),
        ("amount", pa.decimal128(14, 2)),
        ("assessed_at", pa.timestamp("us", tz="UTC")),
        ("filed_on", pa.date32()),
        ("joint", pa.bool_()),
        ("note", pa.string()),
        ("scan", pa.binary()),
    ]
)
MOMENT = dt.datetime(2024, 3, 1, 12, 30, 0, 123_456, tzinfo=UTC)
ROWS = [
    {"agency": "tax", "seq": 1, "amount": Decimal("123456789012.34"), "assessed_at": MOMENT,
     "filed_on": dt.date(2024, 2, 29), "joint": True, "note": "Ærø", "scan": b"\x00\xff"},
    {"agency": "tax", "seq": 2, "amount": Decimal("-123456789012.34"), "assessed_at": MOMENT,
     "filed_on": dt.date(1999, 12, 31), "joint": False, "note": "", "scan": b""},
    {"agency": "civ", "seq": 1, "amount": Decimal("-0.01"), "assessed_at": None,
     "filed_on": None, "joint": None, "note": None, "scan": None},
]  # fmt: skip


def read_back(url: str, table: str) -> list[dict[str, Any]]:
    source = SqlSource(url, table, key_fields=["agency", "seq"], cursor_fields=None)
    try:
        return [row for batch in source.read(None) for row in batch.data.to_pylist()]
    finally:
        source.close()


def as_decimals(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """SQLite keeps decimals as their canonical text; compare them as numbers."""
    return [dict(row, amount=None if row["amount"] is None else Decimal(row["amount"])) for row in rows]


def by_key(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda row: (row["agency"], row["seq"]))


def test_types_round_trip_exactly(db_url: str, table_name: str) -> None:
    sink = SqlSink(db_url, table_name, key_fields=["agency", "seq"], schema=SCHEMA)
    receipt = sink.write("stage1-0-sub", pa.Table.from_pylist(ROWS, schema=SCHEMA))
    sink.close()
    assert (receipt.batch_id, receipt.rows, receipt.files) == ("stage1-0-sub", 3, ())
    assert receipt.location.endswith(f"#{table_name}")
    back = read_back(db_url, table_name)
    if db_url.startswith("sqlite"):
        assert all(isinstance(row["amount"], str | None) for row in back)
        assert [row["amount"] for row in back] == ["-0.01", "123456789012.34", "-123456789012.34"]
        back = as_decimals(back)
    assert back == by_key(ROWS)


def test_writing_a_batch_twice_changes_nothing_and_a_changed_row_updates(
    db_url: str, table_name: str
) -> None:
    sink = SqlSink(db_url, table_name, key_fields=["agency", "seq"], schema=SCHEMA)
    batch = pa.Table.from_pylist(ROWS, schema=SCHEMA)
    sink.write("b-1", batch)
    first = as_decimals(read_back(db_url, table_name))
    sink.write("b-1", batch)  # a retry after a crash
    assert as_decimals(read_back(db_url, table_name)) == first
    assert len(first) == 3

    changed = dict(ROWS[1], amount=Decimal("10.50"), joint=None, note="amended")
    sink.write("b-2", pa.Table.from_pylist([changed], schema=SCHEMA))
    sink.close()
    expected = by_key([ROWS[0], changed, ROWS[2]])
    assert as_decimals(read_back(db_url, table_name)) == expected


def test_batches_with_duplicate_or_null_keys_are_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'benefits.db'}"
    sink = SqlSink(url, "income", key_fields=["agency", "seq"], schema=SCHEMA)
    sink.write("a", pa.Table.from_pylist([ROWS[2]], schema=SCHEMA))
    with pytest.raises(BadInput, match="same key"):
        sink.write("b", pa.Table.from_pylist([ROWS[0], ROWS[0]], schema=SCHEMA))
    with pytest.raises(BadInput) as error:
        sink.write("b", pa.Table.from_pylist([dict(ROWS[0], seq=None)], schema=SCHEMA))
    assert error.value.where == "income.seq"
    with pytest.raises(BadInput, match="columns differ"):
        sink.write("b", pa.Table.from_pylist(ROWS, schema=SCHEMA).drop_columns(["note"]))
    assert as_decimals(read_back(url, "income")) == [ROWS[2]]


def test_an_existing_table_without_a_key_on_the_key_fields_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'benefits.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        columns = ", ".join(f"{name} TEXT" for name in SCHEMA.names)
        conn.execute(sa.text(f"CREATE TABLE income ({columns})"))
    engine.dispose()
    sink = SqlSink(url, "income", key_fields=["agency", "seq"], schema=SCHEMA)
    with pytest.raises(BadConfiguration, match="no primary or unique key"):
        sink.write("b", pa.Table.from_pylist(ROWS, schema=SCHEMA))


def test_settings_are_checked_before_any_connection(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    with pytest.raises(BadConfiguration) as error:
        SqlSink(url, "income", key_fields=["national_id"], schema=SCHEMA)
    assert error.value.where == "key_fields[0]"
    with pytest.raises(BadConfiguration) as error:
        SqlSink(url, "income", key_fields=["seq"], schema=pa.schema([("seq", pa.int64()),
                ("span", pa.month_day_nano_interval())]))  # fmt: skip
    assert error.value.where == "schema: span"
    with pytest.raises(BadConfiguration) as error:
        SqlSink(url, "x`; --", key_fields=["seq"], schema=SCHEMA)
    assert error.value.where == "table"
    assert not (tmp_path / "x.db").exists()


def test_unreachable_database_is_transient_and_hides_the_password() -> None:
    url = "mysql+pymysql://benefits:s3cr3t-pw@127.0.0.1:1/benefits?connect_timeout=2"
    sink = SqlSink(url, "income", key_fields=["agency", "seq"], schema=SCHEMA)
    with pytest.raises(TransientError) as error:
        sink.write("b", pa.Table.from_pylist(ROWS, schema=SCHEMA))
    sink.close()
    assert "s3cr3t-pw" not in str(error.value)
    assert "***" in (error.value.where or "")


def test_timestamps_in_any_zone_are_stored_as_the_same_utc_instant(db_url: str, table_name: str) -> None:
    schema = pa.schema([("seq", pa.int64()), ("at", pa.timestamp("us", tz="Europe/Oslo"))])
    sink = SqlSink(db_url, table_name, key_fields=["seq"], schema=schema)
    sink.write("b", pa.Table.from_pylist([{"seq": 1, "at": MOMENT}], schema=schema))
    sink.close()
    source = SqlSource(db_url, table_name, key_fields=["seq"], cursor_fields=None)
    [batch] = list(source.read(None))
    source.close()
    assert batch.data["at"].to_pylist() == [MOMENT]
