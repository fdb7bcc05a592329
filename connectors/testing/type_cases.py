"""The type cases of the round-trip check: every Avro primitive and logical type, with edges.

Each `TypeCase` is a small table: the key column `id` and one column of one Avro type
(`optional` has several nullable ones), holding the values a connector most easily gets
wrong — the limits of each integer width, the largest decimal of its precision, dates
and instants before 1970 and at the end of year 9999, sub-second digits, non-ASCII text.
Its Arrow types are GovBus's Avro → Arrow mapping (the one `schemas.avro_to_arrow`
applies, repeated here because connectors do not import the `schemas` part; the kit's
own tests check the two agree):

    case                        Avro                          Arrow
    null                        null                          null
    boolean int long            boolean int long              bool int32 int64
    float double                float double                  float32 float64
    double-nan-inf              double (NaN, ±infinity)       float64
    bytes fixed                 bytes fixed(16)               binary fixed_size_binary(16)
    string                      string (ASCII, no edge spaces) string
    unicode-string              string (any text)             string
    decimal decimal-38          decimal(14,2) decimal(38,10)  decimal128(p, s)
    decimal-wide                decimal(60,20)                decimal256(60, 20)
    date                        date                          date32
    time-millis time-micros     time-millis time-micros       time32(ms) time64(us)
    timestamp-{millis,micros,nanos}        …                  timestamp(unit, UTC)
    local-timestamp-{millis,micros,nanos}  …                  timestamp(unit)
    uuid                        uuid                          string
    enum                        enum Status                   dictionary(int32, string)
    array map record            array<long> map<string> record  list, map, struct
    optional                    ["null", T] for seven T       T, nullable; nulls and "" apart
    optional-bytes              ["null", "bytes"]             binary, nullable; null and b"" apart

A connector declares the cases it cannot carry (`ConnectorHarness.types_not_supported`)
and the Arrow types it reads back differently, losslessly (`ConnectorHarness.read_types`).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa

KEY = "id"
UTC = dt.UTC
_SYMBOLS = ["ACTIVE", "PAUSED", "CLOSED"]
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
_PER_SECOND = {"ms": 1000, "us": 1_000_000, "ns": 1_000_000_000}


@dataclass(frozen=True)
class TypeCase:
    """One case: its `name`, its Avro record schema (`avro`) and its rows as Arrow (`table`)."""

    name: str
    avro: dict[str, Any]
    table: pa.Table

    @property
    def columns(self) -> list[str]:
        """The case's value columns (every column but the key)."""
        return [name for name in self.table.column_names if name != KEY]


def _case(name: str, columns: list[tuple[str, Any, pa.DataType, list[Any]]]) -> TypeCase:
    """A case from (column, Avro type, Arrow type, values) tuples; ids r0, r1, … per row."""
    count = len(columns[0][3])
    fields: list[dict[str, Any]] = [{"name": KEY, "type": "string"}]
    arrays = [pa.array([f"r{i}" for i in range(count)], pa.string())]
    schema = [pa.field(KEY, pa.string(), nullable=False)]
    for column, avro, arrow, values in columns:
        nullable = isinstance(avro, list) or avro == "null"
        fields.append({"name": column, "type": avro})
        arrays.append(values if isinstance(values, pa.Array) else pa.array(values, arrow))
        schema.append(pa.field(column, arrow, nullable=nullable))
    avro_record = {"type": "record", "name": f"Case_{name.replace('-', '_')}", "fields": fields}
    return TypeCase(name, avro_record, pa.Table.from_arrays(arrays, schema=pa.schema(schema)))


def _single(name: str, avro: Any, arrow: pa.DataType, values: list[Any]) -> TypeCase:
    return _case(name, [(name.replace("-", "_"), avro, arrow, values)])


def _instants(unit: str, tz: str | None, values: list[int]) -> pa.Array:
    """Timestamps from integer counts of `unit` since the epoch (exact, nanoseconds too)."""
    return pa.array(values, pa.int64()).cast(pa.timestamp(unit, tz))


def _count(moment: dt.datetime, unit: str) -> int:
    """`moment` (whole seconds) as a count of `unit` since the epoch."""
    seconds = (moment - _EPOCH) // dt.timedelta(seconds=1)
    return seconds * _PER_SECOND[unit]


