"""What text sources carry survives the conform step: binary as hex, Avro null, JSON objects as maps.

The conformance kit used to skip these cases on the CSV, JSON Lines and SFTP folders as
"not supported"; they were defects of the schemas part, fixed here and checked value by
value (the kit checks the round trips through the real sinks and sources).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

import schemas
from govbus.errors import BadConfiguration
from schemas.text_parsing import hex_bytes


def record(*fields: dict[str, Any]) -> schemas.AvroSchema:
    return schemas.parse_schema(
        {"type": "record", "name": "R", "fields": [{"name": "id", "type": "string"}, *fields]}
    )


def conformed(
    schema: schemas.AvroSchema, **columns: Any
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rows = len(next(iter(columns.values())))
    table = pa.table({"id": [f"r{i}" for i in range(rows)], **columns})
    result = schemas.conform(table, schema)
    return result.table.to_pylist(), result.issues.to_pylist()


# -- Avro null ----------------------------------------------------------------------------


@pytest.mark.parametrize("avro", ["null", ["null"]])
def test_a_field_of_type_null_maps_to_a_nullable_null_field(avro: Any) -> None:
    field = record({"name": "nothing", "type": avro}).arrow.field("nothing")
    assert field.type == pa.null() and field.nullable


def test_null_items_of_an_array_are_nullable_too() -> None:
    field = record({"name": "holes", "type": {"type": "array", "items": "null"}}).arrow.field("holes")
    assert field.type == pa.list_(pa.field("item", pa.null(), nullable=True))


def test_a_null_field_takes_empty_values_and_refuses_others() -> None:
    schema = record({"name": "nothing", "type": "null"})
    rows, issues = conformed(schema, nothing=pa.array([None, "x", None], pa.string()))
    assert [r["nothing"] for r in rows] == [None, None, None]
    assert issues == [{"row": 1, "reason": "nothing: cannot convert to null"}]
    rows, issues = conformed(schema, nothing=pa.nulls(2))
    assert issues == [] and [r["nothing"] for r in rows] == [None, None]


# -- binary as hex ------------------------------------------------------------------------


def test_hex_text_decodes_in_either_case_and_other_text_is_refused() -> None:
    text = pa.array(["00ff", "", None, "DEADbeef", " 0a0b ", "abc", "zz", "héllo"])
    assert hex_bytes(text).to_pylist() == [
        b"\x00\xff",
        b"",
        None,
        b"\xde\xad\xbe\xef",
        b"\x0a\x0b",
        None,  # odd number of digits
        None,
        None,
    ]
    assert hex_bytes(text.slice(3, 2)).to_pylist() == [b"\xde\xad\xbe\xef", b"\x0a\x0b"]
    assert hex_bytes(pa.array([], pa.string())).to_pylist() == []
    every_byte = bytes(range(256))
    assert hex_bytes(pa.array([every_byte.hex(), every_byte.hex().upper()])).to_pylist() == [every_byte] * 2


def test_binary_fields_read_hex_text_and_say_which_rows_are_not_hex() -> None:
    schema = record(
        {"name": "raw", "type": ["null", "bytes"]},
        {"name": "digest", "type": {"type": "fixed", "name": "D4", "size": 4}},
    )
    rows, issues = conformed(
        schema,
        raw=pa.array(["0102", "", None, "not hex"]),
        digest=pa.array(["00000000", "ffffffff", "0102", "0a0b0c0d"]),
    )
    assert [r["raw"] for r in rows] == [b"\x01\x02", b"", None, None]
    assert [r["digest"] for r in rows] == [bytes(4), b"\xff" * 4, None, b"\x0a\x0b\x0c\x0d"]
    assert issues == [
        {"row": 2, "reason": "digest: cannot convert to fixed(4)"},
        {"row": 3, "reason": "raw: cannot convert to bytes"},
    ]


def test_binary_values_stay_as_they_are() -> None:
    schema = record({"name": "raw", "type": "bytes"})
    rows, issues = conformed(schema, raw=pa.array([b"00ff", b"\xff"], pa.binary()))
    assert issues == [] and [r["raw"] for r in rows] == [b"00ff", b"\xff"]


def test_a_missing_column_takes_its_bytes_default_as_avro_decodes_it() -> None:
    """Avro writes a bytes default as ISO-8859-1 code points: "\\u00e9" is the byte 0xe9."""
    schema = record(
        {"name": "raw", "type": "bytes", "default": "\u00e9\u0000"},
        {"name": "when", "type": {"type": "int", "logicalType": "date"}, "default": 1},
        {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 5, "scale": 2},
         "default": "\u0001\u0000"},
    )  # fmt: skip
    rows, issues = conformed(schema, other=pa.array([1]))
    assert issues == []
    assert rows == [{"id": "r0", "raw": b"\xe9\x00", "when": dt.date(1970, 1, 2), "amount": Decimal("2.56")}]


def test_a_default_that_does_not_convert_is_a_configuration_error() -> None:
    schema = record({"name": "n", "type": "int", "default": 2**40})
    with pytest.raises(BadConfiguration, match="default of field 'n'"):
        conformed(schema, other=pa.array([1]))


# -- JSON objects as maps -----------------------------------------------------------------


def test_json_objects_read_as_records_become_maps() -> None:
    schema = record({"name": "labels", "type": ["null", {"type": "map", "values": "long"}]})
    objects = pa.array([{"a": "1", "b": None}, None, {"a": None, "b": "2"}, {"a": "3", "b": "4"}])
    rows, issues = conformed(schema, labels=objects)
    assert issues == []
    assert [r["labels"] for r in rows] == [[("a", 1)], None, [("b", 2)], [("a", 3), ("b", 4)]]


def test_a_map_value_that_does_not_convert_is_an_issue_of_its_row() -> None:
    schema = record({"name": "labels", "type": {"type": "map", "values": "long"}})
    rows, issues = conformed(schema, labels=pa.array([{"k": "1"}, {"k": "one"}, None]))
    assert issues == [
        {"row": 1, "reason": "labels{}: cannot convert to long"},
        {"row": 2, "reason": "labels: null in a non-nullable field"},
    ]
    assert rows[0]["labels"] == [("k", 1)]


def test_empty_objects_and_record_values_and_a_slice() -> None:
    schema = record(
        {
            "name": "people",
            "type": {
                "type": "map",
                "values": {"type": "record", "name": "P", "fields": [{"name": "age", "type": "int"}]},
            },
        }
    )
    rows, issues = conformed(schema, people=pa.array([{}, {}], pa.struct([])))
    assert issues == [] and [r["people"] for r in rows] == [[], []]
    objects = pa.array([{"x": {"age": "9"}}, {"ada": {"age": "36"}, "x": None}, {"x": {"age": "1"}}])
    table = pa.table({"id": ["a", "b", "c"], "people": objects}).slice(1)
    result = schemas.conform(table, schema)
    assert result.issues.num_rows == 0
    assert [r["people"] for r in result.table.to_pylist()] == [[("ada", {"age": 36})], [("x", {"age": 1})]]
