"""`make bench`: the tax.income exchange on 1,000,000 generated rows, against a baseline.

Prints rows/s and peak RSS for stage and for each deliver, each measured in its own
process (so peak RSS is that step's), and — in the same run — the bare baseline: a
pyarrow read of the source plus a write of the same rows to Parquet. Ratios are
GovBus time over baseline time. A cProfile of stage and of each deliver goes to
bench/out/ (top functions by cumulative time are printed).

Usage: python bench/exchange_bench.py [--rows N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"


def generate(path: Path, rows: int) -> None:
    """A legacy-shaped source: amounts as text, 7 rows per timestamp, ~1 % broken."""
    rng = np.random.default_rng(7)
    n = np.arange(rows)
    people = rng.integers(10**10, 10**11 - 1, size=max(1, rows // 2))
    gross = rng.lognormal(10.4, 0.6, rows).round(2)
    taxable = (gross * rng.uniform(0.6, 0.95, rows)).round(2)
    status = np.array(["SINGLE", "JOINT", "SEPARATE", "HEAD_OF_HOUSEHOLD"])[rng.integers(0, 4, rows)]
    national = people[n % len(people)].astype(str).astype(object)
    broken = rng.random(rows) < 0.01
    national[broken] = "12345"
    table = pa.table(
        {
            "return_id": pc.binary_join_element_wise(
                "R", pc.utf8_lpad(pa.array(n).cast(pa.string()), 9, "0"), ""
            ),
            "national_id": pa.array(national, pa.string()),
            "tax_year": pa.array(2021 + (n // len(people)) % 4, pa.int64()),
            "filing_status": pa.array(status),
            "municipality_code": pc.utf8_lpad(
                pa.array(rng.integers(101, 5000, rows)).cast(pa.string()), 4, "0"
            ),
            "gross_income": pa.array(gross).cast(pa.decimal128(14, 2)).cast(pa.string()),
            "taxable_income": pa.array(taxable).cast(pa.decimal128(14, 2)).cast(pa.string()),
            "tax_due": pa.array((taxable * 0.22).round(2)).cast(pa.decimal128(14, 2)).cast(pa.string()),
            "postal_code": pc.utf8_lpad(pa.array(rng.integers(10000, 99999, rows)).cast(pa.string()), 5, "0"),
            "updated_at": pa.array(
                np.datetime64("2026-01-05T06:00:00", "us") + (n // 7).astype("timedelta64[s]")
            ).cast(pa.timestamp("us", tz="UTC")),
        }
    )
    pq.write_table(table, path, row_group_size=100_000)


def make_catalog(dst: Path, source: Path) -> None:
    """The sample catalog with tax.income read from the generated Parquet file."""
    shutil.copytree(REPO / "catalog", dst)
    contract = dst / "datasets" / "tax.income" / "contract.yaml"
    text = contract.read_text()
    start = text.index("source:")
    end = text.index("fields:", start)
    text = text[:start] + f"source:\n  connector: parquet\n  path: {source}\n" + text[end:]
    contract.write_text(text)


PEAK = """
def peak_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
"""

STEP = (
    PEAK
    + """
