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

from typing import TYPE_CHECKING

from govbus.lazy_faces import lazy_face

if TYPE_CHECKING:
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

# Where each public name lives: imported on first use (PEP 562), so importing this package
# (or one of its modules) does not load every dependency of every other module: `govbus
# --help`, `govbus status` and the DAG file load only what they use. A new public name goes
# here, under TYPE_CHECKING above and in `__all__` (tests/architecture/test_lazy_faces.py).
_LAZY: dict[str, tuple[str, str]] = {
    "avro_to_arrow": ("schemas.arrow_mapping", "avro_to_arrow"),
    "AvroSchema": ("schemas.avro", "AvroSchema"),
    "load_schema": ("schemas.avro", "load_schema"),
    "parse_schema": ("schemas.avro", "parse_schema"),
    "read_avro": ("schemas.avro_files", "read_avro"),
    "write_avro": ("schemas.avro_files", "write_avro"),
    "COMPATIBILITY_MODES": ("schemas.compatibility", "COMPATIBILITY_MODES"),
    "CompatibilityProblem": ("schemas.compatibility", "CompatibilityProblem"),
    "check_compatibility": ("schemas.compatibility", "check_compatibility"),
    "reader_problems": ("schemas.compatibility", "reader_problems"),
    "ISSUE_SCHEMA": ("schemas.conform", "ISSUE_SCHEMA"),
    "ConformResult": ("schemas.conform", "ConformResult"),
    "conform": ("schemas.conform", "conform"),
    "resolve_staged": ("schemas.resolution", "resolve_staged"),
    "resolve_table": ("schemas.resolution", "resolve_table"),
}


__getattr__, __dir__ = lazy_face(__name__, _LAZY)


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
