"""A delivery's sink thread: writes in batch order off the caller's thread, manifests on the
same thread (never beside a write), and no write after a failed one."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import connectors
from connectors import DeliveryManifest, ParquetSink, SinkReceipt
from exchange.run.sink_thread import SinkThread


class RecordingSink:
    """A sink that keeps what it was asked, on which thread, and whether calls overlapped."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[tuple[str, str]] = []
        self.threads: set[int] = set()
        self.overlapped = False
        self._busy = threading.Lock()
        self.fail_on = fail_on

    def _enter(self, what: str, batch_id: str) -> None:
        if not self._busy.acquire(blocking=False):
            self.overlapped = True
            self._busy.acquire()
        self.threads.add(threading.get_ident())
        time.sleep(0.01)  # long enough for another thread's call to land inside this one
        self.calls.append((what, batch_id))
        self._busy.release()

    def write(self, batch_id: str, data: pa.Table) -> SinkReceipt:
        if batch_id == self.fail_on:
            raise OSError(f"cannot write {batch_id}")
        self._enter("write", batch_id)
        return SinkReceipt(batch_id=batch_id, rows=data.num_rows, location="memory")

    def write_manifest(self, manifest: DeliveryManifest) -> str:
        self._enter("manifest", manifest.batch_id)
        return "memory"

    def close(self) -> None:
        pass


def _manifest(batch_id: str) -> DeliveryManifest:
    return DeliveryManifest(batch_id, "k", b"{}", b"sig", b"pem", ("m", "s", "p"), 1)


def test_writes_run_in_order_on_a_thread_of_their_own_and_manifests_there_too() -> None:
    sink = RecordingSink()
    thread = SinkThread(sink)
    assert isinstance(thread.sink, connectors.ManifestStore)
    table = pa.table({"a": [1]})
    receipts = [thread.write(f"b{i}", table) for i in range(3)]
    # the batch log stores batch 0's manifest while batch 1 and 2 may still be writing
    assert thread.sink.write_manifest(_manifest("b0")) == "memory"
    assert [r.result().batch_id for r in receipts] == ["b0", "b1", "b2"]
    thread.close()
    assert sink.calls[:3] == [("write", "b0"), ("write", "b1"), ("write", "b2")]
    assert sink.calls[3] == ("manifest", "b0")  # queued after the writes before it
    assert threading.get_ident() not in sink.threads and len(sink.threads) == 1
    assert not sink.overlapped
    assert not [t for t in threading.enumerate() if t.name.startswith("govbus-sink")]


def test_no_write_reaches_the_sink_after_a_failed_one() -> None:
    sink = RecordingSink(fail_on="b1")
    thread = SinkThread(sink)
    table = pa.table({"a": [1]})
    receipts = [thread.write(f"b{i}", table) for i in range(4)]
    thread.close()
    assert receipts[0].result().batch_id == "b0"
    for later in receipts[1:]:
        with pytest.raises(OSError, match="cannot write b1"):
            later.result()
    assert sink.calls == [("write", "b0")]  # a REST recipient never gets b2 without b1


def test_a_sink_without_manifests_is_handed_on_as_it_is(tmp_path: Path) -> None:
    sink = ParquetSink(tmp_path / "out")
    thread = SinkThread(sink)
    assert thread.sink is sink
    receipt = thread.write("b0", pa.table({"a": [1, 2]})).result()
    thread.close()
    assert pq.read_table(receipt.location).num_rows == 2
