"""File connector read speed: CSV and Parquet drop files of 1,000,000 rows vs pyarrow.

Every case runs in its own process (so its peak RSS, VmHWM from /proc/self/status, is
its own), reads the same file `--repeat` times; cases run interleaved `--rounds` times (so
that they share a shared machine's load alike) and the best time is reported. In the same
run:

* csv  pyarrow stream — `pyarrow.csv.open_csv` with the options GovBus uses (every column
  as text, 1 MiB blocks, one thread): the floor for the same work;
* csv  pyarrow read_csv — `pyarrow.csv.read_csv` with its defaults (type inference,
  threads): what a user would call "pyarrow's own read";
* csv  govbus — `DropFolderSource(CsvFormat())` over a folder holding that file, batches
  of 50,000: listing, SHA-256 of the content (in a thread), malformed-line checks, line
  numbering and the error columns included;
* parquet pyarrow read_table / iter_batches and parquet govbus likewise;
* sha256 alone — hashing the file, which GovBus does in a thread while it parses (the file
  identity the drop folder requires): on a loaded machine that thread competes for a core.

Ratio = baseline time / GovBus time (1.0 = as fast; the target is ≥ 0.8).

Usage: python bench/file_connectors_bench.py [--rows N] [--repeat N]
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
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CASES = {
    "csv pyarrow stream": "csv",
    "csv pyarrow read_csv": "csv",
    "csv govbus": "csv",
    "csv sha256 alone": "csv",
    "parquet pyarrow read_table": "parquet",
    "parquet pyarrow iter_batches": "parquet",
    "parquet govbus": "parquet",
    "parquet sha256 alone": "parquet",
}
BASELINES = {"csv govbus": "csv pyarrow stream", "parquet govbus": "parquet pyarrow iter_batches"}


def generate(folder: Path, rows: int) -> None:
    """A tax-returns-like table written as CSV and as Parquet, each in its own drop folder."""
    rng = np.random.default_rng(7)
    n = np.arange(rows)
    table = pa.table(
        {
            "return_id": pc.binary_join_element_wise(
                "R", pc.utf8_lpad(pa.array(n).cast(pa.string()), 9, "0"), ""
            ),
            "national_id": pa.array(rng.integers(10**10, 10**11 - 1, rows)).cast(pa.string()),
            "tax_year": pa.array(2021 + n % 4, pa.int64()),
            "filing_status": pa.array(np.array(["SINGLE", "JOINT", "SEPARATE"])[rng.integers(0, 3, rows)]),
            "gross_income": pa.array(rng.lognormal(10.4, 0.6, rows).round(2)).cast(pa.decimal128(14, 2)),
            "postal_code": pc.utf8_lpad(pa.array(rng.integers(10000, 99999, rows)).cast(pa.string()), 5, "0"),
            "updated_at": pa.array(
                np.datetime64("2026-01-05T06:00:00", "us") + (n // 7).astype("timedelta64[s]")
            ).cast(pa.timestamp("us", tz="UTC")),
        }
    )
    for kind in ("csv", "parquet"):
        (folder / kind).mkdir(parents=True, exist_ok=True)
    pcsv.write_csv(table, folder / "csv" / "returns.csv")
    pq.write_table(table, folder / "parquet" / "returns.parquet")


def run_case(case: str, folder: Path) -> int:
    """Read the case's file once; return the rows read."""
    from connectors import CsvFormat, DropFolderSource, ParquetFormat
    from connectors.files.folder_scan import sha256_file

    path = folder / CASES[case] / f"returns.{CASES[case]}"
    if case == "csv pyarrow stream":
        names = pcsv.open_csv(path).schema.names
        reader = pcsv.open_csv(
            path,
            read_options=pcsv.ReadOptions(use_threads=False, block_size=1 << 20),
            convert_options=pcsv.ConvertOptions(
                column_types={name: pa.string() for name in names}, strings_can_be_null=True
            ),
        )
        return sum(batch.num_rows for batch in reader)
    if case == "csv pyarrow read_csv":
        return pcsv.read_csv(path).num_rows
    if case == "parquet pyarrow read_table":
        return pq.read_table(path).num_rows
    if case.endswith("sha256 alone"):  # the identity GovBus computes (in a thread) for each file
        return len(sha256_file(path)) and 0
    if case == "parquet pyarrow iter_batches":
        return sum(batch.num_rows for batch in pq.ParquetFile(path).iter_batches(batch_size=65_536))
    file_format = CsvFormat() if CASES[case] == "csv" else ParquetFormat()
    source = DropFolderSource(file_format, path.parent, settle_seconds=0)
    return sum(batch.data.num_rows for batch in source.read(None, batch_size=50_000))


def child(case: str, folder: Path, repeat: int) -> None:
    """Run one case in this process and print its JSON result."""
    best, rows = float("inf"), 0
    for _ in range(repeat):
        start = time.perf_counter()
        rows = run_case(case, folder)
        best = min(best, time.perf_counter() - start)
    peak = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) * 1024
    print(json.dumps({"case": case, "rows": rows, "seconds": best, "peak_rss": peak}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="reads per process (best kept)")
    parser.add_argument("--rounds", type=int, default=3, help="processes per case, interleaved")
    parser.add_argument("--case")
    parser.add_argument("--folder", type=Path)
    args = parser.parse_args()
    if args.case:
        child(args.case, args.folder, args.repeat)
        return
    with tempfile.TemporaryDirectory(prefix="govbus-file-bench-") as scratch:
        folder = Path(scratch)
        generate(folder, args.rows)
        sizes = {kind: (folder / kind / f"returns.{kind}").stat().st_size for kind in ("csv", "parquet")}
        print(
            f"{args.rows:,} rows; csv {sizes['csv'] / 1e6:.1f} MB, parquet {sizes['parquet'] / 1e6:.1f} MB; "
            f"best of {args.rounds} processes × {args.repeat} reads per case, cases interleaved"
        )
        results: dict[str, dict] = {}
        for _ in range(args.rounds):  # cases interleaved, so that they share the machine's load
            for case in CASES:
                command = [sys.executable, __file__, "--case", case, "--folder", str(folder)]
                output = subprocess.run(
                    [*command, "--repeat", str(args.repeat)], check=True, capture_output=True, text=True
                ).stdout
                result = json.loads(output.strip().splitlines()[-1])
                best = results.setdefault(case, result)
                best["seconds"] = min(best["seconds"], result["seconds"])
                best["peak_rss"] = max(best["peak_rss"], result["peak_rss"])
    print(f"{'case':32} {'rows/s':>12} {'seconds':>8} {'peak RSS':>10} {'ratio':>7}")
    for case, result in results.items():
        if not result["rows"]:
            print(f"{case:32} {'':>12} {result['seconds']:8.3f} {result['peak_rss'] / 2**20:8.0f} MB")
            continue
        rate = result["rows"] / result["seconds"]
        ratio = ""
        if case in BASELINES:
            ratio = f"{results[BASELINES[case]]['seconds'] / result['seconds']:.2f}"
        print(
            f"{case:32} {rate:12,.0f} {result['seconds']:8.3f} "
            f"{result['peak_rss'] / 2**20:8.0f} MB {ratio:>7}"
        )
    for case, baseline in BASELINES.items():
        other = "csv pyarrow read_csv" if case.startswith("csv") else "parquet pyarrow read_table"
        print(
            f"{case}: {results[baseline]['seconds'] / results[case]['seconds']:.2f}× of {baseline}, "
            f"{results[other]['seconds'] / results[case]['seconds']:.2f}× of {other}"
        )


if __name__ == "__main__":
    main()
