"""Quarantine: rows that broke the contract, kept whole with every reason, until resolved.

A row enters quarantine at stage time (`put`, `put_unreadable`) with its stage id (the
run), its position at the source when the source can tell, and the record as the source
had it (`state.quarantine`). Its `status` then says what became of it:

* `open` — waiting: fix it at the source, fix the contract and replay, or discard it;
* `superseded` — a later stage staged a valid version of the same key (the source fixed
  it; incremental sources re-send changed rows): replaying the old version would
  overwrite the newer one downstream, so it is closed (`resolved_stage_id` = that stage);
* `replayed` — `govbus quarantine replay` re-validated it against the current contract
  and re-staged it (`resolved_stage_id` = the replay's stage, `ledger_seq` = its entry);
* `discarded` — an operator closed it with a reason (`ledger_seq`); kept for audit,
  left out of every count.

Keys are compared as text (`key_text`): the key fields' values joined by U+001F, as the
source's JSON has them and as Arrow casts the staged values. This module writes no
value anywhere but the state database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from connectors import SOURCE_ERROR, SOURCE_POSITION, SOURCE_RAW
from exchange import state
from exchange.quarantine.rows import jsonable_rows
from govbus.instants import utc_now

if TYPE_CHECKING:
    from exchange.ctx import QuarantineContext

OPEN, REPLAYED, SUPERSEDED, DISCARDED = "open", "replayed", "superseded", "discarded"
STATUSES = (OPEN, REPLAYED, SUPERSEDED, DISCARDED)

# Sources that read files (CSV lines, mainframe records) report rows they could not read
# in these columns instead of failing the whole batch; see connectors' module docs.
SOURCE_COLUMNS = (SOURCE_ERROR, SOURCE_POSITION, SOURCE_RAW)
_SEPARATOR = "\x1f"


def put(
    ctx: QuarantineContext,
    dataset_id: str,
    stage_id: str,
    records: Sequence[dict[str, Any]],
    reasons: Sequence[list[str]],
    positions: Sequence[str | None] | None,
) -> None:
    """Quarantine `records` (as the source had them) with their reasons, status open."""
    now = utc_now()
    with ctx.engine.begin() as conn:
        conn.execute(
            sa.insert(state.quarantine),
            [
                {
                    "dataset": dataset_id,
                    "stage_id": stage_id,
                    "record": rec,
                    "reasons": why,
                    "position": positions[i] if positions else None,
                    "status": OPEN,
                    "created_at": now,
                }
                for i, (rec, why) in enumerate(zip(records, reasons, strict=True))
            ],
        )


def put_unreadable(ctx: QuarantineContext, dataset_id: str, stage_id: str, rows: pa.Table) -> int:
    """Rows the source could not read at all: keep their raw text and position."""
    kept = [c for c in (SOURCE_POSITION, SOURCE_RAW) if c in rows.column_names]
    records = jsonable_rows(rows.select(kept))
    reasons = [[reason] for reason in rows[SOURCE_ERROR].to_pylist()]
    positions = rows[SOURCE_POSITION].cast(pa.string()).to_pylist() if SOURCE_POSITION in kept else None
    put(ctx, dataset_id, stage_id, records, reasons, positions)
    return len(records)


def is_unreadable(record: Mapping[str, Any]) -> bool:
    """True for a row the source could not read (only its raw text and position are kept)."""
    return SOURCE_RAW in record or (bool(record) and set(record) <= {SOURCE_POSITION, SOURCE_RAW})


def record_key(record: Mapping[str, Any], key_fields: Sequence[str]) -> str | None:
    """The key text of a quarantined record; None when a key field is missing or null."""
    values = [record.get(name) for name in key_fields]
    if not key_fields or any(v is None or isinstance(v, dict | list) for v in values):
        return None
    return _SEPARATOR.join("true" if v is True else "false" if v is False else str(v) for v in values)


def key_text(table: pa.Table, key_fields: Sequence[str]) -> pa.Array:
    """The key text of every row of a conformed `table` (null where a key field is null)."""
    texts = [pc.cast(table[name].combine_chunks(), pa.string()) for name in key_fields]
    if len(texts) == 1:
        return texts[0]
    return pc.binary_join_element_wise(*texts, _SEPARATOR)


def open_keys(ctx: QuarantineContext, dataset_id: str, key_fields: Sequence[str]) -> dict[str, list[int]]:
    """Key text → ids of the dataset's open quarantined rows (rows without a key left out).

    Off the hot path: quarantine holds the few rows that broke the contract.
    """
    q = state.quarantine
    found: dict[str, list[int]] = {}
    with ctx.engine.connect() as conn:
        query = sa.select(q.c.id, q.c.record).where(q.c.dataset == dataset_id, q.c.status == OPEN)
        rows = conn.execute(query.order_by(q.c.id))
        for row in rows:
            key = record_key(row.record, key_fields)
            if key is not None:
                found.setdefault(key, []).append(row.id)
    return found


def take_matches(keys: pa.Array, waiting: dict[str, list[int]]) -> list[int]:
    """Ids of `waiting` rows whose key is among `keys`; they are removed from `waiting`."""
    if not waiting or not len(keys):
        return []
    hits = pc.unique(keys.filter(pc.fill_null(pc.is_in(keys, value_set=pa.array(list(waiting))), False)))
    return [row_id for key in hits.to_pylist() for row_id in waiting.pop(key, [])]


def resolve(
    conn: sa.Connection,
    ids: Iterable[int],
    status: str,
    *,
    stage_id: str | None = None,
    ledger_seq: int | None = None,
) -> int:
    """Close open rows `ids` with `status`; returns how many were still open."""
    ids = list(ids)
    q = state.quarantine
    done = 0
    values = {"status": status, "resolved_stage_id": stage_id, "resolved_at": utc_now()}
    for start in range(0, len(ids), 900):
        done += conn.execute(
            sa.update(q)
            .where(q.c.id.in_(ids[start : start + 900]), q.c.status == OPEN)
            .values(**values, ledger_seq=ledger_seq)
        ).rowcount
    return done