def _timestamp_values(unit: str) -> list[int]:
    """Pre-1970, the epoch, a leap day with every sub-second digit, the unit's far edge."""
    digits = {"ms": (789, 999), "us": (789_012, 999_999), "ns": (789_012_345, 999_999_999)}[unit]
    leap = _count(dt.datetime(2024, 2, 29, 12, 34, 56, tzinfo=UTC), unit)
    if unit == "ns":  # nanoseconds since 1970 in int64 span 1677-09-22 .. 2262-04-11
        first = _count(dt.datetime(1677, 9, 22, tzinfo=UTC), unit) + 1
        last = _count(dt.datetime(2262, 4, 11, tzinfo=UTC), unit)
    else:
        first = _count(dt.datetime(1, 1, 1, tzinfo=UTC), unit) + 1
        last = _count(dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), unit) + digits[1]
    return [first, -1, 0, leap + digits[0], last, -_PER_SECOND[unit] * 86_400 * 365 * 70 + digits[1]]


def _timestamp_cases() -> list[TypeCase]:
    cases = []
    for suffix, unit in (("millis", "ms"), ("micros", "us"), ("nanos", "ns")):
        for prefix, tz in (("", "UTC"), ("local-", None)):
            name = f"{prefix}timestamp-{suffix}"
            avro = {"type": "long", "logicalType": name}
            arrow = pa.timestamp(unit, tz)
            cases.append(_single(name, avro, arrow, _instants(unit, tz, _timestamp_values(unit))))
    return cases


def _decimals(*texts: str) -> list[Decimal]:
    return [Decimal(text) for text in texts]


def _optional_case() -> TypeCase:
    """Nullable columns of seven types: a full row, an all-null row, a row of "zero" values
    (the empty string, 0, false: none of them may come back as null)."""
    moment = dt.datetime(1969, 7, 20, 20, 17, 40, 123_456, tzinfo=UTC)
    columns: list[tuple[str, Any, pa.DataType, list[Any]]] = [
        ("opt_string", ["null", "string"], pa.string(), ["text", None, "", "x"]),
        ("opt_long", ["null", "long"], pa.int64(), [42, None, 0, -1]),
        ("opt_double", ["null", "double"], pa.float64(), [2.5, None, 0.0, -0.5]),
        ("opt_boolean", ["null", "boolean"], pa.bool_(), [True, None, False, None]),
        (
            "opt_decimal",
            ["null", {"type": "bytes", "logicalType": "decimal", "precision": 14, "scale": 2}],
            pa.decimal128(14, 2),
            [Decimal("1234.50"), None, Decimal("0.00"), Decimal("-0.01")],
        ),
        (
            "opt_date",
            ["null", {"type": "int", "logicalType": "date"}],
            pa.date32(),
            [dt.date(1969, 7, 20), None, dt.date(1970, 1, 1), None],
        ),
        (
            "opt_timestamp",
            ["null", {"type": "long", "logicalType": "timestamp-micros"}],
            pa.timestamp("us", "UTC"),
            [moment, None, _EPOCH, None],
        ),
    ]
    return _case("optional", columns)


