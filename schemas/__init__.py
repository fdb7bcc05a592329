"""Avro schemas of datasets: parsing, fingerprints, the Avro → Arrow mapping, conforming.

`load_schema` / `parse_schema` give an `AvroSchema` (canonical form, CRC-64-AVRO and
SHA-256 fingerprints, Arrow schema); `avro_to_arrow` is the type mapping; `conform`
makes a batch fit a schema exactly and reports the rows that do not (`ISSUE_SCHEMA`);
`check_compatibility` applies a Confluent compatibility mode to a dataset's versions
(the official `avro` package's checker, its findings put in words); `resolve_table`
reads a batch staged under an older version as the current one (Avro resolution);
`write_avro` / `read_avro` move a batch through an Avro container file.
This part imports no other part (only `govbus.errors`).
"""

from __future__ import annotations

from schemas.arrow_mapping import avro_to_arrow
from schemas.avro import AvroSchema, load_schema, parse_schema
from schemas.avro_files import read_avro, write_avro
from schemas.compatibility import (
    COMPATIBILITY_MODES,
    CompatibilityProblem,
    check_compatibility,
    reader_problems,
)
from schemas.conform import ISSUE_SCHEMA, ConformResult, conform
from schemas.resolution import resolve_staged, resolve_table

__all__ = [
    "COMPATIBILITY_MODES",
    "ISSUE_SCHEMA",
    "AvroSchema",
    "CompatibilityProblem",
    "ConformResult",
    "avro_to_arrow",
    "check_compatibility",
    "conform",
    "load_schema",
    "parse_schema",
    "read_avro",
    "reader_problems",
    "resolve_staged",
    "resolve_table",
    "write_avro",
]
