"""The access index: which deliveries carried which subject, by audit pseudonym only.

Why this shape. The index answers "who received person X's data" (`govbus audit subject`,
the portal's subject search, purges). A row per (subject, delivery) keyed by the subject
is the obvious layout, but audit pseudonyms are random, so every delivered batch then
inserts its 100,000 keys all over a B-tree that grows by a row per subject and batch:
the delivery ends up spending more on the index than on its own data.

So a delivery writes its subjects grouped: one row per (bucket, ledger entry), where the
bucket is the first `BUCKET_BITS` bits of the subject's key and `refs` holds the keys of
that delivery's subjects in that bucket, 32 bytes each, back to back. A batch then adds
at most 2**BUCKET_BITS rows, about 10x cheaper than per-subject rows (bench/audit_bench.py).
On SQLite the table is a rowid table (migration 0006), so those rows of a few KiB are
appended at the end and only the small (bucket, ledger_seq) key is slotted into the
primary-key index; a clustered layout slowed down as the table grew. A lookup reads one
bucket: a row per delivery that had any subject in it.

What a caller must know:

* A subject's key is its audit pseudonym (HMAC-SHA256 under the audit key) as its 32
  raw bytes rather than 64 hex digits: `subject_key(ref)`. The raw id is never stored.
* Each (subject, delivery) pair is listed once: refs are made distinct before writing.
* `group` the delivered refs (no database needed), then `write` them in the delivery's
  own transaction, so the index always agrees with the ledger entry it points to.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from audit import tables as state
from audit.pseudonym_forms import KEY_BYTES, raw_matrix

TABLE = state.access_index.name
BUCKET_BITS = 10


def subject_key(ref: str) -> bytes:
    """The index key of one audit pseudonym (its raw bytes)."""
    return bytes.fromhex(ref)


def bucket_of(key: bytes) -> int:
    """The bucket a subject key is filed under (its first BUCKET_BITS bits)."""
    return int.from_bytes(key[:2], "big") >> (16 - BUCKET_BITS)


def _keys(refs: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Distinct non-null refs as an (n, 32) uint8 array, decoded from hex without a row loop."""
    values = refs.combine_chunks() if isinstance(refs, pa.ChunkedArray) else refs
    return raw_matrix(pc.drop_null(pc.unique(values)))


def group(refs: pa.Array | pa.ChunkedArray) -> list[tuple[int, bytes]]:
    """A delivery's distinct subjects as (bucket, their keys back to back), with no row loop.

    Independent of the ledger entry, so it can be computed while the sink writes.
    """
    keys = _keys(refs)
    if not len(keys):
        return []
    buckets = (keys[:, 0].astype(np.int64) << 8 | keys[:, 1]) >> (16 - BUCKET_BITS)
    order = np.argsort(buckets, kind="stable")
    buckets = buckets[order]
    data = keys[order].tobytes()
    starts = np.flatnonzero(np.r_[True, buckets[1:] != buckets[:-1]])
    ends = np.r_[starts[1:], len(buckets)]
    return [
        (int(buckets[lo]), data[lo * KEY_BYTES : hi * KEY_BYTES])
        for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True)
    ]


