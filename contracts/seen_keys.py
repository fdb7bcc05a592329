"""An exact set of keys for "read twice in one stage" checks, and the keys' byte encoding.

Each key is encoded once as bytes (a netstring per column, so no two keys share an
encoding) and kept in fixed-width NumPy arrays sorted by a 64-bit hash; membership is a
binary search confirmed on the bytes, adding a batch is one merge — no Python per row.
Used by `contracts.stage_validation` (uniqueness across a stage's batches) and by the
snapshot fold (`exchange.run.snapshots`).

Memory is bounded, not proportional to the keys: the set keeps one sorted run of at
most `MEMORY_BYTES` in memory and writes each full run to an unnamed temporary file
(`contracts.key_runs.SpilledRun`), keeping only a Bloom filter of it (1.25 bytes a key).
A stage of 10 M keys holds about 12 MiB of filters and one capped run instead of 240 MiB
of keys and as much again while merging a batch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.types as pt

from contracts.key_runs import SpilledRun, found_at

__all__ = ["MEMORY_BYTES", "SeenKeys", "encode_keys", "first_of_each", "key_hashes"]

# The in-memory run's cap (hashes + keys): about 1 M keys of 16 bytes. Adding a batch
# briefly needs as much again (the merge), so the set's peak is about twice this.
MEMORY_BYTES = 24 * 2**20


class SeenKeys:
    """An exact set of encoded keys (`encode_keys`), in bounded memory.

    Runs of two aligned arrays sorted by a 64-bit hash of each key: the hashes (binary
    search on integers is fast) and the keys themselves (NUL-padded to a multiple of 8
    bytes), which confirm every hash hit, so a hash collision never makes two keys equal.
    Adding a batch is one sort of its hashes and one merge into the in-memory run; a run
    that reaches `memory_bytes` is spilled to a temporary file in `folder` (None: the
    system's, `TMPDIR`), behind a Bloom filter that only ever sends a look-up to disk,
    never answers one. `close()` (or the set's collection) frees the files; they have no
    name in the folder, so even a killed process leaves nothing there.
    """

    def __init__(self, *, memory_bytes: int = MEMORY_BYTES, folder: str | Path | None = None) -> None:
        self._hashes = np.empty(0, dtype=np.uint64)
        self._keys = np.empty(0, dtype="S8")
        self._memory_bytes = memory_bytes
        self._folder = folder
        self._runs: list[SpilledRun] = []
        self._spilled = 0
        self._closed = False

    def __len__(self) -> int:
        return self._spilled + len(self._hashes)

    def __enter__(self) -> SeenKeys:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def spilled_runs(self) -> int:
        """How many runs went to disk (for tests and measurements)."""
        return len(self._runs)

    @property
    def memory_bytes(self) -> int:
        """What the set holds in memory now: the in-memory run and the spilled runs' filters."""
        return self._hashes.nbytes + self._keys.nbytes + sum(r.filter_bytes for r in self._runs)

    def close(self) -> None:
        """Free the spilled runs' files and the memory; the set takes no keys after this
        (`len` still says how many it held)."""
        for run in self._runs:
            run.close()
        self._runs = []
        self._hashes, self._keys = np.empty(0, dtype=np.uint64), np.empty(0, dtype="S8")
        self._closed = True

    def _fit(self, keys: np.ndarray) -> np.ndarray:
        """`keys` and the in-memory run at one width, a multiple of 8 (NUL-padded; encodings
        are prefix-free, so padding never makes two keys equal)."""
        if self._closed:
            raise ValueError("the key set is closed")
        width = -(-max(self._keys.dtype.itemsize, keys.dtype.itemsize) // 8) * 8
        if self._keys.dtype.itemsize < width:
            self._keys = self._keys.astype(f"S{width}")
        return np.ascontiguousarray(keys.astype(f"S{width}", copy=False))

    def _held(self, keys: np.ndarray, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Which of `keys` (sorted by `hashes`) any run holds, and each one's insertion point
        in the in-memory run."""
        found, at = found_at(self._hashes, self._keys, hashes, keys)
        for run in self._runs:
            rest = np.flatnonzero(~found)
            if not len(rest):
                break
            found[rest] = run.find(hashes[rest], keys[rest])
        return found, at

    def contains(self, keys: np.ndarray) -> np.ndarray:
        """A boolean array: which of `keys` are in the set."""
        if not len(self) or not len(keys):
            return np.zeros(len(keys), dtype=bool)
        keys = self._fit(keys)
        hashes = key_hashes(keys)
        order = np.argsort(hashes)  # sorted needles: a far faster search
        found = np.empty(len(keys), dtype=bool)
        found[order] = self._held(keys[order], hashes[order])[0]
        return found

    def add(self, keys: np.ndarray) -> np.ndarray:
        """Put `keys` in the set; returns which of them it held already (before this call)."""
        before = np.zeros(len(keys), dtype=bool)
        if not len(keys):
            return before
        keys = self._fit(keys)
        hashes = key_hashes(keys)
        order = np.argsort(hashes)
        keys, hashes = keys[order], hashes[order]
        known, at = self._held(keys, hashes)
        before[order] = known
        keys, hashes, at = keys[~known], hashes[~known], at[~known]
        first = _firsts(hashes, keys)
        keys, hashes, at = keys[first], hashes[first], at[first]
        # merge: the new keys go to their sorted slots, the old ones fill the rest in order
        slots = at + np.arange(len(hashes))
        old = np.ones(len(self._hashes) + len(hashes), dtype=bool)
        old[slots] = False
        self._hashes, self._keys = (
            _merged(o, n, slots, old) for o, n in ((self._hashes, hashes), (self._keys, keys))
        )
        if len(self._hashes) and self._hashes.nbytes + self._keys.nbytes >= self._memory_bytes:
            self._spill()
        return before

    def _spill(self) -> None:
        """Write the in-memory run to disk (behind its filter) and start an empty one."""
        self._runs.append(SpilledRun(self._hashes, self._keys, self._folder))
        self._spilled += len(self._hashes)
        self._hashes, self._keys = np.empty(0, dtype=np.uint64), np.empty(0, dtype="S8")


def _merged(old: np.ndarray, new: np.ndarray, slots: np.ndarray, old_slots: np.ndarray) -> np.ndarray:
    merged = np.empty(len(old_slots), dtype=old.dtype)
    merged[slots] = new
    merged[old_slots] = old
    return merged


_MULTIPLIER = np.uint64(0xBF58476D1CE4E5B9)
_SHIFT = np.uint64(31)


def key_hashes(keys: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each fixed-width key (width a multiple of 8), 8 bytes at a time.

    All-zero words are skipped, so a key hashes the same at any padded width.
    """
    words = keys.view(np.uint64).reshape(len(keys), keys.dtype.itemsize // 8)
    hashes = np.full(len(keys), 0x9E3779B97F4A7C15, dtype=np.uint64)
    for word in range(words.shape[1]):
        values = words[:, word]
        mixed = (hashes ^ values) * _MULTIPLIER
        mixed ^= mixed >> _SHIFT
        hashes = np.where(values != 0, mixed, hashes)
    return hashes


def first_of_each(keys: np.ndarray) -> np.ndarray:
    """True at the first occurrence of each distinct key of `keys` (a NumPy `S` array).

    What `np.unique(keys, return_index=True)` finds, by a sort of 64-bit hashes instead of a
    sort of the bytes (several times faster on keys of 16 bytes and more); equal hashes are
    confirmed on the bytes, so a collision never makes two keys equal.
    """
    if len(keys) < 2:
        return np.ones(len(keys), dtype=bool)
    width = -(-keys.dtype.itemsize // 8) * 8
    fitted = np.ascontiguousarray(keys.astype(f"S{width}", copy=False))
    hashes = key_hashes(fitted)
    order = np.argsort(hashes, kind="stable")  # equal keys stay in their order of occurrence
    first = np.empty(len(keys), dtype=bool)
    first[order] = _firsts(hashes[order], fitted[order])
    return first


def _firsts(hashes: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """In keys sorted by their hashes: True at the first of each distinct key. Equal keys are
    adjacent, unless another key shares their hash (rare): those are settled by value."""
    first = np.ones(len(keys), dtype=bool)
    same_hash = hashes[1:] == hashes[:-1]
    same_key = keys[1:] == keys[:-1]
    first[1:] = ~(same_hash & same_key)
    for value in np.unique(hashes[1:][same_hash & ~same_key]):
        seen: set[bytes] = set()
        for row in np.flatnonzero(hashes == value):
            key = bytes(keys[row])
            first[row] = key not in seen
            seen.add(key)
    return first


# Plain bytes, not Arrow scalars, at import: building any Arrow value makes pyarrow import
# pandas (about 1 s), which every `govbus` command and every DAG parse would then pay.
_COLON, _NOTHING, _NULL_MARK, _PAD = b":", b"", b"-", b"\x00"


def encode_keys(columns: list[pa.Array]) -> np.ndarray:
    """One bytes value per row for the tuple of `columns`: each column as `<length>:<text>`
    (`-` for a null), joined; as a fixed-width NumPy `S` array. Equal tuples, equal bytes;
    -0.0 equals 0.0, as in the uniqueness rules."""
    rows = len(columns[0]) if columns else 0
    if rows == 0:
        return np.empty(0, dtype="S1")
    parts = []
    for values in columns:
        text = _as_binary(values)
        length = pc.cast(pc.cast(pc.binary_length(text), pa.string()), pa.binary())
        parts.append(pc.fill_null(pc.binary_join_element_wise(length, _COLON, text, _NOTHING), _NULL_MARK))
    joined = pc.binary_join_element_wise(*parts, _NOTHING) if len(parts) > 1 else parts[0]
    lengths = pc.binary_length(joined)
    width = pc.max(lengths).as_py()
    padded = pc.binary_join_element_wise(
        joined, pc.binary_repeat(_PAD, pc.subtract(pa.scalar(width, lengths.type), lengths)), _NOTHING
    )
    fixed = pc.cast(padded, pa.binary(width))
    return np.frombuffer(fixed.buffers()[1], dtype=f"S{width}", count=rows, offset=fixed.offset * width)


def _as_binary(values: pa.Array) -> pa.Array:
    if pt.is_dictionary(values.type):
        values = values.dictionary_decode()
    if pt.is_floating(values.type):
        values = pc.add(values, pa.scalar(0.0, values.type))  # -0.0 → 0.0
    if pt.is_binary(values.type) or pt.is_large_binary(values.type) or pt.is_fixed_size_binary(values.type):
        return pc.cast(values, pa.binary())
    return pc.cast(pc.cast(values, pa.string()), pa.binary())
