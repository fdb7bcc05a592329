"""Contract enforcement and conform on 1,000,000 generated tax.income rows.

1. **conform**: a legacy-shaped source (amounts and years as text) conformed to the
   tax.income Avro schema, in its own process so that its peak RSS (VmHWM) is the
   step's own; the RSS with only the source loaded is printed beside it.
2. **expectations**: the sample contract's suite run by GovBus's Arrow engine and by
   Great Expectations 1.x (pandas, result_format COMPLETE: per-row results) on the same
   conformed rows, in the same run; rows/s for each, the ratio, and the verdicts compared
   expectation by expectation (unexpected rows, identical index sets, success).
   GX gets the decimals as float64 (its fast path; every value of decimal(14,2) in this
   data is exact in a double) and its time excludes building the pandas frame. GovBus's
   time is the best of 5 runs, GX's the best of 3: the machine is shared, so the best
   run is the one least disturbed.

Usage: python bench/contracts_bench.py [--rows N]   (writes bench/out/contracts_bench.json)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"
CONTRACT = REPO / "catalog" / "datasets" / "tax.income" / "contract.yaml"
sys.path.insert(0, str(REPO))


def generate(rows: int, seed: int = 11) -> pa.Table:
    """Legacy-shaped rows with ~0.1-0.3 % faults for every rule of the suite."""
    rng = np.random.default_rng(seed)
    n = np.arange(rows)

    def some(rate: float) -> np.ndarray:
        return rng.random(rows) < rate

    ids = np.char.add("R", np.char.zfill(n.astype(str), 9)).astype(object)
    dup = np.flatnonzero(some(0.002))
    ids[dup] = ids[rng.integers(0, rows, len(dup))]
    national = rng.integers(10**10, 10**11 - 1, rows).astype(str).astype(object)
    national[some(0.003)] = "12345"
    national[some(0.001)] = None
    year = (2021 + rng.integers(0, 4, rows)).astype(str).astype(object)
    year[some(0.002)] = "1999"
    status = np.array(["SINGLE", "JOINT", "SEPARATE", "HEAD_OF_HOUSEHOLD"], dtype=object)[
        rng.integers(0, 4, rows)
    ]
    status[some(0.002)] = "WIDOWED"
    municipality = np.char.zfill(rng.integers(101, 5000, rows).astype(str), 4).astype(object)
    municipality[some(0.002)] = "12A4"
    gross = rng.lognormal(10.4, 0.6, rows).round(2)
    gross[some(0.002)] *= -1
    gross_text = np.char.mod("%.2f", gross).astype(object)
    gross_text[some(0.0005)] = None
    taxable = (np.abs(gross) * rng.uniform(0.6, 0.95, rows)).round(2)
    postal = np.char.zfill(rng.integers(1000, 99999, rows).astype(str), 5).astype(object)
    postal[some(0.05)] = None
    return pa.table(
        {
            "return_id": pa.array(ids, pa.string()),
            "national_id": pa.array(national, pa.string()),
            "tax_year": pa.array(year, pa.string()),
            "filing_status": pa.array(status, pa.string()),
            "municipality_code": pa.array(municipality, pa.string()),
            "gross_income": pa.array(gross_text, pa.string()),
            "taxable_income": pa.array(np.char.mod("%.2f", taxable), pa.string()),
            "tax_due": pa.array(np.char.mod("%.2f", (taxable * 0.22).round(2)), pa.string()),
            "postal_code": pa.array(postal, pa.string()),
            "updated_at": pa.array(
                np.datetime64("2026-01-05T06:00:00", "us") + (n // 7).astype("timedelta64[s]")
            ).cast(pa.timestamp("us", tz="UTC")),
        }
    )


CONFORM_STEP = """
import json, sys, time
import pyarrow.parquet as pq
def peak_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
import schemas
schema = schemas.load_schema(sys.argv[2])
source = pq.read_table(sys.argv[1])
loaded = peak_mib()
t0 = time.perf_counter()
result = schemas.conform(source, schema)
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "issues": result.issues.num_rows, "loaded_mib": loaded,
                  "peak_mib": peak_mib(), "source_mib": source.nbytes / 2**20}))
