"""Reading data written under an older schema version as the current one (Avro schema
resolution, vectorized on Arrow columns).

`resolve_table(table, writer, reader)` takes a batch shaped by `writer` (as conformed
and staged under that version) and returns it shaped by `reader`, as an Avro reader
would resolve each record:

* a reader field found in the writer (by name, or by one of the reader field's aliases)
  keeps its values, promoted where Avro allows: int → long/float/double, long →
  float/double, float → double, string ↔ bytes; records, arrays and maps are resolved
  element-wise; an enum symbol unknown to the reader becomes the reader enum's default;
* a reader field the writer lacks takes its default (the Avro JSON default decoded as
  the specification says: bytes and fixed as ISO-8859-1 code points, decimals as their
  unscaled two's-complement bytes, dates and timestamps as counts);
* a writer field the reader lacks is dropped.

Beyond plain promotions, a logical type kept on both sides converts by value
(timestamp-millis → timestamp-micros keeps the instant, as fastavro does; a decimal may
widen its precision at the same scale). A change Avro resolution does not define for
values (a decimal's scale, a logical type added to or dropped from bytes) raises
`BadConfiguration`. So does a pair the official checker finds incompatible: resolution
never fails half-way on some rows; only a string read from bytes that are not UTF-8
raises `BadInput` (the data, not the schema, is wrong).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.types as pt

from govbus.errors import BadConfiguration, BadInput
from schemas.avro import AvroSchema
from schemas.avro_defaults import deref, json_default
from schemas.cast_core import CAST_ERRORS
from schemas.compatibility import reader_problems
from schemas.conform import conform_column

_PROMOTIONS = {
    "int": ("long", "float", "double"),
    "long": ("float", "double"),
    "float": ("double",),
    "string": ("bytes",),
    "bytes": ("string",),
}


def resolve_table(table: pa.Table, writer: AvroSchema, reader: AvroSchema) -> pa.Table:
    """`table` (shaped by `writer`) read as `reader`; see the module doc."""
    problems = reader_problems(reader, writer)
    if problems:
        listing = "; ".join(f"{p.field or '(record)'}: {p.message}" for p in problems)
        raise BadConfiguration(
            f"{reader.label} cannot read data written with {writer.label}: {listing}",
            where=reader.source,
            hint="add defaults or aliases so the new version can read the old data",
        )
    if writer.canonical == reader.canonical and table.schema.equals(reader.arrow):
        return table
    resolver = _Resolver(writer, reader)
    columns = []
    for index, spec in enumerate(reader.parsed["fields"]):
        field = reader.arrow.field(index)
        w_spec = _writer_field(writer.parsed["fields"], spec)
        if w_spec is None:
            columns.append(resolver.default(spec, field, table.num_rows))
            continue
        if w_spec["name"] not in table.column_names:
            raise BadInput(
                f"the batch has no column {w_spec['name']!r} although {writer.label} writes it",
                where=writer.source,
                hint="resolve a batch staged under this schema version",
            )
        values = table.column(w_spec["name"]).combine_chunks()
        columns.append(resolver.resolve(values, w_spec["type"], spec["type"], field, spec["name"]))
    return pa.Table.from_arrays(columns, schema=reader.arrow)


def _writer_field(w_fields: list[dict[str, Any]], r_spec: dict[str, Any]) -> dict[str, Any] | None:
    by_name = {f["name"]: f for f in w_fields}
    for name in (r_spec["name"], *r_spec.get("aliases", ())):
        if name in by_name:
            return by_name[name]
    return None


class _Resolver:
    """Walks a reader type and the matching writer type together, column by column."""

    def __init__(self, writer: AvroSchema, reader: AvroSchema) -> None:
        self.w_named = writer.parsed.get("__named_schemas", {})
        self.r_named = reader.parsed.get("__named_schemas", {})
        self.where = reader.source

    def resolve(self, arr: pa.Array, w_type: Any, r_type: Any, field: pa.Field, path: str) -> pa.Array:
        w = deref(_non_null(w_type), self.w_named)
        r = deref(_non_null(r_type), self.r_named)
        kind_w, kind_r = _kind(w), _kind(r)
        if kind_r == "record":
            return self._record(arr, w, r, field, path)
        if kind_r == "array":
            items = self.resolve(arr.flatten(), w["items"], r["items"], field.type.value_field, f"{path}[]")
            return pa.ListArray.from_arrays(_offsets(arr), items, type=field.type, mask=pc.is_null(arr))
        if kind_r == "map":
            return self._map(arr, w, r, field, path)
        if kind_r == "enum":
            return self._enum(arr, r, field, path)
        if arr.type == field.type:
            return arr
        logical_w, logical_r = _logical(w), _logical(r)
        if logical_w and logical_r:
            return self._logical(arr, logical_w, logical_r, w, r, field, path)
        if "decimal" in (logical_w, logical_r):
            raise self._undefined(path, "a decimal cannot be resolved to or from plain bytes")
        if kind_w not in _PHYSICAL or kind_r not in _PHYSICAL:
            raise self._undefined(path, f"{kind_w} is not read as {kind_r}")
        if kind_w != kind_r and kind_r not in _PROMOTIONS.get(kind_w, ()):
            raise self._undefined(path, f"{kind_w} does not promote to {kind_r}")
        physical = arr.cast(_PHYSICAL[kind_w]) if pt.is_temporal(arr.type) else arr
        try:
            promoted = physical.cast(_PHYSICAL[kind_r], safe=kind_r not in ("float", "double"))
            return promoted.cast(field.type)
        except CAST_ERRORS as exc:
            raise BadInput(
                f"cannot read {kind_w} as {kind_r} ({type(exc).__name__}, e.g. bytes that are not UTF-8)",
                where=f"{self.where}: {path}",
                hint="fix the staged data or read it with the schema it was written with",
            ) from exc

    def _record(self, arr: pa.Array, w: Any, r: Any, field: pa.Field, path: str) -> pa.Array:
        children = []
        flat = dict(zip([f.name for f in arr.type], arr.flatten(), strict=True))
        for index, spec in enumerate(r["fields"]):
            child = field.type.field(index)
            w_spec = _writer_field(w["fields"], spec)
            child_path = f"{path}.{spec['name']}"
            if w_spec is None:
                children.append(self.default(spec, child, len(arr), child_path))
            else:
                values = flat[w_spec["name"]]
                children.append(self.resolve(values, w_spec["type"], spec["type"], child, child_path))
        return pa.StructArray.from_arrays(children, fields=list(field.type), mask=pc.is_null(arr))

    def _map(self, arr: pa.Array, w: Any, r: Any, field: pa.Field, path: str) -> pa.Array:
        as_list = pa.ListArray.from_arrays(arr.offsets, arr.values, mask=pc.is_null(arr))
        entries = as_list.flatten()
        keys, items = entries.field(0), entries.field(1)
        items = self.resolve(items, w["values"], r["values"], field.type.item_field, f"{path}{{}}")
        offsets = _offsets(as_list)
        return pa.MapArray.from_arrays(offsets, keys, items, type=field.type, mask=pc.is_null(arr))

    def _enum(self, arr: pa.Array, r: Any, field: pa.Field, path: str) -> pa.Array:
        text = arr.dictionary_decode() if pt.is_dictionary(arr.type) else arr
        default = r.get("default")
        if default is not None:
            known = pc.is_in(text, value_set=pa.array(r["symbols"], pa.string()))
            text = pc.if_else(pc.or_(known, pc.is_null(text)), text, pa.scalar(default, pa.string()))
        values, _ = conform_column(text, field, path)
        if values.null_count != text.null_count:  # the checker rules this out; never lose a value
            raise BadInput(
                "an enum symbol is unknown to the reader", where=f"{self.where}: {path}", hint="add it"
            )
        return values

    def _logical(
        self, arr: pa.Array, logical_w: str, logical_r: str, w: Any, r: Any, field: pa.Field, path: str
    ) -> pa.Array:
        if logical_w == logical_r == "decimal" and int(w.get("scale", 0)) != int(r.get("scale", 0)):
            raise self._undefined(path, "a decimal's scale changed, which Avro does not resolve")
        same_family = _family(logical_w) == _family(logical_r)
        try:
            if same_family:
                return arr.cast(field.type, safe=True)
        except CAST_ERRORS as exc:
            raise BadInput(
                f"a value does not fit {logical_r} ({type(exc).__name__})",
                where=f"{self.where}: {path}",
                hint="widen the reader's type",
            ) from exc
        raise self._undefined(path, f"{logical_w} is not read as {logical_r}")

    def _undefined(self, path: str, why: str) -> BadConfiguration:
        return BadConfiguration(
            why, where=f"{self.where}: {path}", hint="keep the type, or add a new field instead"
        )

    def default(self, spec: dict[str, Any], field: pa.Field, rows: int, path: str | None = None) -> pa.Array:
        """Field `spec`'s default, repeated `rows` times, as the column of `field`."""
        path = path or spec["name"]
        if "default" not in spec:  # the checker rules this out
            raise BadConfiguration("no default for a field the writer lacks", where=f"{self.where}: {path}")
        try:
            value = json_default(spec["type"], spec["default"], self.r_named)
            one = pa.array([value], type=field.type)
        except (ValueError, TypeError, KeyError, *CAST_ERRORS) as exc:
            raise BadConfiguration(
                f"the default does not fit the field's type ({type(exc).__name__})",
                where=f"{self.where}: {path}",
                hint="fix the default per the Avro specification",
            ) from exc
        one, _ = conform_column(one, field, path)
        return one.take(pa.repeat(pa.scalar(0, pa.int64()), rows))


