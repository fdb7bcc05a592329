"""The stage's key set in bounded memory: exact across spilled runs, and its files go.

`SeenKeys` spills its in-memory run to unnamed temporary files once it reaches its cap; a
small cap here makes every test spill many times, and a Python set is the reference.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import SeenKeys, encode_keys, first_of_each
from contracts import seen_keys as seen_keys_module
from govbus.errors import TransientError


def _keys(values: list[str]) -> np.ndarray:
    return encode_keys([pa.array(values, pa.string())])


def _open_in(folder: Path) -> list[str]:
    """This process's open files and mappings inside `folder` (unnamed files included)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(folder)):
            found.append(target)
    with open("/proc/self/maps") as maps:
        found.extend(line for line in maps if str(folder) in line)
    return found


def _answers_like_a_set(seen: SeenKeys, batches: list[list[str]]) -> set[str]:
    """Feed `batches` to `seen`, checking each answer against a Python set; return the set."""
    reference: set[str] = set()
    for batch in batches:
        keys = _keys(batch)
        assert seen.contains(keys).tolist() == [k in reference for k in batch]
        assert seen.add(keys).tolist() == [k in reference for k in batch]
        reference.update(batch)
        assert len(seen) == len(reference)
    return reference


@settings(max_examples=60, deadline=None)
@given(
    batches=st.lists(
        st.lists(st.text(alphabet="abc\x00é", max_size=12), max_size=30), min_size=1, max_size=12
    ),
    cap=st.sampled_from([1, 64, 200, 1000]),
)
def test_answers_like_a_python_set_across_spilled_runs(batches: list[list[str]], cap: int) -> None:
    """Keys of changing widths, repeated within and across batches, many runs on disk."""
    with SeenKeys(memory_bytes=cap) as seen:
        reference = _answers_like_a_set(seen, batches)
        if cap == 1 and len(reference) > 1:
            assert seen.spilled_runs >= 1


@settings(max_examples=30, deadline=None)
@given(
    batches=st.lists(st.lists(st.text(alphabet="ab\x00", max_size=5), max_size=12), min_size=1, max_size=8)
)
def test_stays_exact_across_runs_when_every_hash_collides(batches: list[list[str]]) -> None:
    """Every key hashed into one of 2 values: filters always say "maybe", bytes decide."""
    real = seen_keys_module.key_hashes
    with pytest.MonkeyPatch.context() as patch, SeenKeys(memory_bytes=48) as seen:
        patch.setattr(seen_keys_module, "key_hashes", lambda keys: real(keys) & np.uint64(1))
        _answers_like_a_set(seen, batches)


def test_many_keys_over_many_runs_match_a_python_set() -> None:
    """60,000 draws from 40,000 ids in batches of 3,000, a cap of about 2,000 keys: dozens of
    runs, each with its filter's false positives, and repeats reaching into every run."""
    rng = np.random.default_rng(5)
    ids = [f"R{n:09d}" for n in rng.integers(0, 40_000, size=60_000)]
    reference: set[str] = set()
    with SeenKeys(memory_bytes=2_000 * 24) as seen:
        for start in range(0, len(ids), 3_000):
            batch = ids[start : start + 3_000]
            expected = []
            in_batch: set[str] = set()
            for key in batch:  # held before this call: an earlier batch's, not this one's
                expected.append(key in reference)
                in_batch.add(key)
            assert seen.add(_keys(batch)).tolist() == expected
            reference |= in_batch
        assert seen.spilled_runs >= 10
        assert len(seen) == len(reference)
        probe = [f"R{n:09d}" for n in range(0, 80_000, 7)]
        assert seen.contains(_keys(probe)).tolist() == [k in reference for k in probe]


def test_memory_stays_at_the_cap_while_the_set_grows() -> None:
    cap = 64 * 1024
    with SeenKeys(memory_bytes=cap) as seen:
        for start in range(0, 200_000, 2_000):
            seen.add(_keys([f"K{n:08d}" for n in range(start, start + 2_000)]))
            # the in-memory run below cap + a batch, plus 10 bits a spilled key
            assert seen.memory_bytes < cap + 2_000 * 24 + len(seen) * 10 // 8 + 1024
        assert len(seen) == 200_000 and seen.spilled_runs >= 50


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    spill = tmp_path / "spill"
    spill.mkdir()
    yield spill
    assert not list(spill.iterdir()), "nothing is ever named in the folder"


