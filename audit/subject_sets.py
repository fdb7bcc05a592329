"""The access index by shared subject sets: each staged segment's subjects once, each
delivery as a bitmap over them (ADR 0007).

Why. The access index answers "who received person X's data". Written per delivery
(`audit.access_index`), it holds the 32-byte keys of every subject a delivery carried:
about 32 MB per 1,000,000 rows, written again for every subscription of the same segment,
and the largest part of what the audit trail cost a delivery (bench/audit_bench.py). Here
the stage writes a segment's subjects once (`write_set`), grouped by bucket as before, and
each delivery writes one row: which of those subjects it carried, one bit each
(`write_delivery`, 12.5 KB per 100,000 subjects).

What a caller must know:

* A set is immutable. `SubjectSet.rows` is the row count it was built from: a delivery
  uses a segment's set only for the same rows (`current`), and erasure, which rewrites a
  staged segment without some rows, retires the segment's set (`retire`); the
  deliveries that drew from it keep pointing at it.
* A piece with no current set (an initial-load part, a segment staged before sets
  existed or rewritten since) gets a set of its own, written in its delivery's
  transaction (`SubjectSet` with no `set_id`).
* `deliveries_of(conn, ref)` reads both layouts: rows written per delivery before
  migration 0011 stay in `access_index` and are still found.
* Keys are audit pseudonyms as raw bytes (`access_index.subject_key`); no raw id is stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import sqlalchemy as sa

from audit import access_index
from audit import tables as state
from govbus.errors import FatalError

KEY_BYTES = access_index.KEY_BYTES


@dataclass(frozen=True)
class SubjectSet:
    """A piece's distinct subjects: per row its subject's index (-1: none), and by bucket.

    `set_id` is None for a set not yet written (`groups` then holds its bucket rows, to
    write); a set read back (`current`) has its id and no groups.
    """

    row_subjects: np.ndarray  # int32, one per row of the piece
    subjects: int
    set_id: int | None = None
    groups: tuple[tuple[int, int, bytes], ...] = ()  # (bucket, index of its first key, keys)

    @property
    def rows(self) -> int:
        """Rows of the piece the set was built from."""
        return len(self.row_subjects)

    def carried(self, rows: np.ndarray | None) -> np.ndarray:
        """Which of the set's subjects the piece's `rows` name (bool per subject; None: all rows)."""
        ids = self.row_subjects if rows is None else self.row_subjects[rows]
        mask = np.zeros(self.subjects, bool)
        mask[ids[ids >= 0]] = True
        return mask


def build(refs: pa.Array | pa.ChunkedArray) -> SubjectSet:
    """The subject set of a piece's rows from their audit pseudonyms (hex; null: no subject)."""
    row_subjects, groups = access_index.SubjectGroups(refs).as_set()
    subjects = sum(len(keys) for _, _, keys in groups) // KEY_BYTES
    return SubjectSet(row_subjects, subjects, groups=tuple(groups))


def write_set(
    conn: sa.Connection, subject_set: SubjectSet, *, stage_id: str | None = None, segment: int | None = None
) -> int:
    """Store a built set (as the current set of segment `stage_id`/`segment` when given); its id."""
    sets = state.subject_sets
    set_id = conn.execute(
        sa.insert(sets).values(
            stage_id=stage_id,
            segment=segment,
            row_count=subject_set.rows,
            subjects=subject_set.subjects,
            row_subjects=np.ascontiguousarray(subject_set.row_subjects, "<i4").tobytes(),
        )
    ).inserted_primary_key[0]
    if subject_set.groups:
        rows = [(bucket, set_id, first, keys) for bucket, first, keys in subject_set.groups]
        # SQLite: the driver's executemany from tuples (SQLAlchemy's per-row parameters cost 40 %).
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql(_SQLITE_BUCKETS, rows)
        else:
            names = ("bucket", "set_id", "first_index", "refs")
            conn.execute(
                sa.insert(state.subject_set_buckets), [dict(zip(names, row, strict=True)) for row in rows]
            )
    return int(set_id)


_SQLITE_BUCKETS = (
    f"INSERT INTO {state.subject_set_buckets.name} (bucket, set_id, first_index, refs) VALUES (?, ?, ?, ?)"
)