def _all_cases() -> tuple[TypeCase, ...]:
    decimal = {"type": "bytes", "logicalType": "decimal"}
    big38 = "9" * 28 + "." + "9" * 10
    wide = "9" * 40 + "." + "9" * 20
    record_type = pa.struct(
        [
            pa.field("name", pa.string(), nullable=False),
            pa.field("amount", pa.decimal128(10, 2), nullable=False),
            pa.field("born", pa.date32(), nullable=False),
        ]
    )
    record_avro = {
        "type": "record",
        "name": "Person",
        "fields": [
            {"name": "name", "type": "string"},
            {"name": "amount", "type": {**decimal, "precision": 10, "scale": 2}},
            {"name": "born", "type": {"type": "int", "logicalType": "date"}},
        ],
    }
    map_type = pa.map_(
        pa.field("key", pa.string(), nullable=False), pa.field("value", pa.string(), nullable=False)
    )
    cases = [
        _single("null", "null", pa.null(), [None, None, None]),
        _single("boolean", "boolean", pa.bool_(), [True, False, True]),
        _single("int", "int", pa.int32(), [-(2**31), -1, 0, 1, 2**31 - 1]),
        _single("long", "long", pa.int64(), [-(2**63), -1, 0, 1, 2**63 - 1]),
        _single(
            "float",
            "float",
            pa.float32(),
            [-3.4028234663852886e38, -1.5, 0.0, 1.401298464324817e-45, 0.1, 3.4028234663852886e38],
        ),
        _single(
            "double",
            "double",
            pa.float64(),
            [-1.7976931348623157e308, -2.5, 0.0, 5e-324, 0.1, 1 / 3, 1.7976931348623157e308],
        ),
        _single("double-nan-inf", "double", pa.float64(), [math.nan, math.inf, -math.inf]),
        _single("bytes", "bytes", pa.binary(), [b"", b"\x00", b"\xff\xfe\x00\x01", bytes(range(256))]),
        _single(
            "string",
            "string",
            pa.string(),
            ["", "A", "plain text", "R000042", 'comma, "quote" \\ backslash; semicolon|pipe'],
        ),
        _single(
            "unicode-string",
            "string",
            pa.string(),
            [
                "ÆØÅ æøå ß é",
                "日本語のテキスト",
                "emoji 🙂👍🏽",
                "  leading and trailing  ",
                "line\nbreak\r\nand\ttab",
            ],
        ),
        _single(
            "fixed",
            {"type": "fixed", "name": "Digest16", "size": 16},
            pa.binary(16),
            [bytes(16), b"\xff" * 16, bytes(range(16))],
        ),
        _single(
            "decimal",
            {**decimal, "precision": 14, "scale": 2},
            pa.decimal128(14, 2),
            _decimals("-999999999999.99", "-0.01", "0.00", "0.01", "1234.50", "999999999999.99"),
        ),
        _single(
            "decimal-38",
            {**decimal, "precision": 38, "scale": 10},
            pa.decimal128(38, 10),
            _decimals(f"-{big38}", "-0.0000000001", "0E-10", "0.0000000001", "12345.6789012345", big38),
        ),
        _single(
            "decimal-wide",
            {**decimal, "precision": 60, "scale": 20},
            pa.decimal256(60, 20),
            _decimals(f"-{wide}", "0.00000000000000000001", "0E-20", wide),
        ),
        _single(
            "date",
            {"type": "int", "logicalType": "date"},
            pa.date32(),
            [
                dt.date(1, 1, 1),
                dt.date(1900, 1, 1),
                dt.date(1969, 12, 31),
                dt.date(1970, 1, 1),
                dt.date(2000, 2, 29),
                dt.date(9999, 12, 31),
            ],
        ),
        _single(
            "time-millis",
            {"type": "int", "logicalType": "time-millis"},
            pa.time32("ms"),
            pa.array([0, 45_296_789, 86_399_999], pa.int32()).cast(pa.time32("ms")),
        ),
        _single(
            "time-micros",
            {"type": "long", "logicalType": "time-micros"},
            pa.time64("us"),
            pa.array([0, 45_296_789_012, 86_399_999_999], pa.int64()).cast(pa.time64("us")),
        ),
        *_timestamp_cases(),
        _single(
            "uuid",
            {"type": "string", "logicalType": "uuid"},
            pa.string(),
            [
                "00000000-0000-0000-0000-000000000000",
                "123e4567-e89b-12d3-a456-426614174000",
                "ffffffff-ffff-ffff-ffff-ffffffffffff",
            ],
        ),
        _single(
            "enum",
            {"type": "enum", "name": "Status", "symbols": _SYMBOLS},
            pa.dictionary(pa.int32(), pa.string()),
            pa.DictionaryArray.from_arrays(pa.array([2, 0, 1, 0], pa.int32()), pa.array(_SYMBOLS)),
        ),
        _single(
            "array",
            {"type": "array", "items": "long"},
            pa.list_(pa.field("item", pa.int64(), nullable=False)),
            [[], [1, 2, 3], [-(2**63), 2**63 - 1]],
        ),
        _single(
            "map",
            {"type": "map", "values": "string"},
            map_type,
            [[], [("a", "1"), ("b", "two")], [("ключ", "значение")]],
        ),
        _single(
            "record",
            record_avro,
            record_type,
            [
                {"name": "Ada", "amount": Decimal("1234.50"), "born": dt.date(1815, 12, 10)},
                {"name": "", "amount": Decimal("-0.01"), "born": dt.date(1970, 1, 1)},
            ],
        ),
        _optional_case(),
        _single("optional-bytes", ["null", "bytes"], pa.binary(), [b"\x01\x02", None, b"", b"\x00"]),
    ]
    return tuple(cases)


TYPE_CASES: tuple[TypeCase, ...] = _all_cases()
"""Every case, in the order of the table in the module doc."""

TYPE_CASE_NAMES: tuple[str, ...] = tuple(case.name for case in TYPE_CASES)
