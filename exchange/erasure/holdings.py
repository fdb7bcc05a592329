"""The bus's own copies: erasure and retention reach the snapshot, staged segments and quarantine.

Purges tell recipients to delete what they received; this module deletes what the bus
itself still holds of a dataset (issue 17):

* **the snapshot** (`exchange.run.snapshots`, ADR 0006) — every part holding a removed
  row is rewritten without it, under the same name, by an atomic replace, so the
  snapshot's manifest and any pinned initial load read the new content;
* **staged segments** not yet committed — rewritten the same way (a segment already
  delivered to a subscriber is covered by that subscriber's purge);
* **quarantined rows** — deleted from `quarantine` (they hold the source record as read).

Two triggers: an erasure order (`erase_held`, called by `erase_subject`: the subject's
rows, matched by audit pseudonym where staged with one, else by the subject field in
memory) and retention (`enforce_retention`: rows whose cursor field is older than the
contract's `data_life`, quarantined rows that arrived before it). Each removal is a
`bus-copy.removed` ledger entry — dataset, which copy, rows, reason, and for an erasure
the subject's audit pseudonym — never the id or a value.

While it rewrites, it holds the delivery locks of the dataset's subscriptions, its
stage and commit locks and the ledger's: no delivery reads a part half-way, no fold or
stage runs meanwhile. A crash leaves either the old file or the new one under each name
(and maybe an orphaned temporary file, removed with its stage's folder at commit, or by
the snapshot's garbage collection).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

import audit
import contracts
from exchange import state
from exchange.run import snapshots
from exchange.run.columns import SUBJECT_REF_COLUMN
from exchange.run.staged_files import suffix_of
from govbus.instants import as_utc, utc_now

if TYPE_CHECKING:
    from exchange.bus import Bus
    from exchange.catalog import Dataset
    from exchange.run.staging import StagingArea

__all__ = ["REMOVED_ENTRY", "Removal", "enforce_retention", "erase_held"]

REMOVED_ENTRY = "bus-copy.removed"
SNAPSHOT, STAGED, QUARANTINE = "snapshot", "staged", "quarantine"
ERASURE, RETENTION = "erasure-order", "retention"
_TEMP = "_rewrite-"

Drop = Callable[[pa.Table], pa.Array]  # which rows of a staged table go


@dataclass(frozen=True)
class Removal:
    """Rows removed from one of the bus's copies of a dataset, and why (what the ledger says)."""

    dataset: str
    copy: str
    rows: int
    reason: str


@contextmanager
def _holding(bus: Bus, dataset: str) -> Iterator[None]:
    """The dataset's delivery locks (sorted), then its stage and commit locks (see module doc)."""
    with ExitStack() as stack:
        for sub in sorted(s.id for s in bus.catalog.subscriptions_for(dataset)):
            stack.enter_context(bus.locked(f"deliver:{sub}"))
        stack.enter_context(bus.locked(f"stage:{dataset}"))
        stack.enter_context(bus.locked(f"commit:{dataset}"))
        yield


def erase_held(bus: Bus, subject_id: str, *, dataset: str | None = None) -> list[Removal]:
    """Remove the subject's rows from the bus's copies of every dataset (or one); see module doc."""
    ref = bus.register.subject_ref(subject_id)
    raw_ref = pa.scalar(bytes.fromhex(ref), audit.RAW_REF_TYPE)
    removals: list[Removal] = []
    for known in sorted(bus.catalog.datasets.values(), key=lambda d: d.id):
        if dataset is not None and known.id != dataset:
            continue
        field = known.contract.subject_field

        def drop(table: pa.Table, field: str = field) -> pa.Array:
            if SUBJECT_REF_COLUMN in table.column_names:
                # raw, whatever the file holds: the staging area reads it so (ADR 0008)
                return pc.fill_null(pc.equal(table[SUBJECT_REF_COLUMN], raw_ref), False)
            return pc.fill_null(pc.equal(pc.cast(table[field], pa.string()), subject_id), False)

        def quarantined(record: dict, field: str = field) -> bool:
            return str(record.get(field)) == subject_id

        extra = {"subject_ref": ref}
        removals.extend(_remove(bus, known, drop, quarantined, None, ERASURE, extra))
    return removals


def enforce_retention(bus: Bus, *, now: datetime | None = None) -> list[Removal]:
    """Remove rows older than each dataset's `data_life` from the bus's copies; see module doc."""
    removals: list[Removal] = []
    now = as_utc(now) if now is not None else utc_now()
    for known in sorted(bus.catalog.datasets.values(), key=lambda d: d.id):
        life = known.contract.data_life
        if life is None:
            continue
        cutoff = now - contracts.parse_data_life(life)
        cursor = known.contract.cursor_field
        drop = _older_than(cursor, cutoff) if cursor else None
        extra = {"data_life": life, "cutoff": cutoff.isoformat()}
        removals.extend(_remove(bus, known, drop, None, cutoff, RETENTION, extra))
    return removals


