"""SqlSink.purge / purge_all: erasure by subject column, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa

from connectors import SqlSink
from govbus.errors import BadInput

SCHEMA = pa.schema([("return_id", pa.int64()), ("national_id", pa.string()), ("household", pa.int64())])
ROWS = [
    {"return_id": 1, "national_id": "19750412345", "household": 10},
    {"return_id": 2, "national_id": "19750412345", "household": 10},
    {"return_id": 3, "national_id": "19800101999", "household": 11},
    {"return_id": 4, "national_id": "19911111111", "household": 12},
]


def remaining(url: str, table: str) -> list[int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return sorted(conn.execute(sa.text(f"SELECT return_id FROM {table}")).scalars())
    finally:
        engine.dispose()


@pytest.mark.parametrize("mode", ["upsert", "append"])
def test_purge_deletes_the_subjects_rows_once_and_keeps_the_rest(
    db_url: str, table_name: str, mode: str
) -> None:
    sink = SqlSink(db_url, table_name, key_fields=["return_id"], schema=SCHEMA, mode=mode)
    try:
        sink.write("stage1-00000-sub", pa.Table.from_pylist(ROWS, schema=SCHEMA))
        assert sink.purge("national_id", ["19750412345", "19000000000"]) == 2
        assert remaining(db_url, table_name) == [3, 4]
        assert sink.purge("national_id", ["19750412345"]) == 0  # a repeat deletes nothing more
        assert sink.purge("household", ["12"]) == 1  # text cast to the column's integer type
        assert remaining(db_url, table_name) == [3]
        assert sink.purge("national_id", []) == 0
        if mode == "append":  # the batch marker stays: a retried batch is not appended again
            sink.write("stage1-00000-sub", pa.Table.from_pylist(ROWS, schema=SCHEMA))
            assert remaining(db_url, table_name) == [3]
        assert sink.purge_all() == 1
        assert remaining(db_url, table_name) == []
    finally:
        sink.close()
        if mode == "append":
            engine = sa.create_engine(db_url)
            with engine.begin() as conn:
                conn.execute(
                    sa.text("DELETE FROM govbus_sink_batches WHERE table_name = :t"), {"t": table_name}
                )
            engine.dispose()


def test_purge_refuses_unknown_columns_and_values_that_do_not_fit(db_url: str, table_name: str) -> None:
    sink = SqlSink(db_url, table_name, key_fields=["return_id"], schema=SCHEMA)
    try:
        assert sink.purge("national_id", ["19750412345"]) == 0  # no table yet: nothing to delete
        assert sink.purge_all() == 0
        with pytest.raises(BadInput, match="not a field"):
            sink.purge("surname", ["x"])
        with pytest.raises(BadInput, match="does not fit") as refused:
            sink.purge("household", ["19750412345x"])
        assert "19750412345x" not in str(refused.value)
    finally:
        sink.close()


def test_purge_in_a_schema_qualified_sqlite_table_name_is_checked(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'agency.db'}"
    sink = SqlSink(url, "main.returns", key_fields=["return_id"], schema=SCHEMA)
    try:
        sink.write("b1", pa.Table.from_pylist(ROWS, schema=SCHEMA))
        assert sink.purge("national_id", ["19800101999"]) == 1
        assert remaining(url, "returns") == [1, 2, 4]
    finally:
        sink.close()
