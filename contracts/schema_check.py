"""A contract against its Avro schema: names exist, every field is classified, and each
expectation can run on the schema's column types (tried on an empty batch)."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from contracts.expectations import SUPPORTED_EXPECTATIONS
from contracts.model import Contract, Problem
from contracts.validation import evaluate
from govbus.errors import BadConfiguration
from schemas import AvroSchema, check_compatibility, load_schema


def check_against_schema(contract: Contract, schema: AvroSchema) -> list[Problem]:
    """Problems between `contract` and `schema` (empty list: they agree)."""
    file = str(contract.path) if contract.path is not None else contract.id
    known = set(schema.field_names)
    problems: list[Problem] = []

    def missing(name: str, line: int | None, field: str) -> None:
        problems.append(Problem(file, line, field, f"{name!r} is not a field of {schema.name}"))

    for name in contract.fields:
        if name not in known:
            missing(name, contract.line_of(f"fields.{name}"), f"fields.{name}")
    for name in schema.field_names:
        if name not in contract.fields:
            message = f"schema field {name!r} has no classification"
            problems.append(Problem(file, contract.line_of("fields"), "fields", message))
    for key in ("subject_field", "cursor_field"):
        name = getattr(contract, key)
        if name is not None and name not in known:
            missing(name, contract.line_of(key), key)
    for name in contract.key_fields:
        if name not in known:
            missing(name, contract.line_of("key_fields"), "key_fields")

    # Built from null arrays: `Schema.empty_table()` imports pandas (a second of start-up).
    arrow = schema.arrow
    empty = pa.Table.from_arrays([pa.nulls(0, f.type) for f in arrow], schema=arrow)
    for index, expectation in enumerate(contract.expectations):
        where = f"expectations[{index}]"
        compiler = SUPPORTED_EXPECTATIONS.get(expectation.type)
        columns = compiler.columns(expectation.kwargs) if compiler else ()
        absent = [name for name in columns if name not in known]
        for name in absent:
            missing(name, expectation.line, f"{where}.kwargs")
        if compiler is None or absent:
            continue
        try:
            evaluate(empty, [expectation], file, keys=_every_value_known)
        except BadConfiguration as exc:
            problems.append(Problem(file, expectation.line, where, exc.message))
    return problems


def _every_value_known(dataset: str, key_field: str | None, values: pa.Array) -> pa.Array:
    """A stand-in key index for the dry run on an empty batch: only types are judged."""
    return pc.is_valid(values)


def check_contract_schema(contract: Contract) -> list[Problem]:
    """Load the contract's own schema file and check the contract against it."""
    try:
        schema = load_schema(contract.schema_path)
    except BadConfiguration as exc:
        file = str(contract.path) if contract.path is not None else contract.id
        return [Problem(file, contract.line_of("schema"), "schema", str(exc))]
    return check_against_schema(contract, schema)


def check_schema_history(contract: Contract, versions: Sequence[AvroSchema]) -> list[Problem]:
    """The newest of `versions` (oldest first) against the contract's compatibility mode.

    Each problem names the new version's `.avsc` file, the field path and, in words, the
    rule it breaks (the official `avro` checker decides; see `schemas.compatibility`).
    """
    try:
        found = check_compatibility(versions, contract.compatibility)
    except BadConfiguration as exc:
        file = exc.where or (str(contract.path) if contract.path is not None else contract.id)
        return [Problem(file, None, "schema", exc.message)]
    return [
        Problem(
            p.source,
            None,
            p.field or "(record)",
            f"breaks {p.mode}: {p.reader} cannot read data written with {p.writer}: {p.message}",
        )
        for p in found
    ]
