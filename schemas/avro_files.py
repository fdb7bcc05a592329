"""Arrow batches to and from Avro object container files (fastavro underneath).

`write_avro(table, schema, stream)` writes a conformed batch; `read_avro(stream, schema)`
reads a file written under any schema the given one can read (Avro resolution by
fastavro) and returns the batch conformed to `schema`, so a round trip gives back an
equal table: enums as dictionaries in symbol order, maps as Arrow maps, uuids as text.

Avro's binary encoding is record by record, so fastavro sees Python rows here: these
functions are for files at the edge (an Avro drop folder, an export), not for the
conform/validate hot path, which stays columnar.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO, Any

import fastavro
import pyarrow as pa
import pyarrow.types as pt

from govbus.errors import BadInput
from schemas.arrow_mapping import TYPE_KEY
from schemas.avro import AvroSchema
from schemas.conform import conform

Fix = Callable[[Any], Any]


def write_avro(table: pa.Table, schema: AvroSchema, stream: IO[bytes], codec: str = "deflate") -> int:
    """Write `table` (conformed to `schema`) as an Avro container file; returns the rows.

    Raises `BadInput` naming the schema when a value does not fit (conform first).
    """
    fixes = {field.name: _fixer(field.type) for field in schema.arrow}
    fixes = {name: fix for name, fix in fixes.items() if fix is not None}

    def records() -> Iterator[dict[str, Any]]:
        for batch in table.select(list(schema.field_names)).to_batches(max_chunksize=10_000):
            for row in batch.to_pylist():
                for name, fix in fixes.items():
                    row[name] = fix(row[name])
                yield row

    try:
        fastavro.writer(stream, schema.parsed, records(), codec=codec)
    except (ValueError, TypeError, OverflowError) as exc:
        raise BadInput(
            f"a value does not fit the schema ({type(exc).__name__})",
            where=schema.source,
            hint="conform the batch to the schema before writing it",
        ) from exc
    return table.num_rows


def read_avro(stream: IO[bytes], schema: AvroSchema) -> pa.Table:
    """The records of an Avro container file, read as `schema` and conformed to it.

    Raises `BadInput` for a file that is not Avro or a record the schema cannot take.
    """
    fixes = {f.name: fix for f in schema.arrow if (fix := _uuid_text(f)) is not None}
    try:
        records = list(fastavro.reader(stream, reader_schema=schema.parsed))
        for record in records if fixes else ():
            for name, fix in fixes.items():
                record[name] = fix(record[name])
    except (ValueError, TypeError, EOFError, fastavro.read.SchemaResolutionError) as exc:
        raise BadInput(
            f"cannot read the Avro file as {schema.label} ({type(exc).__name__})",
            where=schema.source,
            hint="check that the file is Avro and written under a compatible schema",
        ) from exc
    plain = pa.schema([f.with_type(_undictionary(f.type)) for f in schema.arrow])
    result = conform(pa.Table.from_pylist(records, schema=plain), schema)
    if result.issues.num_rows:
        raise BadInput(
            f"{result.issues.num_rows} value(s) in the Avro file do not fit {schema.label}",
            where=schema.source,
            hint="read the file with the schema it was written with",
        )
    return result.table


def _fixer(arrow_type: pa.DataType) -> Fix | None:
    """What to do to one Python value Arrow gives so that fastavro accepts it (None: nothing).

    Only maps need it (Arrow gives a list of pairs, Avro wants a dict), wherever they nest.
    """
    if pt.is_map(arrow_type):
        inner = _fixer(arrow_type.item_type)
        if inner is None:
            return lambda v: None if v is None else dict(v)
        return lambda v: None if v is None else {k: inner(x) for k, x in v}
    if pt.is_list(arrow_type) or pt.is_large_list(arrow_type):
        inner = _fixer(arrow_type.value_type)
        return None if inner is None else (lambda v: None if v is None else [inner(x) for x in v])
    if pt.is_struct(arrow_type):
        inner_fixes = {f.name: fix for f in arrow_type if (fix := _fixer(f.type)) is not None}
        if not inner_fixes:
            return None

        def fix_struct(value: Any) -> Any:
            if value is None:
                return None
            return {k: inner_fixes[k](x) if k in inner_fixes else x for k, x in value.items()}

        return fix_struct
    return None


def _uuid_text(field: pa.Field) -> Fix | None:
    """fastavro reads a uuid (by the *writer's* logical type) as `uuid.UUID`: back to text."""
    arrow_type = field.type
    if (field.metadata or {}).get(TYPE_KEY) == b"uuid":
        return lambda v: None if v is None else str(v)
    if pt.is_list(arrow_type):
        inner = _uuid_text(arrow_type.value_field)
        return None if inner is None else (lambda v: None if v is None else [inner(x) for x in v])
    if pt.is_map(arrow_type):
        inner = _uuid_text(arrow_type.item_field)
        return (
            None if inner is None else (lambda v: None if v is None else {k: inner(x) for k, x in v.items()})
        )
    if pt.is_struct(arrow_type):
        inner_fixes = {f.name: fix for f in arrow_type if (fix := _uuid_text(f)) is not None}
        if not inner_fixes:
            return None
        return lambda v: None if v is None else {k: inner_fixes.get(k, _same)(x) for k, x in v.items()}
    return None


def _same(value: Any) -> Any:
    return value


def _undictionary(arrow_type: pa.DataType) -> pa.DataType:
    """The type with enums as plain text (conform re-encodes them in symbol order)."""
    if pt.is_dictionary(arrow_type):
        return arrow_type.value_type
    if pt.is_list(arrow_type):
        return pa.list_(arrow_type.value_field.with_type(_undictionary(arrow_type.value_type)))
    if pt.is_map(arrow_type):
        item = arrow_type.item_field
        return pa.map_(arrow_type.key_field, item.with_type(_undictionary(item.type)))
    if pt.is_struct(arrow_type):
        return pa.struct([f.with_type(_undictionary(f.type)) for f in arrow_type])
    return arrow_type
