"""The key index: which keys the bus has staged for datasets that others refer to.

`expect_column_values_to_be_in_dataset_keys` (GovBus's referential rule) asks whether a
value is a key of another dataset. The bus answers from `state.dataset_keys`: when a
dataset is staged, the values of each of its key fields that some contract refers to
are added, for the rows that were staged (quarantined rows are not keys). What is stored
is HMAC-SHA256 of the value under a key derived for (dataset, field) — never the value:
the keys are often national ids.

* A key counts from the moment its batch is staged (before the stage is committed); a
  crashed stage's keys are removed with it (`forget_stage`), and its retry adds them again.
* Keys are never removed: a key once staged stays a key (sources send changes, not deletes).
* Only datasets referred to are indexed, from their first stage after the reference is
  declared. Rows checked against keys not yet staged are quarantined; replay them
  (`govbus quarantine replay`) once the other dataset has been staged.

Lookups send the batch's distinct hashes to the database in chunks (`_CHUNK` per query);
inserts go through the driver's executemany and skip keys already present.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

import consent
import contracts
from exchange import state

if TYPE_CHECKING:
    from exchange.ctx import StepContext

_CHUNK = 900  # hashes per IN (...) query: under every database's parameter limit
_REFERENTIAL = "expect_column_values_to_be_in_dataset_keys"


def indexed_fields(ctx: StepContext, dataset_id: str) -> list[str]:
    """The key fields of `dataset_id` that some contract in the catalog refers to."""
    found: set[str] = set()
    for dataset in ctx.catalog.datasets.values():
        for expectation in dataset.contract.expectations:
            if expectation.type == _REFERENTIAL and expectation.kwargs.get("dataset") == dataset_id:
                field = contracts.referenced_key_field(dataset.contract, dict(expectation.kwargs))
                if field is not None:
                    found.add(field)
    return sorted(found)


def _hashes(ctx: StepContext, dataset_id: str, field: str, values: pa.Array) -> pa.Array:
    return consent.pseudonymize(values, ctx.keys.derive("dataset-keys", dataset_id, field))


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def add_keys(ctx: StepContext, conn: sa.Connection, dataset_id: str, stage_id: str, table: pa.Table) -> int:
    """Index the referred-to key fields of staged rows `table`; returns how many keys were new
    to the batch (before duplicates already in the index were skipped)."""
    added = 0
    for field in indexed_fields(ctx, dataset_id):
        if field not in table.column_names:
            continue
        distinct = pc.unique(table[field].combine_chunks()).drop_null()
        if not len(distinct):
            continue
        hashes = _hashes(ctx, dataset_id, field, distinct).to_pylist()
        rows = [(dataset_id, field, h, stage_id) for h in hashes]
        conn.exec_driver_sql(_insert_ignoring_duplicates(conn), rows)
        added += len(rows)
    return added


def _insert_ignoring_duplicates(conn: sa.Connection) -> str:
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    columns = "(dataset, field, key_hash, stage_id)"
    values = f"VALUES ({mark}, {mark}, {mark}, {mark})"
    table = state.dataset_keys.name
    name = conn.dialect.name
    if name == "sqlite":
        return f"INSERT OR IGNORE INTO {table} {columns} {values}"
    if name in ("mysql", "mariadb"):
        return f"INSERT IGNORE INTO {table} {columns} {values}"
    return f"INSERT INTO {table} {columns} {values} ON CONFLICT DO NOTHING"


def forget_stage(conn: sa.Connection, stage_id: str) -> None:
    """Remove the keys a (crashed, discarded) stage was the first to stage."""
    conn.execute(sa.delete(state.dataset_keys).where(state.dataset_keys.c.stage_id == stage_id))


class KeyIndex:
    """The `contracts.KeyLookup` of one stage: answers from `state.dataset_keys`."""

    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx

    def __call__(self, dataset: str, key_field: str | None, values: pa.Array) -> pa.Array:
        """Which values are keys the bus has staged for `dataset` (a boolean array; nulls stay null)."""
        field = key_field or self._only_key(dataset)
        distinct = pc.unique(values).drop_null()
        if not len(distinct):
            return pc.is_valid(values)  # all null: nothing to look up, nulls stay null below
        hashes = _hashes(self.ctx, dataset, field, distinct)
        known: list[str] = []
        dk = state.dataset_keys
        with self.ctx.engine.connect() as conn:
            for chunk in _chunks(hashes.to_pylist()):
                known.extend(
                    conn.execute(
                        sa.select(dk.c.key_hash).where(
                            dk.c.dataset == dataset, dk.c.field == field, dk.c.key_hash.in_(chunk)
                        )
                    ).scalars()
                )
        present = distinct.filter(pc.is_in(hashes, value_set=pa.array(known, pa.string())))
        found = pc.is_in(values, value_set=present)
        return pc.if_else(pc.is_valid(values), found, pa.scalar(None, pa.bool_()))

    def _only_key(self, dataset: str) -> str:
        keys = self.ctx.catalog.dataset(dataset).contract.key_fields
        return keys[0]
