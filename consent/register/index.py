"""Active consents prepared once for many batches: subject refs → consent ids, vectorized.

`pc.index_in` rebuilds a hash table of the value set on every call; with 100 k consents
and a delivery of twenty 50 k-row segments that is most of the time `decide` takes.
`ConsentIndex` builds an open-addressing hash table once (numpy arrays, linear probing,
vectorized in rounds) and answers each batch with a few vectorized probes:

* A subject ref is 64 hex digits (HMAC-SHA256). Its first 16 digits, as a uint64, are the
  key (uniformly random, so its low bits are the slot); every hit is then confirmed on
  the *full* ref, so a 64-bit prefix collision can only make a row be denied, never
  wrongly allowed.
* Where a subject has several consents in force, the first in the table's order wins
  (the timeline orders them oldest first), as `index_in` would.
* Refs that are not all 64-character strings (hand-written tests, say) fall back to
  `index_in`, with the same answers.
* A batch's refs may come in the raw form (32 bytes each, as staged:
  `audit.pseudonym_forms`): their first 8 bytes are the same key, and each hit is
  confirmed against the index's refs converted once to that form.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

import audit
from govbus.arrow_arrays import one_array

_LUT = np.full(256, 255, np.uint8)
_LUT[ord("0") : ord("9") + 1] = np.arange(10)
_LUT[ord("a") : ord("f") + 1] = np.arange(10, 16)
_REF_LEN = 64
_PAD = "-" * _REF_LEN  # never hex: a null ref never matches


def hex_keys(refs: pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
    """(uint64 of the first 16 hex digits, valid mask) of 64-char refs; None otherwise."""
    n = len(refs)
    filled = refs.cast(pa.string())
    if filled.null_count:
        filled = pc.fill_null(filled, _PAD)
    if n == 0:
        return np.zeros(0, np.uint64), np.zeros(0, bool)
    lengths = pc.min_max(pc.binary_length(filled))
    if lengths["min"].as_py() != _REF_LEN or lengths["max"].as_py() != _REF_LEN:
        return None
    _, offsets_buf, data_buf = filled.buffers()
    first = int(np.frombuffer(offsets_buf, np.int32, count=1, offset=4 * filled.offset)[0])
    chars = np.frombuffer(data_buf, np.uint8, count=_REF_LEN * n, offset=first)
    nibbles = _LUT[chars.reshape(n, _REF_LEN)[:, :16]]
    valid = (nibbles != 255).all(axis=1)
    packed = np.ascontiguousarray((nibbles[:, 0::2] << 4) | (nibbles[:, 1::2] & 0x0F))
    return packed.view(">u8").ravel().astype(np.uint64), valid


def _build(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Slots (keys) and owners (row, -1 empty) of a linear-probing table, load <= 1/2.

    Rows are inserted in rounds; where several want one slot the lowest row wins, so for
    equal keys the first row sits earlier on the probe path and is the one found.
    """
    size = 1 << max(4, (2 * len(keys)).bit_length())
    mask = np.uint64(size - 1)
    slots, owners = np.zeros(size, np.uint64), np.full(size, -1, np.int64)
    pending = np.arange(len(keys), dtype=np.int64)
    step = np.uint64(0)
    while len(pending):
        wanted = ((keys[pending] + step) & mask).astype(np.int64)
        free = owners[wanted] < 0
        candidates, targets = pending[free], wanted[free]
        _, first = np.unique(targets, return_index=True)  # lowest row per slot (rows ascend)
        owners[targets[first]] = candidates[first]
        slots[targets[first]] = keys[candidates[first]]
        placed = np.zeros(len(pending), bool)
        placed[np.flatnonzero(free)[first]] = True
        pending = pending[~placed]
        step += np.uint64(1)
    return slots, owners


def _probe(slots: np.ndarray, owners: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Row of each key in the table (-1 if absent), probing all keys in lockstep."""
    mask = np.uint64(len(slots) - 1)
    found = np.full(len(keys), -1, np.int64)
    pending = np.arange(len(keys), dtype=np.int64)
    step = np.uint64(0)
    while len(pending):
        at = ((keys[pending] + step) & mask).astype(np.int64)
        owner = owners[at]
        hit = (owner >= 0) & (slots[at] == keys[pending])
        found[pending[hit]] = owner[hit]
        pending = pending[(owner >= 0) & ~hit]  # occupied by another key: probe on
        step += np.uint64(1)
    return found


class ConsentIndex:
    """The (subject_ref, consent_id) table of `ConsentRegister.active`, ready for lookups."""

    def __init__(self, consents: pa.Table) -> None:
        self.refs = one_array(consents.column("subject_ref")).cast(pa.string())
        self.ids = one_array(consents.column("consent_id")).cast(pa.string())
        self._table: tuple[np.ndarray, np.ndarray] | None = None
        self._raw: pa.Array | None = None  # self.refs as raw bytes, made on first raw lookup
        found = hex_keys(self.refs)
        if found is not None and len(self.refs):
            keys, valid = found
            rows = np.flatnonzero(valid)  # a malformed ref can never be looked up
            slots, owners = _build(keys[rows])
            self._table = (slots, np.where(owners >= 0, rows[np.maximum(owners, 0)], -1))

    def __len__(self) -> int:
        return len(self.refs)

    def positions(self, refs: pa.Array | pa.ChunkedArray) -> pa.Array:
        """For each ref (either form), the row of its consent in this index (int64), null if none."""
        refs = one_array(refs)
        if refs.type == audit.RAW_REF_TYPE:
            return self._raw_positions(refs)
        refs = refs.cast(pa.string())
        found = hex_keys(refs) if self._table is not None else None
        if found is None or self._table is None:
            return pc.index_in(refs, value_set=self.refs).cast(pa.int64())
        keys, valid = found
        return self._confirmed(refs, self.refs, keys, valid)

    def _raw_positions(self, refs: pa.Array) -> pa.Array:
        if self._raw is None:
            self._raw = audit.refs_as_raw(self.refs, strict=False)  # a malformed ref: null, never found
        if self._table is None:
            return pc.index_in(refs, value_set=self._raw, skip_nulls=True).cast(pa.int64())
        valid = np.asarray(refs.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        data = refs.buffers()[1]
        keys = np.zeros(len(refs), np.uint64)
        if data is not None and len(refs):
            width = refs.type.byte_width
            rows = np.frombuffer(data, np.uint8, len(refs) * width, refs.offset * width)
            keys = np.ascontiguousarray(rows.reshape(len(refs), width)[:, :8]).view(">u8").ravel()
            keys = keys.astype(np.uint64)
        return self._confirmed(refs, self._raw, keys, valid)

    def _confirmed(self, refs: pa.Array, own: pa.Array, keys: np.ndarray, valid: np.ndarray) -> pa.Array:
        assert self._table is not None
        candidate = _probe(*self._table, keys)
        rows = np.flatnonzero(valid & (candidate >= 0))
        # Confirm each hit on the full ref: a prefix collision becomes a miss, never a match.
        same = pc.equal(refs.take(pa.array(rows)), own.take(pa.array(candidate[rows])))
        keep = np.asarray(pc.fill_null(same, False).to_numpy(zero_copy_only=False), dtype=bool)
        positions = np.full(len(refs), -1, np.int64)
        positions[rows[keep]] = candidate[rows[keep]]
        return pa.array(positions, mask=positions < 0)
