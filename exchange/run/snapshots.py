"""Each dataset's compacted snapshot: its current state, from which late subscribers load.

Why (ADR 0006): a subscriber activated after the dataset began must first receive the
dataset's current state, then its changes. Sources cannot all be read again (drop folders
archive their files, REST and fixed-width exports often carry only changes), so the bus
keeps, per dataset, the newest version of every key it has committed — every row, for a
dataset without key fields — as parts in the staging area (Arrow IPC files, ADR 0009;
Parquet ones from before are read as they are) under
`_snapshots/<dataset>/`, and its manifest in `dataset_snapshots`.

What a caller must know:

* The commit step folds each stage into the snapshot *before* it marks the stage
  committed and deletes its segments (`fold`), and stores the new manifest in the same
  transaction as the committed cursor (`store`): a crash in between leaves only
  unreferenced part files, removed by the next fold (`collect_garbage`). So a committed
  stage is always in the snapshot, also when the dataset had no subscriber yet.
* Folding reads only key columns: a stage's segments become parts as they are (a hard
  link, or a copy on object storage); an older part none of whose keys changed is kept
  as it is, one with changed keys is rewritten without them (as is a segment holding a
  key the same stage read again later: its last version is kept).
* Memory: a fold holds one stage's keys as an exact set (`contracts.SeenKeys`), not its
  rows, and that set spills its full runs to disk behind Bloom filters, so the memory is
  bounded whatever the stage's size. Each segment's and each older part's key columns
  are read once per fold. (Folds used to run in partitions of 1 M keys by a hash of the
  key, reading every segment's keys again for each partition: 21 s for a stage of 10 M
  rows against 0.7 s for 1 M.)
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

import numpy as np
import pyarrow as pa
import sqlalchemy as sa

import schemas
from contracts import SeenKeys, encode_keys, first_of_each
from exchange import state
from exchange.run.staged_files import IPC_SUFFIX, suffix_of
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


@dataclass(frozen=True)
class SnapshotPart:
    """One part of a snapshot: its file name, rows and the schema it was staged under."""

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
    stage's segments become new parts (a key the stage itself read twice keeps its last
    version). Without key fields every row is kept.
    """
    parts = list(snapshot.parts)
    dataset = snapshot.dataset
    token = secrets.token_hex(3)
    for stage in stages:
        names = [staging.segment_name(stage.stage_id, i) for i in range(stage.segments)]
        rows = [staging.num_rows(n) for n in names]
        superseded: dict[int, np.ndarray] = {}  # segment -> rows a later row of the stage replaces
        if key_fields:
            stale: dict[str, np.ndarray] = {}  # part name -> rows whose key the stage holds
            with _stage_keys(staging, names, key_fields, superseded) as changed:
                for part in parts:
                    _mark_stale(staging, dataset, part, changed, key_fields, stale)
            parts = [_without(staging, dataset, p, stale.get(p.name), token, stage.seq) for p in parts]
            parts = [p for p in parts if p.rows]
        for index, name in enumerate(names):
            part = f"{stage.seq:06d}-{token}-{index:05d}"
            dropped = superseded.get(index)
            if dropped is not None and dropped.any():
                kept = staging.read_table(name).filter(pa.array(~dropped))
                if kept.num_rows:
                    part += IPC_SUFFIX
                    staging.write_table(part_path(dataset, part), kept)
                    parts.append(SnapshotPart(part, kept.num_rows, stage.fingerprint))
            elif rows[index]:
                # The segment as it is: linked (or copied), never decoded and written again
                # (so in its format: a `.parquet` one staged before ADR 0009 stays one).
                part += suffix_of(name)
                staging.keep_copy(name, part_path(dataset, part))
                parts.append(SnapshotPart(part, rows[index], stage.fingerprint))
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


def _stage_keys(
    staging: StagingArea,
    names: list[str],
    key_fields: Sequence[str],
    superseded: dict[int, np.ndarray],
) -> SeenKeys:
    """The stage's keys (an exact set, bounded in memory); rows of a key the stage read again
    later are marked in `superseded` (segment -> boolean rows): its last version is kept.

    Segments are read last first, each row's key checked against the later ones' — a set
    of 24 bytes or so per key, not the keys' rows nor a hash table of them.
    """
    later = SeenKeys()
    for index in reversed(range(len(names))):
        table = staging.read_table(names[index], columns=list(key_fields))
        if not table.num_rows:
            continue
        at = np.arange(table.num_rows)
        positions = pa.array(at[::-1])  # last row first: the first of equal keys is the newest
        keys = encode_keys([table[name].combine_chunks().take(positions) for name in key_fields])
        replaced = ~first_of_each(keys)
        replaced |= later.add(keys)
        if replaced.any():
            mask = superseded.setdefault(index, np.zeros(table.num_rows, dtype=bool))
            mask[at[::-1][replaced]] = True
    return later


def _mark_stale(
    staging: StagingArea,
    dataset: str,
    part: SnapshotPart,
    changed: SeenKeys,
    key_fields: Sequence[str],
    stale: dict[str, np.ndarray],
) -> None:
    """Note in `stale` the part's rows whose key is among `changed` (the stage's keys)."""
    table = staging.read_table(part_path(dataset, part.name), columns=list(key_fields))
    found = changed.contains(encode_keys([table[name].combine_chunks() for name in key_fields]))
    if found.any():
        stale[part.name] = found | stale[part.name] if part.name in stale else found


def _without(
    staging: StagingArea,
    dataset: str,
    part: SnapshotPart,
    stale: np.ndarray | None,
    token: str,
    seq: int,
) -> SnapshotPart:
    """The part without its `stale` rows: itself when there are none."""
    if stale is None or not stale.any():
        return part
    table = staging.read_table(part_path(dataset, part.name)).filter(pa.array(~stale))
    name = f"{seq:06d}-{token}-r{secrets.token_hex(3)}{IPC_SUFFIX}"
    if table.num_rows:
        staging.write_table(part_path(dataset, name), table)
    return SnapshotPart(name, table.num_rows, part.fingerprint)
