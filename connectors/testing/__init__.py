"""The connector conformance kit: does a connector keep the `Source` and `Sink` contracts?

A connector's author describes the connector to the kit with a `ConnectorHarness` (how
to build its source and sink over a fresh location, what it cannot do and why) and gets
the checks as pytest tests by subclassing `ConnectorConformance`:

* every Avro type and logical type round-trips exactly (`TYPE_CASES`);
* a read yields every row once, rows sharing a cursor value across batch boundaries too;
* a read from the last cursor yields exactly the rows added since;
* a read interrupted after any batch resumes from its cursor (JSON round-tripped, in a
  new source) with no loss and no duplicate;
* writing a batch id twice has the effect of writing it once;
* reading 1,000,000 rows raises the peak RSS by less than `MEMORY_BOUND_MIB` MiB.

The pytest plugin (`connectors.testing.plugin`, loaded through the `pytest11` entry
point) adds `--govbus-conformance-rows`. docs/write-a-connector.md walks through it.
The checks are also plain functions (`check_…`) raising AssertionError.
"""

from __future__ import annotations

from connectors.testing.checks import (
    check_every_row_once,
    check_idempotent_write,
    check_new_rows_only,
    check_resume,
    check_type_round_trip,
)
from connectors.testing.conformance import ConnectorConformance
from connectors.testing.harness import CHECKS, ConnectorHarness
from connectors.testing.memory import MEMORY_BOUND_MIB, MemoryReport, check_bounded_memory
from connectors.testing.sample import CURSOR, KEY, SAMPLE_SCHEMA, sample_rows
from connectors.testing.type_cases import TYPE_CASE_NAMES, TYPE_CASES, TypeCase

__all__ = [
    "CHECKS",
    "CURSOR",
    "KEY",
    "MEMORY_BOUND_MIB",
    "SAMPLE_SCHEMA",
    "TYPE_CASES",
    "TYPE_CASE_NAMES",
    "ConnectorConformance",
    "ConnectorHarness",
    "MemoryReport",
    "TypeCase",
    "check_bounded_memory",
    "check_every_row_once",
    "check_idempotent_write",
    "check_new_rows_only",
    "check_resume",
    "check_type_round_trip",
    "sample_rows",
]
