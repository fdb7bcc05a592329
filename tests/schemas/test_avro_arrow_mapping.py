"""The Avro → Arrow mapping: each type, and a round trip of edge values through fastavro."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from decimal import Decimal
from typing import Any

import fastavro
import pyarrow as pa
import pytest

from govbus.errors import BadConfiguration
from schemas import avro_to_arrow, conform, parse_schema

UTC = dt.UTC


@pytest.mark.parametrize(
    ("avro_type", "arrow_type"),
    [
        ("boolean", pa.bool_()),
        ("int", pa.int32()),
        ("long", pa.int64()),
        ("float", pa.float32()),
        ("double", pa.float64()),
        ("bytes", pa.binary()),
        ("string", pa.string()),
        ({"type": "bytes", "logicalType": "decimal", "precision": 14, "scale": 2}, pa.decimal128(14, 2)),
        ({"type": "bytes", "logicalType": "decimal", "precision": 38, "scale": 0}, pa.decimal128(38, 0)),
        ({"type": "bytes", "logicalType": "decimal", "precision": 39, "scale": 3}, pa.decimal256(39, 3)),
        (
            {"type": "fixed", "name": "D", "size": 8, "logicalType": "decimal", "precision": 18},
            pa.decimal128(18, 0),
        ),
        ({"type": "int", "logicalType": "date"}, pa.date32()),
        ({"type": "int", "logicalType": "time-millis"}, pa.time32("ms")),
        ({"type": "long", "logicalType": "time-micros"}, pa.time64("us")),
        ({"type": "long", "logicalType": "timestamp-millis"}, pa.timestamp("ms", tz="UTC")),
        ({"type": "long", "logicalType": "timestamp-micros"}, pa.timestamp("us", tz="UTC")),
        ({"type": "long", "logicalType": "local-timestamp-millis"}, pa.timestamp("ms")),
        ({"type": "long", "logicalType": "local-timestamp-micros"}, pa.timestamp("us")),
        ({"type": "string", "logicalType": "uuid"}, pa.string()),
        ({"type": "int", "logicalType": "date-ish"}, pa.int32()),  # unknown: base type
        ({"type": "long", "logicalType": "date"}, pa.int64()),  # wrong base: base type
        ({"type": "enum", "name": "E", "symbols": ["A", "B"]}, pa.dictionary(pa.int32(), pa.string())),
        ({"type": "fixed", "name": "F", "size": 16}, pa.binary(16)),
        ({"type": "array", "items": "long"}, pa.list_(pa.field("item", pa.int64(), nullable=False))),
        (
            {"type": "map", "values": ["null", "int"]},
            pa.map_(pa.field("key", pa.string(), nullable=False), pa.field("value", pa.int32())),
        ),
        (["null", "string"], pa.string()),
        (["string", "null"], pa.string()),
    ],
)
def test_each_avro_type_maps_to_its_arrow_type(avro_type: Any, arrow_type: pa.DataType) -> None:
    assert avro_to_arrow(avro_type) == arrow_type


def test_a_record_maps_to_a_schema_with_nullability_and_nested_struct() -> None:
    schema = avro_to_arrow(
        {
            "type": "record",
            "name": "R",
            "fields": [
                {"name": "a", "type": ["null", "long"]},
                {"name": "b", "type": "string"},
                {
                    "name": "c",
                    "type": {
                        "type": "record",
                        "name": "Inner",
                        "fields": [{"name": "x", "type": ["double", "null"]}],
                    },
                },
                {"name": "d", "type": "Inner"},  # a reference to a named type
            ],
        }
    )
    assert isinstance(schema, pa.Schema)
    assert schema.names == ["a", "b", "c", "d"]
    assert schema.field("a").nullable and not schema.field("b").nullable
    inner = pa.struct([pa.field("x", pa.float64(), nullable=True)])
    assert schema.field("c").type == inner
    assert schema.field("d").type == inner


def test_a_union_of_several_types_is_refused_naming_the_field() -> None:
    with pytest.raises(BadConfiguration, match="not supported") as err:
        avro_to_arrow(
            {"type": "record", "name": "R", "fields": [{"name": "amount", "type": ["int", "string"]}]}
        )
    assert err.value.where == "amount"


def test_a_recursive_record_is_refused() -> None:
    linked = {
        "type": "record",
        "name": "Node",
        "fields": [{"name": "next", "type": ["null", "Node"]}],
    }
    with pytest.raises(BadConfiguration, match="recursive"):
        avro_to_arrow(linked)


def _dec(precision: int, scale: int, name: str | None = None) -> dict[str, Any]:
    base: dict[str, Any] = {"type": "bytes"}
    if name:
        base = {"type": "fixed", "name": name, "size": 32}
    return {**base, "logicalType": "decimal", "precision": precision, "scale": scale}


ALL_TYPES = {
    "type": "record",
    "name": "Everything",
    "namespace": "test",
    "fields": [
        {"name": "flag", "type": "boolean"},
        {"name": "i", "type": "int"},
        {"name": "l", "type": "long"},
        {"name": "f", "type": "float"},
        {"name": "d", "type": "double"},
        {"name": "raw", "type": "bytes"},
        {"name": "text", "type": "string"},
        {"name": "money", "type": _dec(14, 2)},
        {"name": "wide", "type": _dec(40, 4)},
        {"name": "fixed_money", "type": _dec(38, 6, name="FixedMoney")},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "t_ms", "type": {"type": "int", "logicalType": "time-millis"}},
        {"name": "t_us", "type": {"type": "long", "logicalType": "time-micros"}},
        {"name": "ts_ms", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "ts_us", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "lts_ms", "type": {"type": "long", "logicalType": "local-timestamp-millis"}},
        {"name": "lts_us", "type": {"type": "long", "logicalType": "local-timestamp-micros"}},
        {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["OPEN", "SHUT"]}},
        {"name": "hash", "type": {"type": "fixed", "name": "Hash", "size": 4}},
        {"name": "numbers", "type": {"type": "array", "items": ["null", "long"]}},
        {"name": "attrs", "type": {"type": "map", "values": "string"}},
        {
            "name": "address",
            "type": {
                "type": "record",
                "name": "Address",
                "fields": [
                    {"name": "street", "type": "string"},
                    {"name": "since", "type": ["null", {"type": "int", "logicalType": "date"}]},
                ],
            },
        },
        {"name": "maybe", "type": ["null", _dec(14, 2)]},
        {"name": "maybe_ts", "type": ["null", {"type": "long", "logicalType": "timestamp-micros"}]},
    ],
}


def _record(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "flag": True,
        "i": 2**31 - 1,
        "l": -(2**63),
        "f": 1.5,
        "d": -1e308,
        "raw": b"\x00\xff",
        "text": "Zoë ∑",
        "money": Decimal("999999999999.99"),  # the largest decimal(14,2)
        "wide": Decimal("-" + "9" * 36 + ".9999"),  # the smallest decimal(40,4)
        "fixed_money": Decimal("12345678901234567890123456789012.123456"),
        "day": dt.date(1900, 2, 28),  # before 1970
        "t_ms": dt.time(23, 59, 59, 999000),
        "t_us": dt.time(0, 0, 0, 1),
        "ts_ms": dt.datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
        "ts_us": dt.datetime(1901, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
        "lts_ms": dt.datetime(2038, 1, 19, 3, 14, 8, 1000),
        "lts_us": dt.datetime(1, 1, 1, 0, 0, 0, 0),
        "id": "0b0b1c7e-6a0c-4e0a-9b8e-1d2c3b4a5f60",
        "status": "SHUT",
        "hash": b"\x01\x02\x03\x04",
        "numbers": [1, None, -(2**63)],
        "attrs": {"a": "x", "": ""},
        "address": {"street": "Main", "since": dt.date(1955, 11, 5)},
        "maybe": None,
        "maybe_ts": None,
    }
    record.update(changes)
    return record


def _through_avro(schema: dict[str, Any], records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    buffer = io.BytesIO()
    fastavro.writer(buffer, fastavro.parse_schema(schema), records)
    buffer.seek(0)
    out = list(fastavro.reader(buffer))
    for record in out:  # fastavro reads uuid as uuid.UUID; Avro's uuid is a string
        record["id"] = str(record["id"]) if isinstance(record["id"], uuid.UUID) else record["id"]
    return out


def _arrow_to_python(table: pa.Table) -> list[dict[str, Any]]:
    rows = table.to_pylist()
    for row in rows:  # Arrow gives a map as a list of pairs; Avro wants a dict
        row["attrs"] = dict(row["attrs"])
    return rows


def test_edge_values_round_trip_avro_to_arrow_and_back() -> None:
    schema = parse_schema(ALL_TYPES)
    records = [
        _record(),
        _record(maybe=Decimal("-0.01"), maybe_ts=dt.datetime(1950, 6, 1, 12, tzinfo=UTC)),
        _record(numbers=[], attrs={}, address={"street": "", "since": None}, flag=False),
    ]
    read = _through_avro(ALL_TYPES, records)
    table = pa.Table.from_pylist(read, schema=schema.arrow)
    assert _arrow_to_python(table) == read == records

    # conforming an already conformed table changes no value and reports nothing
    again = conform(table, schema)
    assert again.issues.num_rows == 0
    assert again.table.schema.equals(table.schema, check_metadata=True)
    assert again.table.to_pylist() == table.to_pylist()

    # and Arrow values go back into Avro unchanged
    assert _through_avro(ALL_TYPES, _arrow_to_python(again.table)) == records


def test_enum_dictionary_indices_follow_the_symbol_order() -> None:
    schema = parse_schema(ALL_TYPES)
    rows = _through_avro(ALL_TYPES, [_record(status="SHUT"), _record(status="OPEN")])
    plain = pa.Table.from_pylist(rows, schema=schema.arrow).cast(
        pa.schema([f.with_type(pa.string()) if f.name == "status" else f for f in schema.arrow])
    )
    status = conform(plain, schema).table.column("status").combine_chunks()
    assert status.dictionary.to_pylist() == ["OPEN", "SHUT"]
    assert status.indices.to_pylist() == [1, 0]