def _older_than(cursor: str, cutoff: datetime) -> Drop:
    """Rows whose cursor field (a timestamp or a date) lies before `cutoff`."""

    def drop(table: pa.Table) -> pa.Array:
        if cursor not in table.column_names:
            return pa.array([False] * table.num_rows)
        column = table[cursor]
        if pa.types.is_timestamp(column.type):
            bound = pa.scalar(cutoff).cast(pa.timestamp("us", "UTC"))
            column = (
                pc.cast(column, pa.timestamp("us", "UTC"))
                if column.type.tz
                else pc.assume_timezone(pc.cast(column, pa.timestamp("us")), "UTC")
            )
        elif pa.types.is_date(column.type):
            bound = pa.scalar(cutoff.date())
        else:
            return pa.array([False] * table.num_rows)
        return pc.fill_null(pc.less(column, bound), False)

    return drop


def _remove(
    bus: Bus,
    dataset: Dataset,
    drop: Drop | None,
    quarantined: Callable[[dict], bool] | None,
    arrived_before: datetime | None,
    reason: str,
    extra: dict[str, str],
) -> list[Removal]:
    """Rewrite the dataset's snapshot parts and staged segments without the dropped rows, delete
    its quarantined rows that match; one ledger entry per copy that lost rows."""
    counts = {SNAPSHOT: 0, STAGED: 0, QUARANTINE: 0}
    with _holding(bus, dataset.id):
        if drop is not None:
            counts[SNAPSHOT], counts[STAGED] = _rewrite_files(bus, dataset.id, drop)
        with bus.locked("ledger"), bus.engine.begin() as conn:
            counts[QUARANTINE] = _delete_quarantined(conn, dataset.id, quarantined, arrived_before)
            removals = [Removal(dataset.id, copy, rows, reason) for copy, rows in counts.items() if rows]
            for removal in removals:
                payload = {"dataset": removal.dataset, "copy": removal.copy, "rows": removal.rows}
                bus.ledger.append(conn, REMOVED_ENTRY, {**payload, "reason": reason, **extra})
    return removals


def _rewrite_files(bus: Bus, dataset: str, drop: Drop) -> tuple[int, int]:
    """Rows removed from the snapshot's parts and from uncommitted staged segments."""
    staging = bus.staging
    removed_snapshot = 0
    with bus.engine.connect() as conn:
        snap = snapshots.current(conn, dataset)
        staged = conn.execute(
            sa.select(state.stages.c.stage_id, state.stages.c.segments).where(
                state.stages.c.dataset == dataset, state.stages.c.status == "staged"
            )
        ).all()
    parts = []
    for part in snap.parts:
        gone = _rewrite(staging, snap.path(part), drop)
        removed_snapshot += gone
        parts.append(snapshots.SnapshotPart(part.name, part.rows - gone, part.fingerprint))
    if removed_snapshot:
        with bus.engine.begin() as conn:
            snapshots.store(conn, snapshots.Snapshot(dataset, snap.seq, tuple(parts), snap.complete))
    removed_staged = 0
    rewritten = []
    for row in staged:
        for segment in range(row.segments):
            gone = _rewrite(staging, staging.segment_name(row.stage_id, segment), drop)
            if gone:
                removed_staged += gone
                rewritten.append((row.stage_id, segment))
    if rewritten:
        # Its rows moved: the segment's subject set no longer describes it (ADR 0007); the
        # deliveries already logged keep theirs, the next one builds a set of its own.
        with bus.engine.begin() as conn:
            for stage_id, segment in rewritten:
                audit.retire_subject_set(conn, stage_id, segment)
    return removed_snapshot, removed_staged


def _rewrite(staging: StagingArea, name: str, drop: Drop) -> int:
    """Replace the staged file `name` by itself without the dropped rows (in its format); how many went."""
    table = staging.read_table(name)
    gone = pc.sum(pc.cast(drop(table), pa.int64())).as_py() or 0
    if gone:
        folder = name.rsplit("/", 1)[0]
        temporary = f"{folder}/{_TEMP}{secrets.token_hex(4)}{suffix_of(name)}"
        staging.write_table(temporary, table.filter(pc.invert(drop(table))))
        staging.replace(temporary, name)
    return int(gone)


def _delete_quarantined(
    conn: sa.Connection,
    dataset: str,
    matches: Callable[[dict], bool] | None,
    arrived_before: datetime | None,
) -> int:
    """Delete the dataset's quarantined rows that match (erasure) or arrived before (retention)."""
    q = state.quarantine
    ids: list[int] = []
    if arrived_before is not None:
        query = sa.select(q.c.id).where(q.c.dataset == dataset, q.c.created_at < arrived_before)
        ids = list(conn.execute(query).scalars())
    elif matches is not None:  # off the hot path: quarantine holds the few rows that broke a contract
        rows = conn.execute(sa.select(q.c.id, q.c.record).where(q.c.dataset == dataset))
        ids = [row.id for row in rows if isinstance(row.record, dict) and matches(row.record)]
    for start in range(0, len(ids), 500):
        conn.execute(sa.delete(q).where(q.c.id.in_(ids[start : start + 500])))
    return len(ids)
