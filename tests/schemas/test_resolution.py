"""Data staged under an older schema version, read as the current one: our vectorized
resolution must give what fastavro's own resolving reader gives for the same records."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import struct
from decimal import Decimal
from typing import Any

import fastavro
import pyarrow as pa
import pytest

from govbus.errors import BadConfiguration, BadInput
from schemas import AvroSchema, conform, parse_schema, resolve_staged, resolve_table

UTC = dt.UTC
STATUS_V1 = {"type": "enum", "name": "Status", "symbols": ["OPEN", "SHUT"]}
STATUS_V2 = {"type": "enum", "name": "Status", "symbols": ["OPEN", "SHUT", "GONE"]}
KIND_V1 = {"type": "enum", "name": "Kind", "symbols": ["A", "B", "C"]}
KIND_V2 = {"type": "enum", "name": "Kind", "symbols": ["A", "B", "OTHER"], "default": "OTHER"}


def _version(fields: list[dict[str, Any]], number: int) -> AvroSchema:
    document = {"type": "record", "name": "Row", "namespace": "test", "fields": fields}
    return dataclasses.replace(parse_schema(document, f"v{number}.avsc"), version=number)


WRITER = _version(
    [
        {"name": "id", "type": "string"},
        {"name": "count", "type": "int"},
        {"name": "ratio", "type": "int"},
        {"name": "big", "type": "long"},
        {"name": "f", "type": ["null", "float"]},
        {"name": "label", "type": "string"},
        {"name": "blob", "type": "bytes"},
        {"name": "old_name", "type": "int"},
        {"name": "dropped", "type": "string"},
        {"name": "status", "type": STATUS_V1},
        {"name": "kind", "type": KIND_V1},
        {"name": "seen", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "money", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}},
        {
            "name": "home",
            "type": {"type": "record", "name": "Home", "fields": [{"name": "zip", "type": "int"}]},
        },
        {"name": "scores", "type": {"type": "array", "items": "int"}},
        {"name": "attrs", "type": {"type": "map", "values": ["null", "float"]}},
    ],
    1,
)
ADDED: list[dict[str, Any]] = [
    {"name": "note", "type": ["null", "string"], "default": None},
    {"name": "level", "type": "int", "default": 3},
    {"name": "fee", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2},
     "default": "\u0001\u0000"},  # unscaled 256 → 2.56
    {"name": "tag", "type": {"type": "fixed", "name": "Tag", "size": 2}, "default": "\u00ff\u0001"},
    {"name": "raw", "type": "bytes", "default": "\u00e9"},
    {"name": "since", "type": {"type": "int", "logicalType": "date"}, "default": -1},
    {"name": "at", "type": {"type": "long", "logicalType": "timestamp-micros"}, "default": 1500000},
    {"name": "grade", "type": STATUS_V2 | {"name": "Grade"}, "default": "GONE"},
    {"name": "where", "type": {"type": "record", "name": "Where", "fields": [
        {"name": "city", "type": "string", "default": "Capital"},
        {"name": "on", "type": {"type": "int", "logicalType": "date"}}]}, "default": {"on": 1}},
    {"name": "list", "type": {"type": "array", "items": "long"}, "default": [1, 2]},
    {"name": "map", "type": {"type": "map", "values": "bytes"}, "default": {"k": "\u0000"}},
]  # fmt: skip
EXPECTED_DEFAULTS = {
    "note": None,
    "level": 3,
    "fee": Decimal("2.56"),
    "tag": b"\xff\x01",
    "raw": b"\xe9",
    "since": dt.date(1969, 12, 31),
    "at": dt.datetime(1970, 1, 1, 0, 0, 1, 500000, tzinfo=UTC),
    "grade": "GONE",
    "where": {"city": "Capital", "on": dt.date(1970, 1, 2)},
    "list": [1, 2],
    "map": [("k", b"\x00")],
}
READER = _version(
    [
        {"name": "id", "type": "string"},
        {"name": "count", "type": "long"},
        {"name": "ratio", "type": "double"},
        {"name": "big", "type": "float"},
        {"name": "f", "type": ["null", "double"], "default": None},
        {"name": "label", "type": "bytes"},
        {"name": "blob", "type": "string"},
        {"name": "new_name", "type": "int", "aliases": ["old_name"]},
        {"name": "status", "type": STATUS_V2},
        {"name": "kind", "type": KIND_V2},
        {"name": "seen", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "money", "type": {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2}},
        {
            "name": "home",
            "type": {
                "type": "record",
                "name": "Home",
                "fields": [
                    {"name": "zip", "type": "long"},
                    {"name": "floor", "type": ["null", "int"], "default": None},
                ],
            },
        },
        {"name": "scores", "type": {"type": "array", "items": "double"}},
        {"name": "attrs", "type": {"type": "map", "values": ["null", "double"]}},
        *ADDED,
    ],
    2,
)


def _records() -> list[dict[str, Any]]:
    base = {
        "id": "r1", "count": 2**31 - 1, "ratio": -7, "big": 2**40 + 1, "f": 1.25,
        "label": "Zoë", "blob": "ok ∑".encode(), "old_name": 5, "dropped": "x",
        "status": "SHUT", "kind": "C",
        "seen": dt.datetime(1969, 7, 20, 20, 17, 40, 123000, tzinfo=UTC),
        "money": Decimal("-1234567.89"), "home": {"zip": -1},
        "scores": [1, -2, 3], "attrs": {"a": 0.5, "b": None},
    }  # fmt: skip
    second = base | {
        "id": "r2", "f": None, "kind": "A", "status": "OPEN", "scores": [], "attrs": {},
        "money": Decimal("0.01"), "label": "", "blob": b"",
    }  # fmt: skip
    return [base, second]


def _fastavro_resolved(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    writer, reader = fastavro.parse_schema(WRITER.document), fastavro.parse_schema(READER.document)
    out = []
    for record in records:
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, writer, record)
        buffer.seek(0)
        out.append(fastavro.schemaless_reader(buffer, writer, reader))
    return out


def _staged(records: list[dict[str, Any]]) -> pa.Table:
    """The records as staged under v1: conformed Arrow, as the stage step writes them."""
    result = conform(pa.Table.from_pylist(records, schema=WRITER.arrow), WRITER)
    assert result.issues.num_rows == 0
    return result.table


def test_resolution_equals_fastavro_for_every_field_the_writer_wrote() -> None:
    records = _records()
    expected = _fastavro_resolved(records)
    table = resolve_table(_staged(records), WRITER, READER)
    assert table.schema.equals(READER.arrow, check_metadata=True)
    ours = table.to_pylist()
    for row in ours:
        row["attrs"] = dict(row["attrs"])
    added = {spec["name"] for spec in ADDED}
    for mine, theirs in zip(ours, expected, strict=True):
        shared = {k: v for k, v in theirs.items() if k not in added}
        # fastavro keeps a long read as float at Python's double precision; an Avro float
        # holds 32 bits, so the value a float column can hold is fastavro's rounded to float32
        shared["big"] = struct.unpack("<f", struct.pack("<f", shared["big"]))[0]
        # fastavro fills the nested default, so home.floor is part of the comparison
        assert {k: mine[k] for k in shared} == shared
    # the values really changed type: promotions, renames, enum defaults
    assert ours[0]["count"] == 2**31 - 1 and table.schema.field("count").type == pa.int64()
    assert ours[0]["label"] == "Zoë".encode() and ours[0]["blob"] == "ok ∑"
    assert ours[0]["new_name"] == 5 and "dropped" not in table.column_names
    assert ours[0]["kind"] == "OTHER" and ours[1]["kind"] == "A"  # unknown symbol → reader default
    assert ours[0]["seen"] == dt.datetime(1969, 7, 20, 20, 17, 40, 123000, tzinfo=UTC)
    assert table.column("status").combine_chunks().dictionary.to_pylist() == ["OPEN", "SHUT", "GONE"]


def test_defaults_follow_the_avro_specification() -> None:
    """fastavro hands JSON defaults back undecoded (the decimal as the text "\\x01\\x00",
    the date as -1): the Avro specification says bytes/fixed defaults are ISO-8859-1 code
    points and logical types apply, so the expected values are written out here."""
    table = resolve_table(_staged(_records()), WRITER, READER)
    for name, value in EXPECTED_DEFAULTS.items():
        assert table.column(name).to_pylist() == [value, value], name
    assert _fastavro_resolved(_records())[0]["fee"] == "\x01\x00"  # why fastavro is not the oracle here


def test_a_sliced_multi_chunk_batch_resolves_like_the_whole() -> None:
    staged = _staged(_records() * 3)
    chunked = pa.concat_tables([staged.slice(0, 1), staged.slice(1, 3), staged.slice(4)])
    whole = resolve_table(staged, WRITER, READER)
    assert resolve_table(chunked, WRITER, READER).to_pylist() == whole.to_pylist()
    assert resolve_table(staged.slice(3, 2), WRITER, READER).to_pylist() == whole.slice(3, 2).to_pylist()


def test_same_schema_is_returned_unchanged_and_an_empty_batch_resolves() -> None:
    staged = _staged(_records())
    assert resolve_table(staged, WRITER, WRITER) is staged
    empty = resolve_table(WRITER.arrow.empty_table(), WRITER, READER)
    assert empty.num_rows == 0 and empty.schema.equals(READER.arrow)


def test_an_incompatible_pair_is_refused_before_any_row_is_read() -> None:
    narrowed = _version([{"name": "id", "type": "int"}], 3)
    with pytest.raises(BadConfiguration, match="v3 cannot read data written with v1") as err:
        resolve_table(_staged(_records()), WRITER, narrowed)
    assert "id" in err.value.message


def test_decimal_scale_change_is_not_resolved_by_value() -> None:
    rescaled = _version(
        [{"name": "money", "type": {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 3}}],
        3,
    )
    with pytest.raises(BadConfiguration, match="scale"):
        resolve_table(_staged(_records()), WRITER, rescaled)


def test_bytes_that_are_not_utf8_cannot_be_read_as_string() -> None:
    staged = _staged([_records()[0] | {"blob": b"\xff\xfe"}])
    with pytest.raises(BadInput, match="blob"):
        resolve_table(staged, WRITER, READER)


def test_a_staged_batch_is_resolved_by_its_fingerprint() -> None:
    staged = _staged(_records())
    versions = [WRITER, READER]
    assert resolve_staged(staged, READER.fingerprint_sha256, versions, READER) is staged
    resolved = resolve_staged(staged, WRITER.fingerprint_sha256, versions, READER)
    assert resolved.equals(resolve_table(staged, WRITER, READER))
    with pytest.raises(BadConfiguration, match="no longer has"):
        resolve_staged(staged, "0" * 64, [READER], READER)