"""


def conform_in_child(source: Path, schema: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", CONFORM_STEP, str(source), str(schema)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def ours(table: pa.Table, contract: Any, repeat: int = 5) -> tuple[float, list[Any]]:
    from contracts import evaluate

    best, results = float("inf"), []
    for _ in range(repeat):
        t0 = time.perf_counter()
        results = evaluate(table, contract.expectations, str(CONTRACT))
        best = min(best, time.perf_counter() - t0)
    return best, results


def gx(table: pa.Table, contract: Any, repeat: int = 3) -> tuple[float, float, list[Any]]:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    logging.disable(logging.WARNING)
    import great_expectations as gx_module
    from great_expectations.core import ExpectationSuite

    from contracts import gx_suite

    t0 = time.perf_counter()
    columns = {}
    for field in table.schema:
        values = table.column(field.name)
        columns[field.name] = values.cast(pa.float64()) if pa.types.is_decimal(field.type) else values
    frame = pa.table(columns).to_pandas()
    convert = time.perf_counter() - t0
    document = gx_suite(contract)
    document["expectations"] = document["expectations"][: len(contract.expectations)]  # not the SLA
    context = gx_module.get_context(mode="ephemeral")
    suite = context.suites.add(ExpectationSuite(**document))
    asset = context.data_sources.add_pandas("bench").add_dataframe_asset(name="tax_income")
    batch = asset.add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": frame})
    best, results = float("inf"), []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = batch.validate(suite, result_format={"result_format": "COMPLETE"})
        best = min(best, time.perf_counter() - t0)
        results = list(result.results)
    return best, convert, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    rows = parser.parse_args().rows
    OUT.mkdir(parents=True, exist_ok=True)
    import schemas
    from contracts import load_contract

    contract = load_contract(CONTRACT)
    print(f"generating {rows:,} legacy-shaped tax.income rows ...", flush=True)
    source = generate(rows)
    source_path = OUT / "contracts_source.parquet"
    pq.write_table(source, source_path, row_group_size=100_000)

    step = conform_in_child(source_path, contract.schema_path)
    conform_rate = rows / step["seconds"]
    print(
        f"conform      {step['seconds']:7.2f} s  {conform_rate / 1e6:6.2f} M rows/s  "
        f"peak RSS {step['peak_mib']:,.0f} MiB (source loaded: {step['loaded_mib']:,.0f} MiB, "
        f"source table {step['source_mib']:,.0f} MiB)  {step['issues']:,} row issue(s)",
        flush=True,
    )

    conformed = schemas.conform(source, schemas.load_schema(contract.schema_path)).table
    our_seconds, our_results = ours(conformed, contract)
    our_rate = rows / our_seconds
    print(f"GovBus suite {our_seconds:7.2f} s  {our_rate / 1e6:6.2f} M rows/s (best of 5)", flush=True)
    gx_seconds, convert, gx_results = gx(conformed, contract)
    gx_rate = rows / gx_seconds
    print(
        f"GX suite     {gx_seconds:7.2f} s  {gx_rate / 1e6:6.2f} M rows/s "
        f"(best of 3, +{convert:.1f} s to pandas)",
        flush=True,
    )

    agree = True
    verdicts = []
    for mine, theirs in zip(our_results, gx_results, strict=True):
        gx_rows = theirs.result.get("unexpected_index_list") or []
        same_rows = np.array_equal(
            np.sort(np.asarray(gx_rows, dtype=np.int64)), mine.unexpected_rows.to_numpy()
        )
        same = same_rows and bool(theirs.success) == mine.success
        agree = agree and same
        verdicts.append(
            {
                "expectation": mine.reason,
                "govbus_unexpected": mine.unexpected_count,
                "gx_unexpected": len(gx_rows),
                "same_rows": bool(same_rows),
                "same_success": bool(theirs.success) == mine.success,
            }
        )
        mark = "=" if same else "≠"
        print(f"  {mark} {mine.unexpected_count:>7,} vs {len(gx_rows):>7,}  {mine.reason}")
    ratio = our_rate / gx_rate
    print(f"ratio GovBus/GX: {ratio:.1f}x (target >= 10x); verdicts {'identical' if agree else 'DIFFER'}")
    report = {
        "rows": rows,
        "conform": {"seconds": step["seconds"], "rows_per_s": conform_rate, **step},
        "govbus": {"seconds": our_seconds, "rows_per_s": our_rate},
        "gx": {"seconds": gx_seconds, "rows_per_s": gx_rate, "to_pandas_seconds": convert},
        "ratio": ratio,
        "verdicts_identical": agree,
        "verdicts": verdicts,
    }
    (OUT / "contracts_bench.json").write_text(json.dumps(report, indent=2))
    source_path.unlink()
    if not agree:
        sys.exit(1)


if __name__ == "__main__":
    main()