_PHYSICAL = {
    "int": pa.int32(),
    "long": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "string": pa.string(),
    "bytes": pa.binary(),
    "boolean": pa.bool_(),
    "null": pa.null(),
}


def _offsets(arr: pa.Array) -> pa.Array:
    lengths = pc.cast(pc.fill_null(pc.list_value_length(arr), 0), pa.int32())
    return pa.concat_arrays([pa.array([0], pa.int32()), pc.cumulative_sum(lengths)])


def _non_null(avro_type: Any) -> Any:
    if isinstance(avro_type, list):
        branches = [b for b in avro_type if b != "null"]
        return branches[0] if branches else "null"
    return avro_type


def _kind(avro_type: Any) -> str:
    return avro_type if isinstance(avro_type, str) else str(avro_type["type"])


def _logical(avro_type: Any) -> str | None:
    return avro_type.get("logicalType") if isinstance(avro_type, dict) else None


def _family(logical: str) -> str:
    for family in ("local-timestamp", "timestamp", "time", "decimal", "date", "uuid"):
        if logical.startswith(family):
            return family
    return logical


def resolve_staged(
    table: pa.Table, fingerprint_sha256: str, versions: Sequence[AvroSchema], current: AvroSchema
) -> pa.Table:
    """A batch staged under the version with `fingerprint_sha256`, read as `current`.

    The same table when it was staged under `current`; raises `BadConfiguration` when no
    known version has that fingerprint (a schema file was deleted from the catalog).
    """
    if fingerprint_sha256 == current.fingerprint_sha256:
        return table
    writer = next((v for v in versions if v.fingerprint_sha256 == fingerprint_sha256), None)
    if writer is None:
        raise BadConfiguration(
            "the data was staged under a schema version the catalog no longer has",
            where=current.source,
            hint="restore the old vN.avsc file next to the current one",
        )
    return resolve_table(table, writer, current)