class SubjectGroups:
    """A batch's refs decoded once, so every subset of its rows groups without decoding again.

    Why: one staged segment feeds several subscriptions, each delivering a different subset
    of its rows (decisions, suppression). `group(refs.take(rows))` would find the distinct
    refs and decode their hex once per subscription; this does it once per segment.
    `of(rows)` returns exactly what `group` returns for those rows (same buckets, same
    key order within a bucket: first occurrence among the rows), tested against it.
    """

    def __init__(self, refs: pa.Array | pa.ChunkedArray) -> None:
        values = refs.combine_chunks() if isinstance(refs, pa.ChunkedArray) else refs
        # Decode every ref (the staged raw form needs none), then find the distinct ones
        # among 32-byte keys: hashing the raw keys costs half of hashing their hex digits.
        valid = None
        if values.null_count:
            valid = np.flatnonzero(values.is_valid().to_numpy(zero_copy_only=False))
        raw = raw_matrix(values if valid is None else values.take(pa.array(valid)))
        fixed = pa.Array.from_buffers(pa.binary(KEY_BYTES), len(raw), [None, pa.py_buffer(raw)])
        encoded = pc.dictionary_encode(fixed)
        distinct = encoded.dictionary
        size, start = len(distinct) * KEY_BYTES, distinct.offset * KEY_BYTES
        keys = np.frombuffer(distinct.buffers()[1], np.uint8, size, start)
        self._keys = keys.reshape(len(distinct), KEY_BYTES)  # distinct refs, first-occurrence order
        # One 32-byte item per key: gathering these is a third of the cost of gathering rows.
        self._items = self._keys.view(np.dtype((np.void, KEY_BYTES))).ravel()
        self._buckets = (self._keys[:, 0].astype(np.int64) << 8 | self._keys[:, 1]) >> (16 - BUCKET_BITS)
        self._buckets16 = self._buckets.astype(np.uint16)  # BUCKET_BITS <= 16
        # Row -> index of its ref among the distinct ones; -1 for a null ref.
        ids = encoded.indices.to_numpy().astype(np.int64)
        if valid is None:
            self._ids = ids
        else:
            self._ids = np.full(len(values), -1, np.int64)
            self._ids[valid] = ids
        self.rows = len(values)

    def of(self, rows: np.ndarray | None = None) -> list[tuple[int, bytes]]:
        """`group` of the refs at `rows` (positions, ascending; None: every row)."""
        ids = self._ids if rows is None else self._ids[rows]
        ids = ids[ids >= 0]
        if not len(ids):
            return []
        # Each distinct ref's first position among `rows`; the refs in first-seen order.
        first = np.full(len(self._keys), len(ids), np.int64)
        np.minimum.at(first, ids, np.arange(len(ids), dtype=np.int64))
        distinct = ids[first[ids] == np.arange(len(ids))]
        # By bucket, keeping that order (`group`'s stable sort): buckets fit in 16 bits, which
        # NumPy's stable sort orders by radix, in linear time.
        distinct = distinct[np.argsort(self._buckets16[distinct], kind="stable")]
        buckets = self._buckets[distinct]
        data = self._items[distinct].tobytes()
        starts = np.flatnonzero(np.r_[True, buckets[1:] != buckets[:-1]])
        ends = np.r_[starts[1:], len(buckets)]
        return [
            (int(buckets[lo]), data[lo * KEY_BYTES : hi * KEY_BYTES])
            for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True)
        ]

    def as_set(self) -> tuple[np.ndarray, list[tuple[int, int, bytes]]]:
        """The piece's distinct subjects as a subject set (`audit.subject_sets`).

        Returns, for every row, the index of its subject in the set (int32; -1 for a null
        ref), and the set's buckets as (bucket, index of its first key, keys back to back).
        The set's order is `of(None)`'s: by bucket, then by first occurrence in the rows.
        """
        order = np.argsort(self._buckets16, kind="stable")  # distinct ids in set order
        rank = np.empty(len(order), np.int32)
        rank[order] = np.arange(len(order), dtype=np.int32)
        row_subjects = np.where(self._ids >= 0, rank[np.maximum(self._ids, 0)], -1).astype(np.int32)
        buckets = self._buckets[order]
        data = self._items[order].tobytes()
        starts = (
            np.flatnonzero(np.r_[True, buckets[1:] != buckets[:-1]]) if len(order) else np.empty(0, np.int64)
        )
        ends = np.r_[starts[1:], len(buckets)]
        groups = [
            (int(buckets[lo]), lo, data[lo * KEY_BYTES : hi * KEY_BYTES])
            for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True)
        ]
        return row_subjects, groups


def index_rows(groups: list[tuple[int, bytes]], seq: int) -> list[dict[str, object]]:
    """The table rows of grouped subjects delivered by ledger entry `seq`."""
    return [{"bucket": bucket, "ledger_seq": seq, "refs": refs} for bucket, refs in groups]


def write(conn: sa.Connection, groups: list[tuple[int, bytes]], seq: int) -> int:
    """Record that ledger entry `seq` delivered these subjects; returns how many distinct ones.

    The layout before migration 0011: deliveries now write `audit.subject_sets`; this stays
    for the lookups and audits of the rows written before, and the tests that make them.
    """
    if groups:
        conn.execute(sa.insert(state.access_index), index_rows(groups, seq))
    return sum(len(refs) for _, refs in groups) // KEY_BYTES


def _holds(refs: bytes, key: bytes) -> bool:
    at = refs.find(key)
    while at != -1:
        if at % KEY_BYTES == 0:
            return True
        at = refs.find(key, at + 1)
    return False


def seqs_of(conn: sa.Connection, ref: str) -> list[int]:
    """The ledger entries (seqs, ascending) of every delivery that carried this subject."""
    key = subject_key(ref)
    index = state.access_index
    rows = conn.execute(sa.select(index.c.ledger_seq, index.c.refs).where(index.c.bucket == bucket_of(key)))
    return sorted(seq for seq, refs in rows if _holds(bytes(refs), key))


def entries(conn: sa.Connection) -> Iterator[tuple[str, int]]:
    """Every (subject key as hex, ledger seq) pair in the index, for audits and tests."""
    index = state.access_index
    for seq, refs in conn.execute(sa.select(index.c.ledger_seq, index.c.refs)):
        data = bytes(refs)
        for at in range(0, len(data), KEY_BYTES):
            yield data[at : at + KEY_BYTES].hex(), seq
