"""Avro schemas of datasets: parsing, fingerprints, the Avro → Arrow mapping, conforming.

`load_schema` / `parse_schema` give an `AvroSchema` (canonical form, CRC-64-AVRO and
SHA-256 fingerprints, Arrow schema); `avro_to_arrow` is the type mapping; `conform`
makes a batch fit a schema exactly and reports the rows that do not (`ISSUE_SCHEMA`).
This part imports no other part (only `govbus.errors`).
"""

from __future__ import annotations

from schemas.arrow_mapping import avro_to_arrow
from schemas.avro import AvroSchema, load_schema, parse_schema
from schemas.conform import ISSUE_SCHEMA, ConformResult, conform

__all__ = [
    "ISSUE_SCHEMA",
    "AvroSchema",
    "ConformResult",
    "avro_to_arrow",
    "conform",
    "load_schema",
    "parse_schema",
]
