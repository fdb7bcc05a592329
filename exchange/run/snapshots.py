"""Each dataset's compacted snapshot: its current state, from which late subscribers load.

Why (ADR 0006): a subscriber activated after the dataset began must first receive the
dataset's current state, then its changes. Sources cannot all be read again (drop folders
archive their files, REST and fixed-width exports often carry only changes), so the bus
keeps, per dataset, the newest version of every key it has committed — every row, for a
dataset without key fields — as Parquet parts in the staging area under
`_snapshots/<dataset>/`, and its manifest in `dataset_snapshots`.

What a caller must know:

* The commit step folds each stage into the snapshot *before* it marks the stage
  committed and deletes its segments (`fold`), and stores the new manifest in the same
  transaction as the committed cursor (`store`): a crash in between leaves only
  unreferenced part files, removed by the next fold (`collect_garbage`). So a committed
  stage is always in the snapshot, also when the dataset had no subscriber yet.
* Folding reads only key columns: a stage's segments become parts as they are (a hard
  link, or a copy on object storage); an older part none of whose keys changed is kept
  as it is, one with changed keys is rewritten without them.
* Parts keep the stage's columns as staged (the audit pseudonym of each subject
  included) and the fingerprint of the schema they were staged under, so a load reads
  them as the current schema (`schemas.resolve_staged`), like staged segments.
* The snapshot holds personal data at rest, as staged segments do until commit; it is
  where an initial load or a backfill reads from, never shown or exported otherwise.
* A dataset that committed stages before snapshots existed has an incomplete snapshot
  (`complete` false): its earlier rows reach a late subscriber only after a cursor reset.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

import schemas
from exchange import state
from govbus.instants import utc_now

if TYPE_CHECKING:
    from exchange.catalog import Dataset
    from exchange.run.staging import StagingArea

__all__ = [
    "Snapshot",
    "SnapshotPart",
    "StageToFold",
    "collect_garbage",
    "current",
    "fold",
    "read_parts",
    "store",
]

FOLDER = "_snapshots"
_SEPARATOR = "\x1f"  # joins the text of composite keys


@dataclass(frozen=True)
class SnapshotPart:
    """One Parquet part of a snapshot: its file name, rows and the schema it was staged under."""

    name: str
    rows: int
    fingerprint: str

    def to_json(self) -> dict[str, Any]:
        """The part as the manifest (and a pinned load) stores it."""
        return {"name": self.name, "rows": self.rows, "fingerprint": self.fingerprint}

    @classmethod
    def from_json(cls, item: Any) -> SnapshotPart:
        """A part as stored in a manifest or a pinned load."""
        return cls(str(item["name"]), int(item["rows"]), str(item["fingerprint"]))


@dataclass(frozen=True)
class Snapshot:
    """A dataset's snapshot as of its committed stage `seq` (0: nothing committed yet)."""

    dataset: str
    seq: int
    parts: tuple[SnapshotPart, ...]
    complete: bool

    @property
    def rows(self) -> int:
        """Rows in the snapshot: the dataset's current state as the bus last committed it."""
        return sum(p.rows for p in self.parts)

    def path(self, part: SnapshotPart) -> str:
        """The part's name within the staging area."""
        return part_path(self.dataset, part.name)


@dataclass(frozen=True)
class StageToFold:
    """A staged stage the commit step is about to commit: its seq, segments and schema."""

    stage_id: str
    seq: int
    segments: int
    fingerprint: str


def part_path(dataset: str, name: str) -> str:
    """Where a snapshot part of `dataset` lives within the staging area."""
    return f"{FOLDER}/{dataset}/{name}"


def last_committed_seq(conn: sa.Connection, dataset: str) -> int:
    """The seq of the dataset's newest committed stage; 0 when none is."""
    st = state.stages
    value = conn.execute(
        sa.select(sa.func.max(st.c.seq)).where(st.c.dataset == dataset, st.c.status == "committed")
    ).scalar()
    return int(value or 0)


def current(conn: sa.Connection, dataset: str) -> Snapshot:
    """The dataset's snapshot; an empty one before its first commit.

    With no manifest but committed stages (a database from before snapshots), the empty
    snapshot is marked incomplete and placed at the last committed seq.
    """
    snap = state.dataset_snapshots
    row = conn.execute(sa.select(snap).where(snap.c.dataset == dataset)).first()
    if row is not None:
        parts = tuple(SnapshotPart.from_json(p) for p in row.parts or [])
        return Snapshot(dataset, int(row.seq), parts, bool(row.complete))
    seq = last_committed_seq(conn, dataset)
    return Snapshot(dataset, seq, (), complete=seq == 0)


def read_parts(staging: StagingArea, snapshot: Snapshot, dataset: Dataset) -> Iterator[pa.Table]:
    """The snapshot's parts one by one, each read as the dataset's current schema.

    For measuring what a subscription would receive (`exchange.run.disclosure.assess`);
    an initial load reads its pinned parts itself (`exchange.run.initial_load`).
    """
    for part in snapshot.parts:
        table = staging.read_table(snapshot.path(part))
        yield schemas.resolve_staged(table, part.fingerprint, dataset.versions, dataset.schema)


