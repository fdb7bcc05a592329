"""Sorted runs of encoded keys: finding keys in one, and a run spilled to disk behind a filter.

Why: `contracts.seen_keys.SeenKeys` must answer "held already?" for every key of a stage,
and a stage may have tens of millions of them. It keeps a capped run in memory and writes
each full run to disk (`SpilledRun`); what stays in memory per spilled run is a Bloom
filter of about 10 bits (1.25 bytes) a key, so a key is looked up on disk only when the
filter says it may be there (about 2 % of new keys, every key held already).

What a caller must know:

* A run is two aligned arrays sorted by a 64-bit hash of each key: the hashes and the
  keys (NUL-padded `S` values). `found_in` answers on the bytes, so neither a hash
  collision nor a filter's false positive ever makes two keys equal.
* A spilled run is an unnamed temporary file (`tempfile.TemporaryFile`: on Linux it has
  no name in any folder, so nothing is left behind even when the process is killed),
  read through a read-only `mmap`: a look-up touches a few pages, never the whole file,
  and the pages it read are dropped from the process's resident set afterwards
  (`MADV_DONTNEED`; they stay in the page cache). The file
  holds the keys' bytes (identifiers, possibly personal); it lives only as long as the
  run (`close`, or when the run is collected) and only this process can open it.
* Disk full or an unwritable folder is a `TransientError` naming the folder.
"""

from __future__ import annotations

import contextlib
import mmap
import tempfile
from pathlib import Path
from typing import IO

import numpy as np

from govbus.errors import TransientError

__all__ = ["BLOOM_BITS_PER_KEY", "SpilledRun", "found_at", "found_in"]

BLOOM_BITS_PER_KEY = 10  # about 2 % false positives with 4 bits set in one 64-bit word
_BLOOM_PROBES = 4
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def found_in(
    run_hashes: np.ndarray, run_keys: np.ndarray, hashes: np.ndarray, keys: np.ndarray
) -> np.ndarray:
    """Which of `keys` (sorted by their `hashes`) the run holds, compared on the bytes.

    The run may be in memory or memory-mapped, and its keys of another width than `keys`
    (NUL padding never makes two prefix-free encodings equal).
    """
    return found_at(run_hashes, run_keys, hashes, keys)[0]


def found_at(
    run_hashes: np.ndarray, run_keys: np.ndarray, hashes: np.ndarray, keys: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`found_in`, and where each hash would be inserted in the run (`searchsorted`'s left
    side): a caller merging the keys into the run needs no second search."""
    found = np.zeros(len(keys), dtype=bool)
    size = len(run_hashes)
    if not size or not len(keys):
        return found, np.zeros(len(keys), dtype=np.intp)
    at = np.searchsorted(run_hashes, hashes)  # sorted needles: one pass over the run
    where = np.minimum(at, size - 1)
    hit = (at < size) & (run_hashes[where] == hashes)
    rows = np.flatnonzero(hit)
    same = run_keys[where[rows]] == keys[rows]
    found[rows[same]] = True
    for row in rows[~same]:  # another key with the same hash (rare): walk the hash's run
        end = int(np.searchsorted(run_hashes, hashes[row], side="right"))
        found[row] = bool((run_keys[at[row] : end] == keys[row]).any())
    return found, at


class SpilledRun:
    """A sorted run written to an unnamed temporary file, with its Bloom filter in memory."""

    def __init__(self, hashes: np.ndarray, keys: np.ndarray, folder: str | Path | None = None) -> None:
        """Write `hashes` (sorted) and the aligned `keys`; `folder` None: the system's temp folder."""
        self._size = len(hashes)
        self._file: IO[bytes] | None = None
        self._map: mmap.mmap | None = None
        try:
            self._file = tempfile.TemporaryFile(prefix="govbus-keys-", dir=folder)
            hashes.tofile(self._file)
            keys.tofile(self._file)
            self._file.flush()
        except OSError as exc:
            self.close()
            raise TransientError(
                f"could not write a stage's key set to a temporary file ({exc.strerror or exc})",
                where=f"folder {folder or tempfile.gettempdir()}",
                hint="free disk space there, or point TMPDIR at a folder with room",
            ) from None
        self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        self._hashes: np.ndarray | None = np.frombuffer(self._map, dtype=np.uint64, count=self._size)
        self._keys: np.ndarray | None = np.frombuffer(
            self._map, dtype=keys.dtype, count=self._size, offset=hashes.nbytes
        )
        self._words = max(1, -(-self._size * BLOOM_BITS_PER_KEY // 64))
        self._bloom = np.zeros(self._words, dtype=np.uint64)
        word, mask = _bloom_places(hashes, self._words)
        np.bitwise_or.at(self._bloom, word, mask)

    def __len__(self) -> int:
        return self._size

    @property
    def filter_bytes(self) -> int:
        """Memory the run keeps: its filter (the rest is on disk)."""
        return self._bloom.nbytes

    def find(self, hashes: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """Which of `keys` (sorted by their `hashes`) the run holds: the filter first, then the
        candidates on disk."""
        if self._hashes is None or self._keys is None:
            raise ValueError("the run is closed")
        word, mask = _bloom_places(hashes, self._words)
        maybe = np.flatnonzero((self._bloom[word] & mask) == mask)
        found = np.zeros(len(keys), dtype=bool)
        if len(maybe):
            found[maybe] = found_in(self._hashes, self._keys, hashes[maybe], keys[maybe])
            # The pages read stay in the page cache, not in this process's resident set: a
            # stage of many runs would otherwise hold most of them resident (RSS growing
            # with the keys, which is what spilling avoids).
            assert self._map is not None
            self._map.madvise(mmap.MADV_DONTNEED)
        return found

    def close(self) -> None:
        """Unmap and close the file (its space is freed); idempotent."""
        self._hashes = self._keys = None
        if self._map is not None:
            with contextlib.suppress(BufferError):  # a view still held elsewhere: unmapped when collected
                self._map.close()
            self._map = None
        if self._file is not None:
            self._file.close()
            self._file = None


def _bloom_places(hashes: np.ndarray, words: int) -> tuple[np.ndarray, np.ndarray]:
    """Each hash's filter word and the bits set in it (from the hash mixed again: the bits
    of a word stay independent of the sort order and of the word chosen)."""
    mixed = hashes ^ (hashes >> np.uint64(30))
    mixed *= _M1
    mixed ^= mixed >> np.uint64(27)
    mixed *= _M2
    mixed ^= mixed >> np.uint64(31)
    word = ((mixed >> np.uint64(36)) % np.uint64(words)).astype(np.intp)
    mask = np.zeros(len(hashes), dtype=np.uint64)
    for probe in range(_BLOOM_PROBES):
        mask |= np.uint64(1) << ((mixed >> np.uint64(6 * probe)) & np.uint64(63))
    return word, mask
