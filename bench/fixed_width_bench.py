"""Fixed-width decode speed: 1,000,000 EBCDIC records of 11 fields, against numpy slicing.

Prints, in the same run:

* baseline — "numpy slicing": each field's bytes cut out of the (records × length) matrix
  and converted the naive way (zoned: low nibbles accumulated; packed: nibbles
  accumulated; binary: a big-endian view; text: a fixed-size binary column), with no
  code page, no validation, no nulls and no decimals: the floor for any numpy decoder;
* decode_records — GovBus's decoder on the same matrix (code page, signs, validation,
  error columns, exact decimals), both in batches as a source decodes them (default
  50,000 records: the temporaries stay in the CPU caches) and in one call on the whole
  matrix;
* source read — `FixedWidthSource` reading the file in batches of 50,000 (hash of the
  file, chunked reads, decode), in a child process so that its peak RSS is its own;
* framing — how fast the records of each variable-length format are found (no decode):
  `frame_rdw` for records of equal lengths (runs checked with numpy) and of random
  lengths (the loop), `frame_vb` (27,998-byte blocks of random-length RDW records),
  `frame_text` (lines) and OCCURS DEPENDING ON records back to back (short records: counts
  decoded at every position of a window with numpy; long ones: record by record).

Usage: python bench/fixed_width_bench.py [--records N] [--batch N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from connectors import FixedWidthFormat, FixedWidthSource, RecordLayout, decode_records, parse_copybook  # noqa: E402
from connectors.mainframe.record_framing import frame_rdw, frame_text, frame_vb  # noqa: E402

COPYBOOK = """
       01  RESIDENT.
           05  RESIDENT-ID       PIC X(11).
           05  SURNAME           PIC X(20).
           05  GIVEN-NAME        PIC X(15).
           05  BIRTH-DATE        PIC 9(8).
           05  SEX               PIC X.
           05  MUNICIPALITY      PIC 9(4).
           05  INCOME            PIC S9(9)V99 COMP-3.
           05  TAX               PIC S9(7)V99 COMP-3.
           05  HOUSEHOLD-SIZE    PIC S9(4) COMP.
           05  BALANCE           PIC S9(7)V99.
           05  STATUS-CODE       PIC X(2).
"""


def generate(layout: RecordLayout, n: int, seed: int = 7) -> np.ndarray:
    """Valid cp037 records, vectorized: letters and trailing spaces, digits, signs."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, layout.record_length), dtype=np.uint8)
    letters = np.frombuffer("ABCDEFGHIJKLMNOPRSTUVWXYZ".encode("cp037"), dtype=np.uint8)
    for f in layout.fields:
        cols = out[:, f.offset : f.offset + f.length]
        if f.kind == "text":
            cols[:] = letters[rng.integers(0, len(letters), size=cols.shape)]
            used = rng.integers(1, f.length + 1, size=n)
            cols[np.arange(f.length)[None, :] >= used[:, None]] = 0x40
        elif f.kind == "zoned":
            cols[:] = 0xF0 + rng.integers(0, 10, size=cols.shape, dtype=np.uint8)
            if f.signed:
                cols[:, -1] = (cols[:, -1] & 0x0F) | np.where(rng.random(n) < 0.3, 0xD0, 0xC0).astype(
                    np.uint8
                )
        elif f.kind == "packed":
            cols[:] = rng.integers(0, 10, size=cols.shape, dtype=np.uint8) * 16 + rng.integers(
                0, 10, size=cols.shape, dtype=np.uint8
            )
            cols[:, -1] = (cols[:, -1] & 0xF0) | np.where(rng.random(n) < 0.3, 0x0D, 0x0C).astype(np.uint8)
        else:
            values = rng.integers(-(10**f.digits) + 1, 10**f.digits, size=n).astype(f">i{f.length}")
            cols[:] = values.view(np.uint8).reshape(n, f.length)
    return out


def numpy_slicing(records: np.ndarray, layout: RecordLayout) -> list[object]:
    """The baseline: naive per-column conversions, nothing checked."""
    n = len(records)
    columns: list[object] = []
    for f in layout.fields:
        cols = records[:, f.offset : f.offset + f.length]
        if f.kind == "text":
            buffer = pa.py_buffer(np.ascontiguousarray(cols))
            columns.append(pa.Array.from_buffers(pa.binary(f.length), n, [None, buffer]))
        elif f.kind == "binary":
            columns.append(np.ascontiguousarray(cols).view(f">i{f.length}").reshape(n).astype(np.int64))
        else:
            digits = (
                cols & 0x0F
                if f.kind == "zoned"
                else np.stack([cols >> 4, cols & 0x0F], 2).reshape(n, -1)[:, :-1]
            )
            value = np.zeros(n, dtype=np.int64)
            for j in range(digits.shape[1]):
                value = value * 10 + digits[:, j]
            columns.append(value)
    return columns


def best_of(runs: int, work: object) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def child(path: str, copybook: str) -> None:
    """Read the file with FixedWidthSource twice; print seconds, rows and peak RSS as JSON.

    Peak RSS is VmHWM of this process (ru_maxrss would include the parent's memory, which
    a vfork-started child inherits until exec).
    """
    source = FixedWidthSource(path, copybook=copybook)
    seconds = []
    for _ in range(2):
        start = time.perf_counter()
        rows = ok = 0
        for batch in source.read(None, batch_size=50_000):
            rows += batch.data.num_rows
            ok += batch.data.column("_govbus_source_error").null_count
        seconds.append(time.perf_counter() - start)
    status = Path("/proc/self/status").read_text()
    peak = int(status.split("VmHWM:")[1].split()[0]) // 1024
    print(json.dumps({"seconds": seconds, "rows": rows, "ok": ok, "peak_mib": peak}))