def test_spilled_files_have_no_name_and_go_on_close(folder: Path) -> None:
    seen = SeenKeys(memory_bytes=256, folder=folder)
    seen.add(_keys([f"k{n}" for n in range(100)]))
    seen.add(_keys([f"k{n}" for n in range(50, 150)]))
    assert seen.spilled_runs >= 2
    assert _open_in(folder), "the runs are open (unnamed) files in the folder"
    assert not list(folder.iterdir())
    seen.close()
    assert not _open_in(folder)
    assert len(seen) == 150
    with pytest.raises(ValueError, match="closed"):
        seen.add(_keys(["k1"]))


def test_spilled_files_go_when_a_stage_fails(folder: Path) -> None:
    def stage() -> None:
        with SeenKeys(memory_bytes=256, folder=folder) as seen:
            seen.add(_keys([f"k{n}" for n in range(100)]))
            assert _open_in(folder)
            raise RuntimeError("the stage failed")

    with pytest.raises(RuntimeError, match="the stage failed"):
        stage()
    assert not _open_in(folder)


def test_spilled_files_go_when_the_set_is_dropped(folder: Path) -> None:
    seen = SeenKeys(memory_bytes=256, folder=folder)
    seen.add(_keys([f"k{n}" for n in range(100)]))
    assert _open_in(folder)
    del seen
    gc.collect()
    assert not _open_in(folder)


def test_a_folder_it_cannot_write_is_a_transient_error_without_keys(tmp_path: Path) -> None:
    seen = SeenKeys(memory_bytes=8, folder=tmp_path / "missing")
    with pytest.raises(TransientError) as raised:
        seen.add(_keys(["1234567890"]))
    assert "1234567890" not in str(raised.value)
    assert "missing" in str(raised.value)


def _resident_file_kib() -> int:
    """This process's file-backed resident pages (RssFile), in KiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssFile:"):
                return int(line.split()[1])
    raise AssertionError("no RssFile in /proc/self/status")


def test_spilled_runs_do_not_stay_resident(folder: Path) -> None:
    """Look-ups read pages of every spilled run; those pages leave the resident set after
    each look-up, so what stays resident does not grow with the runs on disk."""
    cap = 4 * 2**20  # runs of about 170,000 keys (4 MiB) each
    with SeenKeys(memory_bytes=cap, folder=folder) as seen:
        before = _resident_file_kib()
        for start in range(0, 1_600_000, 100_000):
            seen.add(_keys([f"K{n:09d}" for n in range(start, start + 100_000)]))
            # repeats reach into every run: each look-up reads pages of all of them
            seen.add(_keys([f"K{n:09d}" for n in range(0, start + 1, 9_973)]))
        assert seen.spilled_runs >= 8  # 32+ MiB on disk
        grown = _resident_file_kib() - before
    assert grown < 8 * 1024, f"{grown} KiB of spilled runs resident"


def _first_by_unique(keys: np.ndarray) -> list[bool]:
    first = np.zeros(len(keys), dtype=bool)
    if len(keys):
        first[np.unique(keys, return_index=True)[1]] = True
    return first.tolist()


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.text(alphabet="ab\x00é:", max_size=20), max_size=60), collide=st.booleans())
def test_first_of_each_finds_what_np_unique_finds(values: list[str], collide: bool) -> None:
    """The first occurrence of each key, also when every hash collides (bytes decide)."""
    keys = _keys(values)
    real = seen_keys_module.key_hashes
    with pytest.MonkeyPatch.context() as patch:
        if collide:
            patch.setattr(seen_keys_module, "key_hashes", lambda keys: real(keys) & np.uint64(1))
        assert first_of_each(keys).tolist() == _first_by_unique(keys)