def fold(
    staging: StagingArea,
    snapshot: Snapshot,
    stages: Sequence[StageToFold],
    key_fields: Sequence[str],
) -> Snapshot:
    """The snapshot with `stages` (in seq order) folded in; writes the new parts, deletes none.

    A key staged again replaces its older version: older parts lose the stage's keys, the
    stage's segments become new parts. Without key fields every row is kept.
    """
    parts = list(snapshot.parts)
    dataset = snapshot.dataset
    token = secrets.token_hex(3)
    for stage in stages:
        names = [f"{stage.stage_id}/seg-{i:05d}.parquet" for i in range(stage.segments)]
        if key_fields:
            keys = [_key_text(staging.read_table(n, columns=list(key_fields)), key_fields) for n in names]
            changed = pa.chunked_array(keys, type=pa.string()).combine_chunks()
            parts = [_without(staging, dataset, p, changed, key_fields, token, stage.seq) for p in parts]
            parts = [p for p in parts if p.rows]
            if pc.count_distinct(changed, mode="all").as_py() != len(changed):
                parts.extend(_written(staging, dataset, stage, names, key_fields, token))
                continue
        for index, name in enumerate(names):
            rows = staging.num_rows(name)
            if rows:
                # The segment as it is: linked (or copied), never decoded and written again.
                part = f"{stage.seq:06d}-{token}-{index:05d}.parquet"
                staging.keep_copy(name, part_path(dataset, part))
                parts.append(SnapshotPart(part, rows, stage.fingerprint))
    seq = stages[-1].seq if stages else snapshot.seq
    return Snapshot(dataset, seq, tuple(parts), snapshot.complete)


def store(conn: sa.Connection, snapshot: Snapshot) -> None:
    """Write the snapshot's manifest (in the commit step's transaction)."""
    snap = state.dataset_snapshots
    values = {
        "seq": snapshot.seq,
        "parts": [p.to_json() for p in snapshot.parts],
        "rows": snapshot.rows,
        "complete": snapshot.complete,
        "updated_at": utc_now(),
    }
    updated = conn.execute(
        sa.update(snap).where(snap.c.dataset == snapshot.dataset).values(**values)
    ).rowcount
    if not updated:
        conn.execute(sa.insert(snap).values(dataset=snapshot.dataset, **values))


def collect_garbage(staging: StagingArea, snapshot: Snapshot, pinned: Sequence[str] = ()) -> int:
    """Delete the dataset's part files that neither the snapshot nor a pinned load names.

    Called by the commit step (which holds the dataset's commit lock, so no fold runs
    at the same time) after the new manifest is stored. Returns how many were deleted.
    """
    keep = {p.name for p in snapshot.parts} | set(pinned)
    removed = 0
    for name in staging.names_in(f"{FOLDER}/{snapshot.dataset}"):
        if name not in keep:
            staging.remove(part_path(snapshot.dataset, name))
            removed += 1
    return removed


def _key_text(table: pa.Table, key_fields: Sequence[str]) -> pa.Array:
    """Each row's key as one text value (composite keys joined), for membership tests."""
    columns = [pc.cast(table[name], pa.string()).combine_chunks() for name in key_fields]
    if len(columns) == 1:
        return columns[0]
    return pc.binary_join_element_wise(*columns, _SEPARATOR)


def _written(
    staging: StagingArea,
    dataset: str,
    stage: StageToFold,
    names: list[str],
    key_fields: Sequence[str],
    token: str,
) -> list[SnapshotPart]:
    """A stage that read a key twice: each key's last version only, written as new parts."""
    segments = [staging.read_table(n) for n in names]
    keys = [_key_text(s, key_fields) for s in segments]
    parts: list[SnapshotPart] = []
    for index, segment in enumerate(segments):
        own = keys[index]
        positions = pa.table({"k": own, "i": pa.array(range(len(own)), pa.int64())})
        last = positions.group_by("k", use_threads=False).aggregate([("i", "max")])["i_max"]
        keep = pc.is_in(positions["i"], value_set=last.combine_chunks())
        later = keys[index + 1 :]
        if later:
            newer = pa.chunked_array(later, type=pa.string()).combine_chunks()
            keep = pc.and_(keep, pc.invert(pc.is_in(own, value_set=newer)))
        kept = segment.filter(keep)
        if kept.num_rows:
            name = f"{stage.seq:06d}-{token}-{index:05d}.parquet"
            staging.write_table(part_path(dataset, name), kept)
            parts.append(SnapshotPart(name, kept.num_rows, stage.fingerprint))
    return parts


def _without(
    staging: StagingArea,
    dataset: str,
    part: SnapshotPart,
    changed: pa.Array,
    key_fields: Sequence[str],
    token: str,
    seq: int,
) -> SnapshotPart:
    """The part without the rows whose key is in `changed`: itself when none is."""
    keys = _key_text(staging.read_table(part_path(dataset, part.name), columns=list(key_fields)), key_fields)
    stale = pc.is_in(keys, value_set=changed)
    if not pc.any(stale).as_py():
        return part
    table = staging.read_table(part_path(dataset, part.name)).filter(pc.invert(stale))
    name = f"{seq:06d}-{token}-r{secrets.token_hex(3)}.parquet"
    if table.num_rows:
        staging.write_table(part_path(dataset, name), table)
    return SnapshotPart(name, table.num_rows, part.fingerprint)
