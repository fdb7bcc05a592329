"""Quarantined rows become JSON column by column, with the same values a walk of every row gave."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pyarrow as pa

from exchange.quarantine.rows import _jsonable, jsonable_rows


def _row_by_row(table: pa.Table) -> list[dict[str, object]]:
    """The definition: every value of every row through the conversion."""
    return [_jsonable(row) for row in table.to_pylist()]


def test_every_type_gives_what_the_row_by_row_walk_gave() -> None:
    utc = dt.UTC
    table = pa.table(
        {
            "text": pa.array(["a", None, 'é"\\\n']),
            "big_text": pa.array(["x", "y", None], pa.large_string()),
            "number": pa.array([1, None, -3], pa.int32()),
            "ratio": pa.array([0.5, float("nan"), None]),
            "flag": pa.array([True, None, False]),
            "nothing": pa.nulls(3),
            "amount": pa.array([Decimal("1.20"), None, Decimal("-3.05")], pa.decimal128(9, 2)),
            "at": pa.array(
                [
                    dt.datetime(2026, 1, 5, 6, tzinfo=utc),
                    None,
                    dt.datetime(2026, 1, 5, 6, 0, 0, 17, tzinfo=utc),
                ],
                pa.timestamp("us", tz="UTC"),
            ),
            "local": pa.array([dt.datetime(2026, 1, 5, 6), None, None], pa.timestamp("ms")),
            "day": pa.array([dt.date(2026, 2, 1), None, dt.date(1999, 12, 31)]),
            "clock": pa.array([dt.time(6, 30), None, dt.time(23, 59, 59, 5)]),
            "raw": pa.array([b"\x00\xff", None, b""]),
            "code": pa.array(["a", "b", "a"]).dictionary_encode(),
            "nested": pa.array(
                [{"x": Decimal("1.5"), "y": [b"z"]}, None, {"x": None, "y": []}],
                pa.struct([("x", pa.decimal128(4, 1)), ("y", pa.list_(pa.binary()))]),
            ),
            "tags": pa.array([[1, 2], None, []], pa.list_(pa.int64())),
            "pairs": pa.array([[("k", dt.date(2026, 1, 1))], None, []], pa.map_(pa.string(), pa.date32())),
        }
    )
    expected = _row_by_row(table)
    found = jsonable_rows(table)
    assert json.dumps(found) == json.dumps(expected)  # NaN is not equal to itself; its JSON is
    assert [list(row) for row in found] == [table.column_names] * 3  # the schema's order
    assert found[2]["at"] == "2026-01-05T06:00:00.000017+00:00"
    assert found[0]["raw"] == {"base64": "AP8="}


def test_no_columns_and_no_rows() -> None:
    assert jsonable_rows(pa.table({"a": pa.array([], pa.int64())})) == []
    assert jsonable_rows(pa.table({"a": [1, 2]}).select([])) == _row_by_row(
        pa.table({"a": [1, 2]}).select([])
    )