import cProfile, json, pstats, sys, time, io
from exchange import Bus
step, arg, prof = sys.argv[1], sys.argv[2], sys.argv[3]
bus = Bus.open()
if step == "consents":
    from exchange.demo import deployment as demo
    import numpy as np
    people = np.random.default_rng(7).integers(10**10, 10**11 - 1, size=int(arg))
    with bus.engine.begin() as conn:
        for p in people[: len(people) // 20]:
            bus.register.grant(conn, str(p), recipient="housing", dataset="tax.income",
                purpose="HOUSING_ALLOWANCE", fields=demo.HOUSING_FIELDS, evidence="bench")
    print(json.dumps({"seconds": 0, "counts": {}, "peak_mib": peak_mib()})); sys.exit(0)
profiler = cProfile.Profile()
t0 = time.perf_counter()
profiler.enable()
if step == "stage":
    report = bus.stage(arg)
elif step == "deliver":
    report = bus.deliver("tax.income", arg)
elif step == "reset":
    from exchange.run.cursor_reset import reset_cursor
    from exchange.run.reports import CommitReport
    reset_cursor(bus, arg, by="bench", reason="read again for a new subscriber")
    report = CommitReport(arg)
else:
    report = bus.commit(arg)
profiler.disable()
seconds = time.perf_counter() - t0
profiler.dump_stats(prof)
out = io.StringIO()
pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(18)
open(prof + ".txt", "w").write(out.getvalue())
print(json.dumps({"seconds": seconds, "counts": report.counts(), "peak_mib": peak_mib()}))
"""
)


def run_step(env: dict[str, str], step: str, arg: str, name: str) -> tuple[float, float, dict]:
    """Run one step in its own process; return (seconds, peak RSS MiB, counts).

    Peak RSS is the step process's own high-water mark (VmHWM): a forked child's
    ru_maxrss would also count the parent's pages at fork time.
    """
    proc = subprocess.run(
        [sys.executable, "-c", STEP, step, arg, str(OUT / f"{name}.prof")],
        env=env,
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    if proc.returncode != 0:
        sys.exit(f"{name} failed:\n{proc.stderr[-4000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return result["seconds"], result["peak_mib"], result["counts"]


def baseline(source: Path, work: Path) -> tuple[float, float]:
    code = PEAK + (
        "import sys, time, pyarrow.parquet as pq\n"
        "t0 = time.perf_counter()\n"
        "pq.write_table(pq.read_table(sys.argv[1]), sys.argv[2])\n"
        "print(time.perf_counter() - t0, peak_mib())\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(source), str(work / "baseline.parquet")],
        capture_output=True,
        text=True,
        check=True,
    )
    seconds, peak = proc.stdout.split()
    return float(seconds), float(peak)


def prepare(work: Path, rows: int) -> tuple[Path, dict[str, str]]:
    """A fresh `work` folder: `rows` generated returns, their catalog, a home with the agencies'
    folders; returns the source file and the environment the steps run in (SQLite state)."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    source = work / "income_returns.parquet"
    t0 = time.perf_counter()
    generate(source, rows)
    print(f"generated {rows:,} rows in {time.perf_counter() - t0:.1f} s")
    make_catalog(work / "catalog", source)
    env = {
        **os.environ,
        "GOVBUS_HOME": str(work / "home"),
        "GOVBUS_CATALOG": str(work / "catalog"),
        "GOVBUS_BATCH_SIZE": "100000",
        # The generated source lies beside the catalog, outside the bus's own folders.
        "GOVBUS_ALLOWED_ROOTS": str(work),
    }
    env.pop("GOVBUS_STATE_URL", None)
    for agency in ("benefits", "housing", "statistics"):
        (work / "home" / "agencies" / agency).mkdir(parents=True, exist_ok=True)
    return source, env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    work = OUT / "work"
    source, env = prepare(work, args.rows)
    base_s, base_rss = baseline(source, work)
    run_step(env, "consents", str(args.rows // 2), "consents")
    rows = []
    seconds, rss, counts = run_step(env, "stage", "tax.income", "stage")
    rows.append(("stage", seconds, rss, counts.get("rows_read", 0)))
    for sub in ("benefits.tax-income", "statistics.tax-income", "housing.tax-income"):
        seconds, rss, counts = run_step(env, "deliver", sub, f"deliver-{sub}")
        rows.append((f"deliver {sub}", seconds, rss, args.rows))
    seconds, rss, counts = run_step(env, "commit", "tax.income", "commit")
    rows.append(("commit", seconds, rss, args.rows))

    total = sum(r[1] for r in rows)
    print(f"\n{'step':34} {'seconds':>8} {'rows/s':>12} {'peak RSS MiB':>13} {'× baseline':>11}")
    name = "baseline (pyarrow read + write)"
    print(f"{name:34} {base_s:8.2f} {args.rows / base_s:12,.0f} {base_rss:13.0f} {1:11.1f}")
    for name, seconds, rss, n in rows:
        print(f"{name:34} {seconds:8.2f} {n / seconds:12,.0f} {rss:13.0f} {seconds / base_s:11.1f}")
    name = "end to end (sum of steps)"
    print(f"{name:34} {total:8.2f} {args.rows / total:12,.0f} {'':13} {total / base_s:11.1f}")
    print(f"\nprofiles: {OUT}/*.prof.txt (top functions by cumulative time)")


if __name__ == "__main__":
    main()