def current(conn: sa.Connection, stage_id: str, segment: int, rows: int) -> SubjectSet | None:
    """The segment's current set if it was built from `rows` rows, else None."""
    sets = state.subject_sets
    found = conn.execute(
        sa.select(sets.c.set_id, sets.c.row_count, sets.c.subjects, sets.c.row_subjects)
        .where(sets.c.stage_id == stage_id, sets.c.segment == segment)
        .order_by(sets.c.set_id.desc())
        .limit(1)
    ).first()
    if found is None or found.row_count != rows:
        return None
    row_subjects = np.frombuffer(bytes(found.row_subjects), "<i4")
    if len(row_subjects) != rows:
        raise FatalError(
            "a subject set does not match its row count",
            where=f"subject set {found.set_id}",
            hint="the state database is damaged: restore it from a backup",
        )
    return SubjectSet(row_subjects, int(found.subjects), int(found.set_id))


def retire(conn: sa.Connection, stage_id: str, segment: int) -> None:
    """The segment was rewritten: its set is no longer its current one (deliveries keep it)."""
    sets = state.subject_sets
    conn.execute(
        sa.update(sets)
        .where(sets.c.stage_id == stage_id, sets.c.segment == segment)
        .values(stage_id=None, segment=None)
    )


def forget_stage(conn: sa.Connection, stage_id: str) -> None:
    """Delete a discarded stage's sets (a stage never staged has no delivery drawing from them)."""
    sets, buckets = state.subject_sets, state.subject_set_buckets
    ids = sa.select(sets.c.set_id).where(sets.c.stage_id == stage_id).scalar_subquery()
    conn.execute(sa.delete(buckets).where(buckets.c.set_id.in_(ids)))
    conn.execute(sa.delete(sets).where(sets.c.stage_id == stage_id))


def write_delivery(conn: sa.Connection, seq: int, set_id: int, carried: np.ndarray) -> int:
    """Record that ledger entry `seq` carried the `carried` subjects of set `set_id`; how many."""
    count = int(carried.sum())
    if count:
        bits = np.packbits(carried, bitorder="little").tobytes()
        conn.execute(
            sa.insert(state.access_deliveries).values(
                ledger_seq=seq, set_id=set_id, subjects=count, bits=bits
            )
        )
    return count


def deliveries_of(conn: sa.Connection, ref: str) -> list[int]:
    """The ledger entries (seqs, ascending) of every delivery that carried this subject."""
    key = access_index.subject_key(ref)
    buckets, deliveries = state.subject_set_buckets, state.access_deliveries
    found: dict[int, int] = {}  # set id -> the subject's index in it
    rows = conn.execute(
        sa.select(buckets.c.set_id, buckets.c.first_index, buckets.c.refs).where(
            buckets.c.bucket == access_index.bucket_of(key)
        )
    )
    for set_id, first, refs in rows:
        at = _position(bytes(refs), key)
        if at is not None:
            found[int(set_id)] = int(first) + at
    seqs = set(access_index.seqs_of(conn, ref))
    if found:
        carried = conn.execute(
            sa.select(deliveries.c.ledger_seq, deliveries.c.set_id, deliveries.c.bits).where(
                deliveries.c.set_id.in_(list(found))
            )
        )
        for seq, set_id, bits in carried:
            index = found[int(set_id)]
            data = bytes(bits)
            if index >> 3 < len(data) and data[index >> 3] >> (index & 7) & 1:
                seqs.add(int(seq))
    return sorted(seqs)


def _position(refs: bytes, key: bytes) -> int | None:
    """The index of `key` among the 32-byte keys back to back in `refs`, or None."""
    at = refs.find(key)
    while at != -1:
        if at % KEY_BYTES == 0:
            return at // KEY_BYTES
        at = refs.find(key, at + 1)
    return None


def entries(conn: sa.Connection) -> Iterator[tuple[str, int]]:
    """Every (subject key as hex, ledger seq) pair in both layouts, for audits and tests."""
    yield from access_index.entries(conn)
    buckets, deliveries = state.subject_set_buckets, state.access_deliveries
    keys: dict[int, list[str]] = {}
    for seq, set_id, bits in conn.execute(
        sa.select(deliveries.c.ledger_seq, deliveries.c.set_id, deliveries.c.bits).order_by(
            deliveries.c.ledger_seq
        )
    ):
        if set_id not in keys:
            ordered: list[str] = []
            for _, refs in conn.execute(
                sa.select(buckets.c.first_index, buckets.c.refs)
                .where(buckets.c.set_id == set_id)
                .order_by(buckets.c.first_index)
            ):
                data = bytes(refs)
                ordered.extend(data[at : at + KEY_BYTES].hex() for at in range(0, len(data), KEY_BYTES))
            keys[set_id] = ordered
        mask = np.unpackbits(np.frombuffer(bytes(bits), np.uint8), bitorder="little")
        for index in np.flatnonzero(mask[: len(keys[set_id])]).tolist():
            yield keys[set_id][index], int(seq)
