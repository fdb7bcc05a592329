"""Conforming a batch to a dataset's Avro schema, vectorized.

`conform(table, schema)` returns a table with exactly the schema's fields, in schema
order, of the mapped Arrow types (extra source columns are dropped), plus an issues table
`(row: int64, reason: string)` naming every row whose value could not be converted
exactly ("gross_income: cannot convert to decimal(14,2)") or that holds a null where the
schema forbids one ("national_id: null in a non-nullable field"). A reason never carries
the value. What converts and what does not is documented in `schemas.value_casts`.

What a caller must know:
* A row listed in `issues` keeps its place in `table`, with null where its value failed,
  even in a non-nullable field: drop (quarantine) those rows before writing the table.
* A missing column takes the field's default, or nulls when the field is nullable; a
  missing non-nullable field without default raises `BadInput` (the whole batch is
  unusable, so the source connector or the schema must change).
* Nested types (array, map, record) are conformed element-wise; a bad element is
  reported on its top-level row with a path such as `addresses[].postal_code`.
* A map field also takes records: a JSON object read as a struct becomes a map of the
  fields each row holds (a null field is an absent key; see `_conform_object_map`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.types as pt

from govbus.errors import BadConfiguration, BadInput
from schemas.arrow_mapping import TYPE_KEY
from schemas.avro import AvroSchema
from schemas.avro_defaults import json_default
from schemas.value_casts import cast_values

ISSUE_SCHEMA = pa.schema(
    [pa.field("row", pa.int64(), nullable=False), pa.field("reason", pa.string(), nullable=False)]
)

Issues = list[tuple[pa.Array, str]]  # (boolean mask over the level's values, reason)


@dataclass(frozen=True)
class ConformResult:
    """The conformed batch and its row issues (see the module doc)."""

    table: pa.Table
    issues: pa.Table


def conform(table: pa.Table, schema: AvroSchema) -> ConformResult:
    """Conform `table` to `schema`; see the module doc for the guarantees."""
    rows = table.num_rows
    columns: list[pa.Array] = []
    issues: Issues = []
    for field in schema.arrow:
        indices = table.schema.get_all_field_indices(field.name)
        if len(indices) > 1:
            raise BadInput(
                f"the batch has {len(indices)} columns named {field.name!r}",
                where=schema.source,
                hint="rename or drop the duplicates in the source connector",
            )
        if not indices:
            columns.append(_missing_column(schema, field, rows))
            continue
        source = table.column(indices[0]).combine_chunks()
        values, found = _conform(source, field, field.name)
        columns.append(values)
        issues.extend(found)
    return ConformResult(pa.Table.from_arrays(columns, schema=schema.arrow), issue_table(issues))


def issue_table(issues: Issues) -> pa.Table:
    """Build the issues table from (mask, reason) pairs, sorted by row (stable)."""
    parts = [ISSUE_SCHEMA.empty_table()]
    for mask, reason in issues:
        rows = pc.cast(pc.indices_nonzero(pc.fill_null(mask, False)), pa.int64())
        if len(rows):
            reasons = pa.repeat(pa.scalar(reason, pa.string()), len(rows))
            parts.append(pa.Table.from_arrays([rows, reasons], schema=ISSUE_SCHEMA))
    result = pa.concat_tables(parts)
    return result.take(pc.sort_indices(result, sort_keys=[("row", "ascending")]))


def conform_column(arr: pa.Array, field: pa.Field, path: str) -> tuple[pa.Array, Issues]:
    """Conform one column (nested types included) to `field`: the values and the
    (mask, reason) issues over its rows. What `conform` does per column."""
    return _conform(arr, field, path)


def _describe(field: pa.Field) -> str:
    described = (field.metadata or {}).get(TYPE_KEY)
    return described.decode() if described else str(field.type)


def _conform(arr: pa.Array, field: pa.Field, path: str) -> tuple[pa.Array, Issues]:
    """Conform one column (or nested child) and report masks over its values."""
    target = field.type
    if pt.is_list(target) and (pt.is_list(arr.type) or pt.is_large_list(arr.type)):
        values, issues = _conform_list(arr, target, path)
    elif pt.is_map(target) and pt.is_map(arr.type):
        values, issues = _conform_map(arr, target, path)
    elif pt.is_map(target) and pt.is_struct(arr.type):
        values, issues = _conform_object_map(arr, target, path)
    elif pt.is_struct(target) and pt.is_struct(arr.type):
        values, issues = _conform_struct(arr, target, path)
    elif pt.is_nested(target) and not pt.is_dictionary(target):
        raise BadInput(
            f"a column of type {arr.type} cannot be converted to {target}",
            where=path,
            hint="fix the source connector's column type or the schema's field type",
        )
    else:
        values, issues = cast_values(arr, field, path), []
    failed = pc.and_(pc.is_valid(arr), pc.is_null(values))
    issues = [(failed, f"{path}: cannot convert to {_describe(field)}"), *issues]
    if not field.nullable:
        issues.append((pc.is_null(arr), f"{path}: null in a non-nullable field"))
    return values, issues


def _offsets(arr: pa.Array) -> pa.Array:
    lengths = pc.cast(pc.fill_null(pc.list_value_length(arr), 0), pa.int32())
    return pa.concat_arrays([pa.array([0], pa.int32()), pc.cumulative_sum(lengths)])


def _lift(child_issues: Issues, parents: pa.Array, rows: int) -> Issues:
    """Masks over list elements → masks over the rows holding them."""
    everyone = pc.indices_nonzero(pa.repeat(pa.scalar(True), rows))
    lifted = []
    for mask, reason in child_issues:
        bad_parents = pc.filter(parents, pc.fill_null(mask, False))
        lifted.append((pc.is_in(everyone, value_set=pc.cast(bad_parents, pa.uint64())), reason))
    return lifted


def _conform_list(arr: pa.Array, target: pa.DataType, path: str) -> tuple[pa.Array, Issues]:
    items, found = _conform(arr.flatten(), target.value_field, f"{path}[]")
    values = pa.ListArray.from_arrays(_offsets(arr), items, type=target, mask=pc.is_null(arr))
    return values, _lift(found, pc.list_parent_indices(arr), len(arr))


def _conform_map(arr: pa.Array, target: pa.DataType, path: str) -> tuple[pa.Array, Issues]:
    as_list = pa.ListArray.from_arrays(arr.offsets, arr.values, mask=pc.is_null(arr))
    entries = as_list.flatten()
    keys, items = (entries.field(i) for i in range(2))
    keys, key_issues = _conform(keys, target.key_field, f"{path}{{key}}")
    items, item_issues = _conform(items, target.item_field, f"{path}{{}}")
    offsets = _offsets(as_list)
    values = pa.MapArray.from_arrays(offsets, keys, items, type=target, mask=pc.is_null(arr))
    parents = pc.list_parent_indices(as_list)
    return values, _lift(key_issues + item_issues, parents, len(arr))


def _conform_object_map(arr: pa.Array, target: pa.DataType, path: str) -> tuple[pa.Array, Issues]:
    """JSON objects read as records (a struct with one field per key seen in the batch)
    → a map: each row's entries are the fields it holds, in the struct's field order.

    A field that is null in a row was absent from that object (a reader of JSON cannot
    tell `{"k": null}` from `{}`), so it is no entry; a null object stays a null map.
    Values are conformed to the map's value type with their issues on the row."""
    rows, names = len(arr), [f.name for f in arr.type]
    if not names:  # every object in the batch was empty
        offsets = pa.array(np.zeros(rows + 1, np.int32))
        keys, items = pa.array([], pa.string()), pa.array([], target.item_type)
        return pa.MapArray.from_arrays(offsets, keys, items, type=target, mask=pc.is_null(arr)), []
    present = pc.is_valid(arr)
    children, masks, issues = [], [], []
    for child in arr.flatten():
        values, found = _conform(child, target.item_field, f"{path}{{}}")
        children.append(values)
        entry = pc.and_(present, pc.is_valid(child))  # an absent key is no entry, no issue
        masks.append(entry)
        issues.extend((pc.and_(mask, entry), reason) for mask, reason in found)
    # Entries row by row: row i's candidates are field j's value at j * rows + i.
    order = (np.arange(len(names))[None, :] * rows + np.arange(rows)[:, None]).ravel()
    keep = np.column_stack([m.to_numpy(zero_copy_only=False) for m in masks]).ravel()
    chosen = pa.array(order[keep], pa.int64())
    keys = pa.array(np.repeat(np.array(names, dtype=object), rows)[order[keep]], pa.string())
    items = pa.concat_arrays(children).take(chosen)
    counts = keep.reshape(rows, len(names)).sum(axis=1)
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))
    values = pa.MapArray.from_arrays(offsets, keys, items, type=target, mask=pc.is_null(arr))
    return values, issues


