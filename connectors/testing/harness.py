"""`ConnectorHarness`: what a connector's author tells the kit about the connector.

A harness stands for ONE fresh, empty location of the connector's system — a new table,
an empty folder, an API with no records — and knows how to build the connector's source
and sink over it. The kit makes a new harness for every check (through the `harness`
fixture of `ConnectorConformance`), so checks never see each other's rows.

Subclass it and override what applies:

* `make_source` and/or `make_sink` (set `has_source` / `has_sink` to False for a
  connector that has only one side);
* `seed` for a source-only connector (put rows into the system the source reads: write
  a file, insert rows, encode records); by default rows go in through `make_sink`, which
  is exactly the sink → source round trip;
* `stored` for a sink-only connector (every row the system holds, read by your own
  means); by default the batches of a full read through `make_source`;
* `conform` when the source yields text that the bus's conform step types (CSV, JSON):
  return what `schemas.conform` makes of a batch, so the round trip is checked on the
  values the bus will see (it is called once per batch, as the bus does);
* the declarations below, each with the reason the connector cannot do better — the kit
  skips what is declared and prints the reason, and checks everything else strictly.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import pyarrow as pa

from connectors.base import Sink, Source

CHECKS = (
    "type_round_trip",
    "every_row_once",
    "new_rows_only",
    "resume",
    "idempotent_write",
    "bounded_memory",
)
"""The names of the kit's checks, as `ConnectorHarness.not_supported` keys them."""


class ConnectorHarness:
    """One fresh location of a connector's system, and how to read and write it.

    Class attributes (override in the subclass):

    * `has_source`, `has_sink`: which sides the connector has.
    * `reads_by_cursor_field`: True when the source takes a `cursor_field` and reads rows
      changed after the cursor (SQL, REST, one Parquet file); False when it ignores it
      and delivers what was added since the cursor (drop folders: new files).
    * `not_supported`: check name (see `CHECKS`) → why the connector cannot pass it.
    * `types_not_supported`: type case name (see `TYPE_CASES`) → why it cannot carry it.
    * `read_types`: Arrow type written → Arrow type the source reads back, for the types
      the connector maps to another one without loss (e.g. int32 → int64 in SQL). The
      kit checks the mapping is lossless (a value cast there and back is unchanged).
    """

    has_source: ClassVar[bool] = True
    has_sink: ClassVar[bool] = True
    reads_by_cursor_field: ClassVar[bool] = True
    not_supported: ClassVar[Mapping[str, str]] = {}
    types_not_supported: ClassVar[Mapping[str, str]] = {}
    read_types: ClassVar[Mapping[pa.DataType, pa.DataType]] = {}

    _seeds = itertools.count()

    def make_source(self, *, key_fields: Sequence[str], cursor_field: str | None) -> Source:
        """A new source over this location (called once per read the kit simulates)."""
        raise NotImplementedError(f"{type(self).__name__} has a source but no make_source")

    def make_sink(self, *, schema: pa.Schema, key_fields: Sequence[str]) -> Sink:
        """A new sink over this location for batches of `schema`, keyed by `key_fields`."""
        raise NotImplementedError(f"{type(self).__name__} has a sink but no make_sink")

    def seed(self, table: pa.Table, *, key_fields: Sequence[str], cursor_field: str | None) -> None:
        """Add `table`'s rows to what the source reads. Default: one batch through a new sink.

        The kit calls it several times on one location to add rows; a row's key is never
        seeded twice. `cursor_field` is the column the source will read by (or None).
        """
        if not self.has_sink:
            raise NotImplementedError(f"{type(self).__name__} has no sink: it must override seed")
        sink = self.make_sink(schema=table.schema, key_fields=key_fields)
        try:
            sink.write(f"seed-{next(self._seeds):06d}", table)
        finally:
            sink.close()

    def stored(self, *, schema: pa.Schema, key_fields: Sequence[str]) -> list[pa.Table]:
        """Every row the location holds now, in one or more tables (the written `schema` is
        a hint). Default: the batches of a full read through a new source, as they come —
        a source of JSON may type a field differently from batch to batch."""
        if not self.has_source:
            raise NotImplementedError(f"{type(self).__name__} has no source: it must override stored")
        source = self.make_source(key_fields=key_fields, cursor_field=None)
        try:
            return [batch.data for batch in source.read(None, batch_size=10_000)]
        finally:
            source.close()

    def conform(self, table: pa.Table, avro_schema: Mapping[str, Any]) -> pa.Table:
        """The source's rows as the bus types them for `avro_schema`. Default: unchanged."""
        return table
