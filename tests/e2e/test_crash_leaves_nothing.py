"""A run killed between a file's write and its rename leaves nothing behind after the next run.

Before issue 16, `kill -9` there left a hidden `.…parquet.tmp-…` (the whole pseudonymized
batch) or `.…manifest.sig.tmp-…` in the recipient's inbox for good: in no manifest, no
ledger entry, so no purge would ever name it. Now every temporary's name says which
process wrote it (`govbus.temp_files`), and each delivery to a folder first removes the
temporaries of writers that are gone; a live writer's temporary is never touched.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from connectors.atomic_files import sink_directory, sweep_sink, write_atomically
from exchange import Bus
from exchange.demo import deployment as demo
from govbus import temp_files
from tests.e2e.helpers import statistics_files

REPO = Path(__file__).resolve().parents[2]

# Run in the child: every dataset, killed with SIGKILL just before the rename of the first
# temporary into a recipient's inbox whose target name ends with SUFFIX (argv[1]): written,
# fsynced, not renamed.
CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from exchange import Bus
    from exchange.demo.deployment import agency_systems

    suffix = sys.argv[1]
    real = os.replace

    def replace(src, dst, *args, **kwargs):
        if "/inbox/" in str(dst) and str(dst).endswith(suffix):
            os.kill(os.getpid(), signal.SIGKILL)
        return real(src, dst, *args, **kwargs)

    os.replace = replace
    bus = Bus.open()
    with agency_systems(bus):
        bus.run()
    print("finished without being killed")
    """
)


def _inbox(bus: Bus) -> Path:
    return bus.settings.home / "agencies" / "statistics" / "inbox" / "tax.income"


@pytest.mark.parametrize("suffix", [".parquet", ".manifest.sig", ".manifest.json"])
def test_killed_between_write_and_rename_then_nothing_is_left_after_the_next_run(
    govbus_home: Path, tmp_path: Path, suffix: str
) -> None:
    bus = Bus.open()
    demo.seed(bus, rows=600)
    bus.close()
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.run(
        [sys.executable, str(script), suffix], env=env, capture_output=True, text=True, timeout=600
    )
    assert child.returncode == -signal.SIGKILL, (child.returncode, child.stdout[-2000:], child.stderr[-2000:])

    bus = Bus.open()
    left = [p.name for p in temp_files.temporaries(_inbox(bus))]
    assert len(left) == 1 and f"{suffix}.tmp-" in left[0]  # the copy the kill left
    with demo.agency_systems(bus):
        again = bus.run()
    assert all(r.ok for r in again), [r.failures for r in again]
    inbox = _inbox(bus)
    assert temp_files.temporaries(inbox) == []
    assert not [p for p in inbox.iterdir() if p.name.startswith(".")]
    # Every batch file there is one a manifest names (the retry replaced, not doubled, it).
    names = {p.name for p in statistics_files(bus.settings.home)}
    manifests = {p.name.removesuffix(".manifest.json") + ".parquet" for p in inbox.glob("*.manifest.json")}
    assert names == manifests and names
    bus.close()


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def _temporary_of(folder: Path, name: str, pid: int, start: int, host: str = temp_files.HOST) -> Path:
    path = folder / f".{name}.tmp-{host}-{temp_files.BOOT}-{pid}-{start}-0123abcd"
    path.write_bytes(b"a batch of personal data")
    return path


def test_a_live_writers_temporary_is_kept_and_a_dead_ones_is_swept(tmp_path: Path) -> None:
    sleeper = _sleeper()
    try:
        start = temp_files.process_start(sleeper.pid)
        assert start is not None
        live = _temporary_of(tmp_path, "b-00000-s.parquet", sleeper.pid, start)
        reused = _temporary_of(tmp_path, "b-00001-s.parquet", sleeper.pid, start + 1)  # its PID, not it
        assert temp_files.sweep(tmp_path) == [reused.name]
        assert live.exists()
    finally:
        sleeper.kill()
        sleeper.wait()
    assert temp_files.sweep(tmp_path) == [live.name]  # the writer is gone now


def test_other_hosts_and_old_style_temporaries_are_swept_only_once_stale(tmp_path: Path) -> None:
    other = _temporary_of(tmp_path, "b-00000-s.parquet", 1, 1, host="00000000")
    legacy = tmp_path / ".b-00001-s.manifest.sig.tmp-0a1b2c3d"
    legacy.write_bytes(b"x")
    not_ours = tmp_path / ".notes.tmp-whatever"
    not_ours.write_bytes(b"x")
    (tmp_path / ".b-00002-s.parquet.tmp-0a1b2c3d4e5f6a7b").mkdir()  # a folder: never removed
    assert temp_files.sweep(tmp_path) == []  # another host's writer may still be at work
    hours_ago = time.time() - temp_files.MAX_AGE.total_seconds() - 60
    for path in (other, legacy, not_ours):
        os.utime(path, (hours_ago, hours_ago))
    assert sorted(temp_files.sweep(tmp_path)) == sorted([other.name, legacy.name])
    assert not_ours.exists()


def test_the_write_path_sweeps_and_names_fit(tmp_path: Path) -> None:
    dead = _temporary_of(tmp_path, "old-batch.parquet", 2**22 + 7, 5)  # no such PID
    path, _ = write_atomically(tmp_path, "new-batch.csv", lambda handle: handle.write(b"a\n"))
    assert path.read_bytes() == b"a\n" and not dead.exists()
    long_name = "b" * 250
    assert len(temp_files.temporary_name(long_name).encode()) <= 255
    assert temp_files.is_temporary(temp_files.temporary_name(long_name))


def test_sweep_sink_knows_file_sinks_only(tmp_path: Path) -> None:
    import connectors

    parquet = connectors.ParquetSink(tmp_path / "inbox")
    assert sink_directory(parquet) == tmp_path / "inbox"
    assert sink_directory(connectors.CsvSink(tmp_path / "csv")) == tmp_path / "csv"
    assert sink_directory(object()) is None and sweep_sink(object()) == []
