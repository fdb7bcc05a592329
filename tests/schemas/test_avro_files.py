"""Arrow → Avro container file → Arrow gives back an equal batch, for every type the
mapping knows and their edge values; a file is also readable by fastavro unchanged."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import io
import math
import uuid
from decimal import Decimal
from typing import Any

import fastavro
import pyarrow as pa
import pytest

from govbus.errors import BadInput
from schemas import conform, parse_schema, read_avro, write_avro
from tests.schemas.test_avro_arrow_mapping import ALL_TYPES, _record

UTC = dt.UTC
MORE_TYPES = {
    "type": "record",
    "name": "More",
    "namespace": "test",
    "fields": [
        {"name": "max_fixed", "type": {"type": "fixed", "name": "F8", "size": 8, "logicalType": "decimal",
                                       "precision": 18, "scale": 4}},
        {"name": "widest", "type": {"type": "bytes", "logicalType": "decimal", "precision": 76, "scale": 10}},
        {"name": "ts_ms", "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}]},
        {"name": "lts_ms", "type": ["null", {"type": "long", "logicalType": "local-timestamp-millis"}]},
        {"name": "t_ms", "type": ["null", {"type": "int", "logicalType": "time-millis"}]},
        {"name": "day", "type": ["null", {"type": "int", "logicalType": "date"}]},
        {"name": "maybe_enum", "type": ["null", {"type": "enum", "name": "Level",
                                                 "symbols": ["LOW", "HIGH"]}]},
        {"name": "maybe_uuid", "type": ["null", {"type": "string", "logicalType": "uuid"}]},
        {"name": "maybe_home", "type": ["null", {"type": "record", "name": "Home", "fields": [
            {"name": "levels", "type": {"type": "array", "items": "Level"}},
            {"name": "rooms", "type": {"type": "map", "values": {"type": "array", "items": "int"}}},
        ]}]},
        {"name": "people", "type": {"type": "array", "items": {"type": "record", "name": "Person", "fields": [
            {"name": "name", "type": "string"},
            {"name": "tags", "type": {"type": "map", "values": ["null", "string"]}},
        ]}}},
        {"name": "x", "type": "double"},
        {"name": "y", "type": "float"},
    ],
}  # fmt: skip


def _more(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "max_fixed": Decimal("99999999999999.9999"),  # decimal(18,4) at its largest
        "widest": Decimal("-" + "9" * 66 + "." + "9" * 10),  # decimal(76,10) at its smallest
        "ts_ms": dt.datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
        "lts_ms": dt.datetime(1, 1, 1),
        "t_ms": dt.time(0, 0),
        "day": dt.date(1, 1, 1),
        "maybe_enum": "HIGH",
        "maybe_uuid": "00000000-0000-0000-0000-000000000000",
        "maybe_home": {"levels": ["HIGH", "LOW", "HIGH"], "rooms": {"k": [1, -(2**31)], "e": []}},
        "people": [{"name": "Åsa", "tags": {"a": None, "b": "x"}}, {"name": "", "tags": {}}],
        "x": 2.0**-1074,  # the smallest subnormal double
        "y": 3.4028234663852886e38,  # the largest float32
    }
    record.update(changes)
    return record


NULLS = {
    "ts_ms": None, "lts_ms": None, "t_ms": None, "day": None,
    "maybe_enum": None, "maybe_uuid": None, "maybe_home": None, "people": [],
}  # fmt: skip


def _table(document: dict[str, Any], records: list[dict[str, Any]]) -> pa.Table:
    schema = parse_schema(document)
    plain = _python(records)
    result = conform(pa.Table.from_pylist(plain, schema=_text_enums(schema.arrow)), schema)
    assert result.issues.num_rows == 0
    return result.table


def _text_enums(schema: pa.Schema) -> pa.Schema:
    from schemas.avro_files import _undictionary

    return pa.schema([f.with_type(_undictionary(f.type)) for f in schema])


def _python(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return copy.deepcopy(records)


def _fastavro_read(data: bytes) -> list[dict[str, Any]]:
    return list(fastavro.reader(io.BytesIO(data)))


@pytest.mark.parametrize(
    ("document", "records"),
    [
        (
            ALL_TYPES,
            [
                _record(),
                _record(maybe=Decimal("-0.01"), maybe_ts=dt.datetime(1950, 6, 1, 12, tzinfo=UTC)),
                _record(numbers=[], attrs={}, address={"street": "", "since": None}, flag=False),
            ],
        ),
        (MORE_TYPES, [_more(), _more(**NULLS), _more(x=-0.0, y=-1.5)]),
    ],
    ids=["all-types", "more-types"],
)
def test_arrow_to_avro_file_and_back_is_equal(
    document: dict[str, Any], records: list[dict[str, Any]]
) -> None:
    schema = parse_schema(document)
    table = _table(document, records)
    buffer = io.BytesIO()
    assert write_avro(table, schema, buffer) == len(records)
    back = read_avro(io.BytesIO(buffer.getvalue()), schema)
    assert back.schema.equals(table.schema, check_metadata=True)
    assert back.equals(table)
    # the file is plain Avro: fastavro reads the original Python values from it
    read = _fastavro_read(buffer.getvalue())
    for row in read:
        for key, value in row.items():
            row[key] = str(value) if isinstance(value, uuid.UUID) else value
    assert read == records


def test_non_finite_floats_survive_the_round_trip() -> None:
    document = {"type": "record", "name": "F", "fields": [{"name": "v", "type": ["null", "double"]}]}
    schema = parse_schema(document)
    table = pa.table({"v": pa.array([math.nan, math.inf, -math.inf, None], pa.float64())})
    buffer = io.BytesIO()
    write_avro(conform(table, schema).table, schema, buffer, codec="null")
    values = read_avro(io.BytesIO(buffer.getvalue()), schema).column("v").to_pylist()
    assert math.isnan(values[0]) and values[1:] == [math.inf, -math.inf, None]


def test_an_older_file_is_read_through_resolution_into_the_current_schema() -> None:
    old = parse_schema({"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}]})
    new_doc = {
        "type": "record",
        "name": "R",
        "fields": [{"name": "a", "type": "long"}, {"name": "b", "type": "string", "default": "-"}],
    }
    new = dataclasses.replace(parse_schema(new_doc), version=2)
    buffer = io.BytesIO()
    write_avro(conform(pa.table({"a": [1, 2]}), old).table, old, buffer)
    table = read_avro(io.BytesIO(buffer.getvalue()), new)
    assert table.to_pylist() == [{"a": 1, "b": "-"}, {"a": 2, "b": "-"}]
    assert table.schema.field("a").type == pa.int64()


def test_a_file_that_is_not_avro_is_bad_input() -> None:
    schema = parse_schema(MORE_TYPES)
    with pytest.raises(BadInput, match="cannot read the Avro file"):
        read_avro(io.BytesIO(b"PAR1 not avro at all"), schema)
