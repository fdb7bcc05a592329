"""SqlSource: keyset pagination by a compound cursor, Arrow types, and its refusals."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from connectors import SqlSource
from govbus.errors import BadConfiguration, BadInput, TransientError

UTC = dt.UTC
T0 = dt.datetime(2024, 5, 1, 8, 0, 0, 250_000, tzinfo=UTC)
# Microsecond timestamps on MariaDB need DATETIME(6); elsewhere the generic type does.
TIMESTAMP = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def stored(url: str, moment: dt.datetime) -> dt.datetime:
    """How a test writes a UTC instant: aware for PostgreSQL, naive UTC where columns are naive."""
    return moment if url.startswith("postgresql") else moment.replace(tzinfo=None)


def returns_table(name: str) -> tuple[sa.MetaData, sa.Table]:
    metadata = sa.MetaData()
    table = sa.Table(
        name,
        metadata,
        sa.Column("return_id", sa.String(16), primary_key=True),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("gross_income", sa.Numeric(14, 2)),
    )
    return metadata, table


def seed_25_returns(url: str, name: str) -> tuple[sa.Table, list[str]]:
    """25 rows; 10 of them share one updated_at. Returns the keys in (updated_at, key) order."""
    metadata, table = returns_table(name)
    rows = []
    for i in range(25):
        # ids 5..14 share T0+1h; the others are spread before and after it
        offset = dt.timedelta(hours=1) if 5 <= i < 15 else dt.timedelta(minutes=7 * (24 - i))
        rows.append({"return_id": f"R{(i * 7) % 25:03d}", "updated_at": T0 + offset, "gross": i})
    expected = [r["return_id"] for r in sorted(rows, key=lambda r: (r["updated_at"], r["return_id"]))]
    engine = sa.create_engine(url)
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(
                table.insert(),
                [
                    {
                        "return_id": r["return_id"],
                        "updated_at": stored(url, r["updated_at"]),
                        "gross_income": Decimal(r["gross"]) / 4,
                    }
                    for r in rows
                ],
            )
    finally:
        engine.dispose()
    return table, expected


def return_id(row: dict[str, Any]) -> str:
    return row["return_id"]


def test_compound_cursor_never_skips_or_repeats_rows_sharing_a_timestamp(
    db_url: str, table_name: str, assert_resumes_exactly: Any
) -> None:
    table, expected = seed_25_returns(db_url, table_name)
    source = SqlSource(db_url, table_name, key_fields=["return_id"])
    try:
        last = assert_resumes_exactly(source, expected, 4, return_id)
        assert last["after"] == [(T0 + dt.timedelta(hours=2, minutes=48)).isoformat(), expected[-1]]

        # Later: one new row and one changed row move past the cursor; nothing else is read.
        engine = sa.create_engine(db_url)
        with engine.begin() as conn:
            later = stored(db_url, T0 + dt.timedelta(days=1))
            conn.execute(table.insert().values(return_id="R900", updated_at=later))
            conn.execute(table.update().where(table.c.return_id == "R007").values(updated_at=later))
        engine.dispose()
        batches = list(source.read(last, batch_size=4))
        assert [row["return_id"] for b in batches for row in b.data.to_pylist()] == ["R007", "R900"]
        assert list(source.read(json.loads(json.dumps(batches[-1].cursor)))) == []
    finally:
        source.close()


def test_multi_column_key_pages_rows_that_all_share_one_timestamp(
    db_url: str, table_name: str, assert_resumes_exactly: Any
) -> None:
    metadata = sa.MetaData()
    table = sa.Table(
        table_name,
        metadata,
        sa.Column("agency", sa.String(8), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    )
    keys = [(agency, seq) for agency in ("civ", "hlt", "tax") for seq in (3, 1, 2)]
    engine = sa.create_engine(db_url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            table.insert(),
            [{"agency": a, "seq": s, "updated_at": stored(db_url, T0)} for a, s in keys],
        )
    engine.dispose()
    source = SqlSource(db_url, table_name, key_fields=["agency", "seq"])
    try:
        assert_resumes_exactly(source, sorted(keys), 2, lambda row: (row["agency"], row["seq"]))
    finally:
        source.close()


def test_full_refresh_orders_by_key_and_starts_over_after_the_last_batch(
    db_url: str, table_name: str
) -> None:
    _, expected = seed_25_returns(db_url, table_name)
    source = SqlSource(db_url, table_name, key_fields=["return_id"], cursor_fields=None)
    try:
        batches = list(source.read(None, batch_size=10))
        assert [row["return_id"] for b in batches for row in b.data.to_pylist()] == sorted(expected)
        middle = json.loads(json.dumps(batches[0].cursor))
        rest = [row["return_id"] for b in source.read(middle, batch_size=10) for row in b.data.to_pylist()]
        assert rest == sorted(expected)[10:]
        assert batches[-1].cursor["after"] is None
        again = list(source.read(json.loads(json.dumps(batches[-1].cursor)), batch_size=100))
        assert again[0].data.num_rows == 25
    finally:
        source.close()


def test_sql_types_become_exact_arrow_types(db_url: str, table_name: str) -> None:
    metadata = sa.MetaData()
    table = sa.Table(
        table_name,
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("amount", sa.Numeric(14, 2)),
        sa.Column("assessed_at", TIMESTAMP),
        sa.Column("filed_on", sa.Date),
        sa.Column("joint", sa.Boolean),
        sa.Column("dependents", sa.BigInteger),
        sa.Column("note", sa.Text),
        sa.Column("scan", sa.LargeBinary),
    )
    moment = dt.datetime(2024, 3, 1, 12, 30, 0, 123_456, tzinfo=UTC)
    if db_url.startswith("postgresql"):  # a non-UTC offset must come back as the same instant
        written = moment.astimezone(dt.timezone(dt.timedelta(hours=2)))
    else:
        written = moment.replace(tzinfo=None)  # naive columns are read as UTC
    rows = [
        {"id": 1, "amount": Decimal("123456789012.34"), "assessed_at": written,
         "filed_on": dt.date(2024, 2, 29), "joint": True, "dependents": 2**40,
         "note": "Ærø – ok", "scan": b"\x00\xff"},
        {"id": 2, "amount": Decimal("-0.01"), "assessed_at": written, "filed_on": dt.date(2000, 1, 1),
         "joint": False, "dependents": 0, "note": "", "scan": b""},
        {"id": 3, "amount": None, "assessed_at": None, "filed_on": None, "joint": None,
         "dependents": None, "note": None, "scan": None},
    ]  # fmt: skip
    engine = sa.create_engine(db_url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), rows)
    engine.dispose()
    source = SqlSource(db_url, table_name, key_fields=["id"], cursor_fields=None)
    try:
        [batch] = list(source.read(None))
    finally:
        source.close()
    assert batch.data.schema == pa.schema(
        [
            ("id", pa.int64()),
            ("amount", pa.decimal128(14, 2)),
            ("assessed_at", pa.timestamp("us", tz="UTC")),
            ("filed_on", pa.date32()),
            ("joint", pa.bool_()),
            ("dependents", pa.int64()),
            ("note", pa.string()),
            ("scan", pa.binary()),
        ]
    )
    expected = [dict(row, assessed_at=moment if row["assessed_at"] else None) for row in rows]
    assert batch.data.to_pylist() == expected


def test_sqlite_decimals_declared_as_text_pass_through_as_strings(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tax.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE r (id INTEGER PRIMARY KEY, amount TEXT)"))
        conn.execute(sa.text("INSERT INTO r VALUES (1, '123456789012.34'), (2, '-7.10')"))
    engine.dispose()
    source = SqlSource(url, "r", key_fields=["id"], cursor_fields=None)
    [batch] = list(source.read(None))
    source.close()
    assert batch.data.schema.field("amount").type == pa.string()
    assert batch.data["amount"].to_pylist() == ["123456789012.34", "-7.10"]


def sqlite_table(tmp_path: Path, ddl: str, *inserts: str) -> str:
    url = f"sqlite:///{tmp_path / 'agency.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for statement in (ddl, *inserts):
            conn.execute(sa.text(statement))
    engine.dispose()
    return url


def test_sqlite_timestamps_in_another_text_format_are_refused(tmp_path: Path) -> None:
    # CURRENT_TIMESTAMP writes 'YYYY-MM-DD HH:MM:SS', which SQLite would compare unequal
    # to the cursor's bound value: reading on would silently skip rows at boundaries.
    url = sqlite_table(
        tmp_path,
        "CREATE TABLE r (id INTEGER PRIMARY KEY, updated_at DATETIME DEFAULT CURRENT_TIMESTAMP)",
        "INSERT INTO r (id) VALUES (1), (2)",
    )
    with pytest.raises(BadInput, match="format") as error:
        list(SqlSource(url, "r", key_fields=["id"]).read(None))
    assert error.value.where == f"{url}#r"


def test_null_cursor_values_are_refused(tmp_path: Path) -> None:
    url = sqlite_table(
        tmp_path,
        "CREATE TABLE r (id INTEGER PRIMARY KEY, updated_at DATETIME)",
        "INSERT INTO r VALUES (1, NULL)",
    )
    with pytest.raises(BadInput) as error:
        list(SqlSource(url, "r", key_fields=["id"]).read(None))
    assert error.value.where == "r.updated_at"


def test_keys_that_do_not_identify_a_row_are_refused_at_a_batch_boundary(tmp_path: Path) -> None:
    url = sqlite_table(
        tmp_path,
        "CREATE TABLE r (id INTEGER, updated_at DATETIME)",
        "INSERT INTO r VALUES (1, '2024-01-01 00:00:00.000000'), (1, '2024-01-01 00:00:00.000000')",
    )
    with pytest.raises(BadInput, match="share the same cursor and key"):
        list(SqlSource(url, "r", key_fields=["id"]).read(None, batch_size=1))


@pytest.mark.parametrize(
    ("arguments", "where"),
    [
        ({"table": "r; DROP TABLE r"}, "table"),
        ({"table": "a.b.c"}, "table"),
        ({"key_fields": ["id", "id) OR 1=1 --"]}, "key_fields[1]"),
        ({"key_fields": []}, "key_fields"),
        ({"cursor_fields": ("updated at",)}, "cursor_fields[0]"),
        ({"columns": ["id", 3]}, "columns[1]"),
        ({"url": "not a url"}, "url"),
    ],
)
def test_hostile_or_malformed_settings_are_refused_by_name(
    tmp_path: Path, arguments: dict[str, Any], where: str
) -> None:
    settings: dict[str, Any] = {"url": f"sqlite:///{tmp_path / 'x.db'}", "table": "r", "key_fields": ["id"]}
    settings.update(arguments)
    with pytest.raises(BadConfiguration) as error:
        SqlSource(settings.pop("url"), settings.pop("table"), **settings)
    assert error.value.where == where
    assert "DROP" not in str(error.value) and "1=1" not in str(error.value)


def test_columns_missing_from_the_table_are_named(tmp_path: Path) -> None:
    url = sqlite_table(tmp_path, "CREATE TABLE r (id INTEGER PRIMARY KEY, updated_at DATETIME)")
    with pytest.raises(BadConfiguration) as error:
        list(SqlSource(url, "r", key_fields=["id"], cursor_fields=("changed_at",)).read(None))
    assert error.value.where == "cursor_fields[0]"
    with pytest.raises(BadConfiguration) as error:
        list(SqlSource(url, "r", key_fields=["id", "return_id"]).read(None))
    assert error.value.where == "key_fields[1]"
    with pytest.raises(BadConfiguration) as error:
        list(SqlSource(url, "absent", key_fields=["id"]).read(None))
    assert error.value.where == "table"


def test_a_cursor_for_other_fields_is_refused(tmp_path: Path) -> None:
    url = sqlite_table(tmp_path, "CREATE TABLE r (id INTEGER PRIMARY KEY, updated_at DATETIME)")
    foreign = {"version": 1, "mode": "incremental", "fields": ["id"], "after": [3]}
    with pytest.raises(BadConfiguration) as error:
        list(SqlSource(url, "r", key_fields=["id"]).read(foreign))
    assert error.value.where == "cursor"


def test_unreachable_database_is_transient_and_hides_the_password() -> None:
    url = "postgresql+psycopg://agency:s3cr3t-pw@127.0.0.1:1/tax?connect_timeout=2"
    source = SqlSource(url, "income_returns", key_fields=["return_id"])
    with pytest.raises(TransientError) as error:
        list(source.read(None))
    source.close()
    assert "s3cr3t-pw" not in str(error.value)
    assert error.value.where == "postgresql+psycopg://agency:***@127.0.0.1:1/tax?connect_timeout=2"
    assert error.value.__cause__ is None and error.value.__suppress_context__
