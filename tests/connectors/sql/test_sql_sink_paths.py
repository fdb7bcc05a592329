"""SqlSink's fast paths (executemany of tuples, PostgreSQL COPY) and its append mode."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa

from connectors import SqlSink, SqlSource, make_sink
from connectors.sql.sink import BATCH_MARKERS
from govbus.errors import BadConfiguration, BadInput

UTC = dt.UTC
SCHEMA = pa.schema(
    [
        ("seq", pa.int64()),
        ("note", pa.string()),
        ("amount", pa.decimal128(38, 10)),
        ("ratio", pa.float32()),
        ("at", pa.timestamp("us", tz="UTC")),
        ("day", pa.date32()),
        ("flag", pa.bool_()),
        ("blob", pa.binary()),
    ]
)
# Values that break naive text encodings: CSV quoting, COPY's end marker, backslashes,
# "NULL" as text, empty versus null, zero bytes, extreme dates and decimals.
NOTES = ['a "quoted", value', "line\nbreak\r\n", "\\.", "back\\slash\\", "NULL", "", None, "Ærø ✓", "\t"]
ROWS = [
    {
        "seq": i,
        "note": NOTES[i % len(NOTES)],
        "amount": Decimal("-1234567890123456789012345678.0123456789") if i % 3 == 0 else Decimal(i) / 8,
        "ratio": [0.1, -2.5, None][i % 3],
        "at": None if i % 4 == 3 else dt.datetime(2024, 3, 1, 12, 30, 0, i, tzinfo=UTC),
        "day": [dt.date(1, 1, 1), dt.date(9999, 12, 31), dt.date(2024, 2, 29), None][i % 4],
        "flag": [True, False, None][i % 3],
        "blob": [b"\x00\xff\\x", b"", None, b'\n,"'][i % 4],
    }
    for i in range(23)
]


def read_back(url: str, table: str) -> list[dict[str, Any]]:
    source = SqlSource(url, table, key_fields=["seq"], cursor_fields=None)
    try:
        return [row for batch in source.read(None) for row in batch.data.to_pylist()]
    finally:
        source.close()


def normalized(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """SQLite keeps decimals as text; floats are compared as the float32 values written."""
    return [
        dict(
            row,
            amount=None if row["amount"] is None else Decimal(row["amount"]),
            ratio=None if row["ratio"] is None else pa.scalar(row["ratio"], pa.float32()).as_py(),
        )
        for row in rows
    ]


def count(url: str, table: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
    finally:
        engine.dispose()


@pytest.fixture
def markers_dropped(db_url: str) -> Any:
    yield
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {BATCH_MARKERS}"))
    engine.dispose()


@pytest.mark.parametrize("mode", ["upsert", "append"])
def test_values_survive_every_chunk_boundary_exactly(
    db_url: str, table_name: str, mode: str, markers_dropped: None
) -> None:
    sink = SqlSink(db_url, table_name, key_fields=["seq"], schema=SCHEMA, mode=mode)
    sink.executemany_rows = sink.copy_rows = 4  # 23 rows: six chunks, the last one short
    receipt = sink.write("b-1", pa.Table.from_pylist(ROWS, schema=SCHEMA))
    sink.close()
    assert receipt.rows == 23
    back = read_back(db_url, table_name)
    assert normalized(back) == normalized(ROWS)
    assert back[0]["ratio"] == pytest.approx(0.1) and back[0]["ratio"] != 0.1  # the float32 value, kept


def test_a_batch_is_one_transaction_even_across_chunks(db_url: str, table_name: str) -> None:
    engine = sa.create_engine(db_url)
    sa.Table(
        table_name,
        sa.MetaData(),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("note", sa.Text, nullable=False),
    ).create(engine)
    engine.dispose()
    schema = pa.schema([("seq", pa.int64()), ("note", pa.string())])
    sink = SqlSink(db_url, table_name, key_fields=["seq"], schema=schema)
    sink.executemany_rows = sink.copy_rows = 2
    rows = [{"seq": i, "note": f"secret-{i}"} for i in range(5)] + [{"seq": 5, "note": None}]
    with pytest.raises(BadInput) as error:
        sink.write("b-1", pa.Table.from_pylist(rows, schema=schema))
    sink.close()
    assert "refused the data" in str(error.value)
    assert "secret" not in str(error.value)
    assert error.value.__cause__ is None and error.value.__suppress_context__  # no driver text chained
    assert count(db_url, table_name) == 0  # the chunks before the bad row were rolled back


def test_append_writes_each_batch_id_once(db_url: str, table_name: str, markers_dropped: None) -> None:
    sink = SqlSink(db_url, table_name, key_fields=["seq"], schema=SCHEMA, mode="append")
    first = pa.Table.from_pylist(ROWS[:10], schema=SCHEMA)
    assert sink.write("b-1", first).rows == 10
    assert sink.write("b-1", first).rows == 10  # a retry after a crash: skipped
    sink.write("b-2", pa.Table.from_pylist(ROWS[10:], schema=SCHEMA))
    assert count(db_url, table_name) == 23
    # The same key under another batch id is refused, not duplicated, and nothing of it lands.
    with pytest.raises(BadInput, match="refused the data"):
        sink.write("b-3", pa.Table.from_pylist([dict(ROWS[0], seq=99), ROWS[1]], schema=SCHEMA))
    sink.close()
    assert count(db_url, table_name) == 23
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        marked = conn.execute(
            sa.text(
                f"SELECT batch_id, row_count FROM {BATCH_MARKERS} WHERE table_name = :t ORDER BY batch_id"
            ),
            {"t": table_name},
        ).all()
    engine.dispose()
    assert [tuple(row) for row in marked] == [("b-1", 10), ("b-2", 13)]


def test_append_without_keys_fills_an_existing_table_without_a_key(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'stats.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE counts (municipality TEXT, people BIGINT, extra TEXT)"))
    engine.dispose()
    schema = pa.schema([("municipality", pa.string()), ("people", pa.int64())])
    sink = make_sink(
        {"connector": "sql", "url": url, "table": "counts", "mode": "append"}, key_fields=(), schema=schema
    )
    batch = pa.table({"municipality": ["0301", "0301"], "people": [5, 5]}, schema=schema)
    sink.write("s-1", batch)
    sink.write("s-1", batch)
    sink.write("s-2", batch)
    sink.close()
    assert count(url, "counts") == 4  # rows without any key are appended, once per batch id


def test_mode_and_keys_are_checked(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    with pytest.raises(BadConfiguration) as error:
        SqlSink(url, "t", key_fields=["seq"], schema=SCHEMA, mode="merge")
    assert error.value.where == "mode"
    with pytest.raises(BadConfiguration) as error:
        make_sink(
            {"connector": "sql", "url": url, "table": "t", "mode": "replace"},
            key_fields=["seq"],
            schema=SCHEMA,
        )
    assert error.value.where == "mode"
    with pytest.raises(BadConfiguration) as error:
        SqlSink(url, "t", key_fields=[], schema=SCHEMA)
    assert error.value.where == "key_fields"
    with pytest.raises(BadInput) as error:
        SqlSink(url, "t", key_fields=["seq"], schema=SCHEMA).write(
            "x" * 256, pa.Table.from_pylist(ROWS, schema=SCHEMA)
        )
    assert error.value.where == "batch_id"
    assert not (tmp_path / "x.db").exists()


def test_timestamps_outside_years_1_to_9999_are_refused_by_column(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    schema = pa.schema([("seq", pa.int64()), ("at", pa.timestamp("s"))])
    sink = SqlSink(url, "t", key_fields=["seq"], schema=schema)
    far = pa.table({"seq": [1, 2], "at": pa.array([0, 400_000_000_000], pa.timestamp("s"))})
    with pytest.raises(BadInput) as error:
        sink.write("b", far)
    sink.close()
    assert error.value.where == "at"


@pytest.mark.parametrize("db_url", ["mariadb"], indirect=True)
def test_mariadb_executemany_is_sent_as_multi_row_inserts(table_name: str, db_url: str) -> None:
    schema = pa.schema([("seq", pa.int64()), ("note", pa.string())])
    sink = SqlSink(db_url, table_name, key_fields=["seq"], schema=schema)
    sink.write("warm-up", pa.table({"seq": [0], "note": ["x"]}, schema=schema))
    engine = sa.create_engine(db_url)

    def inserts() -> int:
        with engine.connect() as conn:
            row = conn.execute(sa.text("SHOW GLOBAL STATUS LIKE 'Com_insert'")).one()
        return int(row[1])

    before = inserts()
    sink.write("b", pa.table({"seq": range(1, 5001), "note": ["n" * 20] * 5000}, schema=schema))
    statements = inserts() - before
    sink.close()
    engine.dispose()
    assert count(db_url, table_name) == 5001
    assert statements < 50  # far fewer statements than rows (others may insert meanwhile)