def in_batches(records: np.ndarray, size: int, work: object) -> None:
    """Run `work` on consecutive slices of `size` records (what a source does per batch)."""
    for start in range(0, len(records), size):
        work(records[start : start + size])  # type: ignore[operator]


def measure_decoders(layout: RecordLayout, records: np.ndarray, batch: int) -> None:
    n = len(records)
    table = decode_records(records[:batch], layout)
    assert table.column("_govbus_source_error").null_count == table.num_rows, "generated records decode"
    baseline = best_of(3, lambda: in_batches(records, batch, lambda r: numpy_slicing(r, layout)))
    ours = best_of(3, lambda: in_batches(records, batch, lambda r: decode_records(r, layout)))
    whole = best_of(1, lambda: decode_records(records, layout))
    print(f"  numpy slicing baseline   {n / baseline / 1e6:6.2f} M records/s  ({baseline:.3f} s)")
    rate = "{:6.2f} M records/s  ({:.3f} s".format
    print(f"  decode_records           {rate(n / ours / 1e6, ours)}, {ours / baseline:.2f}x baseline time)")
    print(f"  decode_records, 1 call   {rate(n / whole / 1e6, whole)}, one {n:,}-row matrix)")


def measure_source(records: np.ndarray) -> None:
    n = len(records)
    with tempfile.TemporaryDirectory() as folder:
        data, copybook = Path(folder) / "residents.dat", Path(folder) / "resident.cpy"
        records.tofile(data)
        copybook.write_text(COPYBOOK)
        command = [sys.executable, __file__, "--child", str(data), str(copybook)]
        result = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    assert result["rows"] == result["ok"] == n
    first, second = result["seconds"]
    print(
        f"  FixedWidthSource read    {n / first / 1e6:6.2f} M records/s  ({first:.3f} s first pass in a "
        f"fresh process, {second:.3f} s second; sha256, chunked reads, decode)"
    )
    print(f"  FixedWidthSource peak RSS {result['peak_mib']} MiB (the process, imports included)")


def measure_rdw_framing(n: int) -> None:
    """The sequential part of variable-length reading, per format."""
    rng = np.random.default_rng(3)
    for label, lengths in (("equal lengths", np.full(n, 87)), ("random lengths", rng.integers(40, 120, n))):
        chunk = _rdw_chunk(lengths)
        seconds = best_of(2, lambda chunk=chunk: frame_rdw(chunk, n, at_eof=True))
        print(f"  RDW framing, {label:15s}{n / seconds / 1e6:6.2f} M records/s  ({seconds:.3f} s)")
    lengths = rng.integers(40, 120, n)
    blocks, block, size = [], [], 4
    for length in lengths:
        if size + length > 27_998:
            blocks.append(_bdw(block, size))
            block, size = [], 4
        block.append(int(length))
        size += int(length)
    blocks.append(_bdw(block, size))
    chunk = np.concatenate(blocks)
    seconds = best_of(2, lambda: frame_vb(chunk, n, at_eof=True))
    print(f"  VB framing (BDW + RDW)    {n / seconds / 1e6:6.2f} M records/s  ({seconds:.3f} s)")
    text = np.full(int(lengths.sum()), ord("x"), dtype=np.uint8)
    text[np.cumsum(lengths) - 1] = ord("\n")
    seconds = best_of(2, lambda: frame_text(text, n, True, ord("\n"), ord("\r")))
    print(f"  text lines framing        {n / seconds / 1e6:6.2f} M records/s  ({seconds:.3f} s)")
    measure_odo_framing(min(n, 200_000))


def measure_odo_framing(n: int) -> None:
    """Records of 0-9 items behind a 1-digit count, back to back, framed by their counts:
    short records (counts decoded at every position of a window) and long ones (counts
    decoded record by record), as `FixedWidthFormat` chooses."""
    for head, label in ((6, "43-byte"), (500, "537-byte")):
        layout = parse_copybook(
            f"01 R.\n 05 ID PIC X({head}).\n 05 N PIC 9.\n 05 ITEM OCCURS 0 TO 9 DEPENDING ON N PIC X(8)."
        )
        counts = np.random.default_rng(5).integers(0, 10, n)
        sizes = head + 1 + 8 * counts
        chunk = np.full(int(sizes.sum()), 0xC1, dtype=np.uint8)
        chunk[np.concatenate(([0], np.cumsum(sizes)[:-1])) + head] = 0xF0 + counts
        file_format = FixedWidthFormat(layout, record_format="odo")
        seconds = best_of(2, lambda f=file_format, c=chunk: f._frame_chunk(c, n, True, {}, 0))
        print(f"  ODO framing, {label:15s}{n / seconds / 1e6:6.2f} M records/s  ({seconds:.3f} s, mean size)")


def _rdw_chunk(lengths: np.ndarray) -> np.ndarray:
    chunk = np.zeros(int(lengths.sum()), dtype=np.uint8)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    chunk[starts], chunk[starts + 1] = lengths >> 8, lengths & 0xFF
    return chunk


def _bdw(lengths: list[int], size: int) -> np.ndarray:
    return np.concatenate(
        [np.array([size >> 8, size & 0xFF, 0, 0], dtype=np.uint8), _rdw_chunk(np.array(lengths))]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=50_000)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    layout = parse_copybook(COPYBOOK)
    records = generate(layout, args.records)
    print(
        f"{args.records:,} records of {layout.record_length} bytes, {len(layout.fields)} fields (cp037), "
        f"in batches of {args.batch:,}"
    )
    measure_decoders(layout, records, args.batch)
    measure_source(records)
    measure_rdw_framing(args.records)


if __name__ == "__main__":
    main()
