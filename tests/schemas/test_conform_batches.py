"""conform(): exact conversion of messy batches, and the issue rows it reports."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from govbus.errors import BadInput
from schemas import ISSUE_SCHEMA, AvroSchema, conform, load_schema, parse_schema

REPO = Path(__file__).resolve().parents[2]
TAX_V1 = REPO / "catalog" / "datasets" / "tax.income" / "schema" / "v1.avsc"
UTC = dt.UTC


def one_field(avro_type: Any, name: str = "v", **extra: Any) -> AvroSchema:
    field = {"name": name, "type": avro_type, **extra}
    return parse_schema({"type": "record", "name": "R", "fields": [field]})


def run(avro_type: Any, values: pa.Array | list[Any]) -> tuple[list[Any], dict[int, list[str]]]:
    """Conform one column; give the values and {row: [reasons]}."""
    result = conform(pa.table({"v": values}), one_field(avro_type))
    assert result.issues.schema.equals(ISSUE_SCHEMA)
    issues: dict[int, list[str]] = {}
    for issue in result.issues.to_pylist():
        issues.setdefault(issue["row"], []).append(issue["reason"])
    return result.table.column("v").to_pylist(), issues


DEC_14_2 = {"type": "bytes", "logicalType": "decimal", "precision": 14, "scale": 2}
TS_US = {"type": "long", "logicalType": "timestamp-micros"}


def test_messy_tax_batch_gives_exact_decimals_and_the_right_issue_rows() -> None:
    schema = load_schema(TAX_V1)
    batch = pa.table(
        {
            "updated_at": ["2024-01-15T10:00:00+02:00", "2024-01-15 10:00:00", "bad", "1960-01-01"],
            "unused_column": [1, 2, 3, 4],
            "return_id": ["R000000001", "R000000002", "R000000003", "R000000004"],
            "national_id": ["12345678901", None, "23456789012", "34567890123"],
            "tax_year": pa.array([2024, 2**40, 2023, 2022], pa.int64()),
            "filing_status": ["SINGLE", "JOINT", "SEPARATE", "SINGLE"],
            "municipality_code": ["0101", "0202", "0303", "0404"],
            "gross_income": ["12345.67", "12x.5", "99999999999999.99", " 1e3 "],
            "taxable_income": [12345.67, 0.5, 12.345, 1e6],
            "tax_due": pa.array([1, 2, 10**13, 0], pa.int64()),
        }
    )
    result = conform(batch, schema)
    table = result.table
    assert table.schema.equals(schema.arrow)
    assert table.column_names == list(schema.field_names)  # schema order, extra column dropped
    assert table.column("gross_income").to_pylist() == [Decimal("12345.67"), None, None, Decimal("1000.00")]
    assert table.column("taxable_income").to_pylist() == [
        Decimal("12345.67"),
        Decimal("0.50"),
        None,
        Decimal("1000000.00"),
    ]
    assert table.column("tax_due").to_pylist() == [Decimal("1.00"), Decimal("2.00"), None, Decimal(0)]
    assert table.column("tax_year").to_pylist() == [2024, None, 2023, 2022]
    assert table.column("postal_code").null_count == 4  # missing nullable → nulls
    assert table.column("updated_at").to_pylist() == [
        dt.datetime(2024, 1, 15, 8, tzinfo=UTC),
        dt.datetime(2024, 1, 15, 10, tzinfo=UTC),
        None,
        dt.datetime(1960, 1, 1, tzinfo=UTC),
    ]
    assert result.issues.to_pylist() == [
        {"row": 1, "reason": "national_id: null in a non-nullable field"},
        {"row": 1, "reason": "tax_year: cannot convert to int"},
        {"row": 1, "reason": "gross_income: cannot convert to decimal(14,2)"},
        {"row": 2, "reason": "gross_income: cannot convert to decimal(14,2)"},
        {"row": 2, "reason": "taxable_income: cannot convert to decimal(14,2)"},
        {"row": 2, "reason": "tax_due: cannot convert to decimal(14,2)"},
        {"row": 2, "reason": "updated_at: cannot convert to timestamp-micros"},
    ]
    for reason in result.issues.column("reason").to_pylist():  # never the value
        assert not any(bad in reason for bad in ("12x", "99999", "1099511627776", "bad"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12345.67", Decimal("12345.67")),
        ("+3", Decimal("3.00")),
        ("-0.5", Decimal("-0.50")),
        (".5", Decimal("0.50")),
        ("12.500", Decimal("12.50")),  # trailing zeros are not a loss
        ("1.5e3", Decimal("1500.00")),
        ("999999999999.99", Decimal("999999999999.99")),  # the largest decimal(14,2)
        ("-999999999999.99", Decimal("-999999999999.99")),
        ("0000012.1", Decimal("12.10")),
        ("1000000000000.00", None),  # one digit too many
        ("12.345", None),  # would need rounding
        ("12x.5", None),
        ("", None),
        (".", None),
        ("nan", None),
        ("1,5", None),
    ],
)
def test_text_to_decimal_is_exact_or_refused(text: str, expected: Decimal | None) -> None:
    # alone (the whole-column cast) and next to a bad value (the masked path) alike
    for values in ([text], [text, "not a number"]):
        out, issues = run(DEC_14_2, values)
        assert out[0] == expected
        assert (0 in issues) == (expected is None)
        if expected is None:
            assert issues[0] == ["v: cannot convert to decimal(14,2)"]


def test_numbers_to_decimal_are_exact_or_refused() -> None:
    out, issues = run(DEC_14_2, [12345.67, 0.1 + 0.2, 12.345, float("nan"), float("inf"), -0.01])
    # a float converts through its shortest round-trip text: no silent rounding
    assert out == [Decimal("12345.67"), None, None, None, None, Decimal("-0.01")]
    assert sorted(issues) == [1, 2, 3, 4]

    out, issues = run(DEC_14_2, pa.array([2**30, 2**40, 999999999999], pa.int64()))
    assert out == [Decimal(2**30), None, Decimal(999999999999)]  # 2**40 has 13 digits
    assert list(issues) == [1]

    wide = pa.array([Decimal("1.230"), Decimal("1.235"), Decimal("-123456789012.340")], pa.decimal128(20, 3))
    out, issues = run(DEC_14_2, wide)
    assert out == [Decimal("1.23"), None, Decimal("-123456789012.34")]
    assert list(issues) == [1]


def test_integers_refuse_overflow_and_fractions() -> None:
    out, issues = run("int", pa.array([1, 2**31 - 1, 2**31, -(2**31), -(2**31) - 1], pa.int64()))
    assert out == [1, 2**31 - 1, None, -(2**31), None]
    assert sorted(issues) == [2, 4]

    out, issues = run("int", [1.0, 1.5, -2.0, 3e10, float("nan")])
    assert out == [1, None, -2, None, None]
    assert sorted(issues) == [1, 3, 4]

    out, issues = run("long", ["42", " +7 ", "-9223372036854775808", "9223372036854775808", "4.2", "x"])
    assert out == [42, 7, -(2**63), None, None, None]
    assert sorted(issues) == [3, 4, 5]

    out, issues = run("long", pa.array([2**64 - 1, 5], pa.uint64()))
    assert out == [None, 5]
    assert list(issues) == [0]


def test_floats_booleans_and_strings() -> None:
    out, issues = run("float", [1e300, 0.5, float("inf")])
    assert out == [None, 0.5, float("inf")]  # overflow to inf is refused, a real inf is kept
    assert list(issues) == [0]

    out, issues = run("double", ["1.5", "1e3", "-inf", "one"])
    assert out[:3] == [1.5, 1000.0, float("-inf")] and out[3] is None
    assert list(issues) == [3]

    out, issues = run("boolean", ["true", "False", "1", "0", "yes", None])
    assert out == [True, False, True, False, None, None]
    assert issues == {
        4: ["v: cannot convert to boolean"],
        5: ["v: null in a non-nullable field"],
    }

    out, issues = run("string", pa.array([b"ok", b"\xff\xfe"], pa.binary()))
    assert out == ["ok", None] and list(issues) == [1]

    out, issues = run(["null", "string"], pa.array([1, None, 3]))
    assert out == ["1", None, "3"] and issues == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-15T10:00:00+02:00", dt.datetime(2024, 1, 15, 8, tzinfo=UTC)),
        ("2024-01-15T10:00:00Z", dt.datetime(2024, 1, 15, 10, tzinfo=UTC)),
        ("2024-01-15 10:00:00", dt.datetime(2024, 1, 15, 10, tzinfo=UTC)),  # naive = UTC
        ("2024-01-15", dt.datetime(2024, 1, 15, tzinfo=UTC)),
        ("2024-01-15T10:00:00.123456-05:30", dt.datetime(2024, 1, 15, 15, 30, 0, 123456, tzinfo=UTC)),
        ("2024-01-15T10:00+0100", dt.datetime(2024, 1, 15, 9, tzinfo=UTC)),
        ("1899-12-31T23:59:59.5", dt.datetime(1899, 12, 31, 23, 59, 59, 500000, tzinfo=UTC)),
        ("2024-02-29T00:00:00.000000000", dt.datetime(2024, 2, 29, tzinfo=UTC)),
        ("2024-02-30T00:00:00", None),  # no such day
        ("2023-02-29", None),
        ("2024-01-15T24:00:00", None),
        ("2024-01-15T10:00:00.1234567", None),  # finer than microseconds
        ("2024-01-15T10:00:00+25:00", None),
        ("15/01/2024", None),
        ("", None),
    ],
)
def test_iso_text_to_timestamp_micros(text: str, expected: dt.datetime | None) -> None:
    for values in ([text], [text, "2024-01-15T10:00:00"], [text, "garbage"]):
        out, issues = run(TS_US, values)
        assert out[0] == expected, values
        assert (0 in issues) == (expected is None)


def test_local_timestamps_refuse_offsets_and_millis_refuse_extra_digits() -> None:
    local = {"type": "long", "logicalType": "local-timestamp-millis"}
    texts = ["2024-01-15T10:00:00.123", "2024-01-15T10:00:00+02:00", "2024-01-15T10:00:00.1234"]
    out, issues = run(local, texts)
    assert out == [dt.datetime(2024, 1, 15, 10, 0, 0, 123000), None, None]
    assert sorted(issues) == [1, 2]


def test_timestamps_of_other_units_and_zones_become_utc_micros() -> None:
    paris = pa.array([0, 1_500], pa.timestamp("ms", tz="Europe/Paris"))
    out, issues = run(TS_US, paris)
    assert out == [dt.datetime(1970, 1, 1, tzinfo=UTC), dt.datetime(1970, 1, 1, 0, 0, 1, 500000, tzinfo=UTC)]
    assert issues == {}

    nanos = pa.array([1_000, 1_001, -2_000], pa.timestamp("ns"))
    out, issues = run(TS_US, nanos)
    assert out == [
        dt.datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
        None,  # 1 ns would be lost
        dt.datetime(1969, 12, 31, 23, 59, 59, 999998, tzinfo=UTC),
    ]
    assert list(issues) == [1]

    days = pa.array([dt.date(1901, 1, 1)], pa.date32())
    assert run(TS_US, days)[0] == [dt.datetime(1901, 1, 1, tzinfo=UTC)]


def test_dates_and_times() -> None:
    date = {"type": "int", "logicalType": "date"}
    out, issues = run(date, ["1900-02-28", "2024-02-29", "2023-02-29", "1969-12-31"])
    assert out == [dt.date(1900, 2, 28), dt.date(2024, 2, 29), None, dt.date(1969, 12, 31)]
    assert list(issues) == [2]

    stamps = pa.array([dt.datetime(1950, 5, 1), dt.datetime(1950, 5, 1, 0, 0, 1)], pa.timestamp("us"))
    out, issues = run(date, stamps)
    assert out == [dt.date(1950, 5, 1), None] and list(issues) == [1]

    millis = {"type": "int", "logicalType": "time-millis"}
    out, issues = run(millis, ["23:59:59.999", "00:00", "24:00:00", "12:00:00.0001"])
    assert out == [dt.time(23, 59, 59, 999000), dt.time(0, 0), None, None]
    assert sorted(issues) == [2, 3]


def test_enums_uuids_and_fixed() -> None:
    enum = {"type": "enum", "name": "Status", "symbols": ["SINGLE", "JOINT"]}
    out, issues = run(enum, ["JOINT", "single", None, "SINGLE"])
    assert out == ["JOINT", None, None, "SINGLE"]
    assert issues == {1: ["v: cannot convert to enum Status"], 2: ["v: null in a non-nullable field"]}

    uuid_type = {"type": "string", "logicalType": "uuid"}
    out, issues = run(uuid_type, ["0b0b1c7e-6a0c-4e0a-9b8e-1d2c3b4a5f60", "not-a-uuid"])
    assert out[1] is None and issues == {1: ["v: cannot convert to uuid"]}

    fixed = {"type": "fixed", "name": "Hash", "size": 2}
    out, issues = run(fixed, pa.array([b"ab", b"abc"], pa.binary()))
    assert out == [b"ab", None] and issues == {1: ["v: cannot convert to fixed(2)"]}


def test_nested_values_are_conformed_and_reported_on_their_row() -> None:
    schema = parse_schema(
        {
            "type": "record",
            "name": "Person",
            "fields": [
                {"name": "amounts", "type": {"type": "array", "items": DEC_14_2}},
                {
                    "name": "home",
                    "type": [
                        "null",
                        {
                            "type": "record",
                            "name": "Home",
                            "fields": [
                                {"name": "since", "type": {"type": "int", "logicalType": "date"}},
                                {"name": "city", "type": "string"},
                            ],
                        },
                    ],
                },
                {"name": "limits", "type": {"type": "map", "values": "int"}},
            ],
        }
    )
    batch = pa.table(
        {
            "amounts": [["1.10", "2"], ["x"], None, []],
            "home": [
                {"since": "2001-01-01", "city": "Oslo", "floor": 3},
                {"since": "2001-13-01", "city": "Rome", "floor": 1},
                None,
                {"since": "2001-01-02", "city": None, "floor": 2},
            ],
            "limits": pa.array([[("a", 1)], [("b", 2**40)], [], None], pa.map_(pa.string(), pa.int64())),
        }
    )
    result = conform(batch, schema)
    assert result.table.column("amounts").to_pylist() == [
        [Decimal("1.10"), Decimal("2.00")],
        [None],
        None,
        [],
    ]
    assert result.table.column("home").to_pylist()[0] == {"since": dt.date(2001, 1, 1), "city": "Oslo"}
    assert result.table.column("limits").to_pylist()[0] == [("a", 1)]
    assert result.issues.to_pylist() == [
        {"row": 1, "reason": "amounts[]: cannot convert to decimal(14,2)"},
        {"row": 1, "reason": "home.since: cannot convert to date"},
        {"row": 1, "reason": "limits{}: cannot convert to int"},
        {"row": 2, "reason": "amounts: null in a non-nullable field"},
        {"row": 3, "reason": "home.city: null in a non-nullable field"},
        {"row": 3, "reason": "limits: null in a non-nullable field"},
    ]


def test_row_numbers_count_across_chunks() -> None:
    chunked = pa.chunked_array([["1", "2"], ["x", "4", "y"]])
    result = conform(pa.table({"v": chunked}), one_field("int"))
    assert result.table.column("v").to_pylist() == [1, 2, None, 4, None]
    assert result.issues.column("row").to_pylist() == [2, 4]


def test_dictionary_encoded_and_large_text_sources() -> None:
    encoded = pa.array(["1.5", "x", "1.5"]).dictionary_encode()
    out, issues = run(DEC_14_2, encoded)
    assert out == [Decimal("1.50"), None, Decimal("1.50")] and list(issues) == [1]
    out, _ = run("string", pa.array(["a"], pa.large_string()))
    assert out == ["a"]


def test_missing_columns_take_defaults_nulls_or_raise() -> None:
    schema = parse_schema(
        {
            "type": "record",
            "name": "R",
            "fields": [
                {"name": "id", "type": "string"},
                {"name": "count", "type": "int", "default": 7},
                {"name": "rate", "type": DEC_14_2, "default": "\u0004\u00d2"},  # 1234 → 12.34
                {"name": "note", "type": ["null", "string"], "default": None},
            ],
        },
        source="catalog/datasets/x/schema/v1.avsc",
    )
    result = conform(pa.table({"id": ["a", "b"]}), schema)
    assert result.table.to_pylist() == [
        {"id": "a", "count": 7, "rate": Decimal("12.34"), "note": None},
        {"id": "b", "count": 7, "rate": Decimal("12.34"), "note": None},
    ]
    with pytest.raises(BadInput, match="no column 'id'") as err:
        conform(pa.table({"count": [1]}), schema)
    assert err.value.where == "catalog/datasets/x/schema/v1.avsc"


def test_an_impossible_column_type_or_duplicate_column_raises() -> None:
    with pytest.raises(BadInput, match="cannot be converted") as err:
        conform(pa.table({"v": pa.array([[1]])}), one_field("int"))
    assert err.value.where == "v"
    duplicate = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["v", "v"])
    with pytest.raises(BadInput, match="2 columns named 'v'"):
        conform(duplicate, one_field("int"))


def test_an_empty_batch_conforms_to_an_empty_table() -> None:
    schema = load_schema(TAX_V1)
    empty = pa.table({name: pa.array([], pa.string()) for name in schema.field_names})
    result = conform(empty, schema)
    assert result.table.num_rows == 0 and result.table.schema.equals(schema.arrow)
    assert result.issues.num_rows == 0


def test_reasons_are_json_free_of_values() -> None:
    secret = "SECRET-12345"
    out, issues = run("int", [secret])
    assert out == [None]
    assert secret not in json.dumps(issues)