def _conform_struct(arr: pa.Array, target: pa.DataType, path: str) -> tuple[pa.Array, Issues]:
    flat = dict(zip([f.name for f in arr.type], arr.flatten(), strict=True))
    present = pc.is_valid(arr)
    children: list[pa.Array] = []
    issues: Issues = []
    for child in target:
        child_path = f"{path}.{child.name}"
        if child.name not in flat:
            if not child.nullable:
                raise BadInput(
                    f"the batch has no nested field {child_path!r}, which the schema requires",
                    where=path,
                    hint="select the nested field in the source or make it nullable",
                )
            children.append(pa.nulls(len(arr), child.type))
            continue
        values, found = _conform(flat[child.name], child, child_path)
        children.append(values)
        issues.extend((pc.and_(mask, present), reason) for mask, reason in found)
    values = pa.StructArray.from_arrays(children, fields=list(target), mask=pc.is_null(arr))
    return values, issues


def _missing_column(schema: AvroSchema, field: pa.Field, rows: int) -> pa.Array:
    has_default, default = schema.field_default(field.name)
    if has_default and default is not None:
        one = cast_values(pa.array([_avro_default(schema, field.name, default)]), field, field.name)
        if one.null_count:
            raise BadConfiguration(
                f"the default of field {field.name!r} does not convert to {_describe(field)}",
                where=schema.source,
                hint="fix the field's default",
            )
        return one.take(pa.repeat(pa.scalar(0, pa.int64()), rows))
    if field.nullable or has_default:
        return pa.nulls(rows, field.type)
    raise BadInput(
        f"the batch has no column {field.name!r}, which the schema requires (not nullable, no default)",
        where=schema.source,
        hint="select the column in the source connector, or give the field a default",
    )


def _avro_default(schema: AvroSchema, name: str, default: Any) -> Any:
    """An Avro JSON default → a Python value Arrow converts, as the Avro specification
    decodes it (bytes and fixed from their ISO-8859-1 text, decimals from their unscaled
    bytes, dates and instants from their counts): `schemas.avro_defaults`."""
    return json_default(schema.field_type(name), default, schema.parsed.get("__named_schemas", {}))
