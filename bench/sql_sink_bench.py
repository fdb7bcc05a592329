"""SqlSink throughput: rows/s and peak RSS per database and mode, against bare-driver baselines.

Writes N generated rows (11 columns: strings, an int, three decimal(14,2), a nullable bool,
a UTC timestamp, a date) in batches of 100,000 — what `govbus deliver` hands a sink — and
measures each case in its own process (peak RSS = that process's VmHWM):

* SqlSink upsert into an empty table, upsert of the same rows again (every row an
  update), and append; on SQLite, PostgreSQL and MariaDB.
* Baselines in the same run, on the same rows and table definition, with the input
  already converted to what the driver takes (that conversion is NOT timed, so the
  baselines are a floor, not a typical program):
  - SQLite: sqlite3 `executemany` of ready tuples, same upsert statement;
  - PostgreSQL: psycopg COPY `write_row` of ready tuples straight into the table (raw
    COPY), and the same into a TEMP table followed by `INSERT … SELECT … ON CONFLICT`
    per batch (raw COPY-staged upsert); also COPY of the CSV text SqlSink sends, rendered
    beforehand (the server's own floor for this table);
  - MariaDB: pymysql `executemany` of ready tuples, same upsert statement.

Servers come from GOVBUS_TEST_POSTGRES_URL / GOVBUS_TEST_MARIADB_URL (cases skipped when
unset). MariaDB gets `--mariadb-rows` (default 200,000): its executemany path is slower.

Usage: python bench/sql_sink_bench.py [--rows N] [--mariadb-rows N] [--only sqlite,postgresql,mariadb]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out" / "sql_sink"
BATCH = 100_000
KEYS = ["return_id"]
URL_VARIABLES = {"postgresql": "GOVBUS_TEST_POSTGRES_URL", "mariadb": "GOVBUS_TEST_MARIADB_URL"}


def generate(path: Path, rows: int) -> None:
    rng = np.random.default_rng(7)
    n = np.arange(rows)
    gross = rng.lognormal(10.4, 0.6, rows).round(2)
    taxable = (gross * rng.uniform(0.6, 0.95, rows)).round(2)
    joint = pa.array(rng.random(rows) < 0.4, mask=rng.random(rows) < 0.1)
    status = np.array(["SINGLE", "JOINT", "SEPARATE", "HEAD_OF_HOUSEHOLD"])[rng.integers(0, 4, rows)]
    table = pa.table(
        {
            "return_id": pc.binary_join_element_wise(
                "R", pc.utf8_lpad(pa.array(n).cast(pa.string()), 9, "0"), ""
            ),
            "national_id": pa.array(rng.integers(10**10, 10**11 - 1, rows)).cast(pa.string()),
            "tax_year": pa.array(2021 + n % 4, pa.int64()),
            "filing_status": pa.array(status),
            "municipality_code": pc.utf8_lpad(
                pa.array(rng.integers(101, 5000, rows)).cast(pa.string()), 4, "0"
            ),
            "gross_income": pa.array(gross).cast(pa.decimal128(14, 2)),
            "taxable_income": pa.array(taxable).cast(pa.decimal128(14, 2)),
            "tax_due": pa.array((taxable * 0.22).round(2)).cast(pa.decimal128(14, 2)),
            "joint": joint,
            "updated_at": pa.array(
                np.datetime64("2026-01-05T06:00:00.123456", "us") + (n // 7).astype("timedelta64[s]")
            ).cast(pa.timestamp("us", tz="UTC")),
            "filed_on": pa.array(np.datetime64("2025-01-01", "D") + (n % 365).astype("timedelta64[D]")),
        }
    )
    pq.write_table(table, path)


# -- one case, in its own process ----------------------------------------------------------


def peak_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def batches(path: str, limit: int) -> Any:
    done = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH):
        if done >= limit:
            return
        table = pa.Table.from_batches([batch]).slice(0, limit - done)
        done += table.num_rows
        yield table


def run_case(case: str, url: str, path: str, limit: int) -> dict[str, Any]:
    """Time one case; the table is created (by SqlSink, 1 row, then emptied) outside the timing."""
    import sqlalchemy as sa

    from connectors import SqlSink
    from connectors.sql.wire import csv_chunks, wire_table

    schema = pq.read_schema(path)
    table = f"bench_{uuid.uuid4().hex[:10]}"
    mode = "append" if case.endswith("append") else "upsert"
    sink = SqlSink(url, table, key_fields=KEYS, schema=schema, mode=mode)
    first = next(batches(path, 1))
    sink.write("setup", first)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DELETE FROM {table}")
        if mode == "append":
            conn.exec_driver_sql("DELETE FROM govbus_sink_batches")
    dialect = engine.dialect.name
    seconds = 0.0
    try:
        if case.startswith("govbus"):
            rounds = 2 if case == "govbus upsert again" else 1
            for round_ in range(rounds):
                t0 = time.perf_counter()
                for i, data in enumerate(batches(path, limit)):
                    sink.write(f"b{round_}-{i}", data)
                seconds = time.perf_counter() - t0  # the last round: "again" times updates only
        else:
            sql = sink._statements()  # the same statement text the sink uses
            raw = engine.raw_connection()
            for data in batches(path, limit):
                if case == "raw COPY of ready CSV":
                    rows = list(csv_chunks(wire_table(data, dialect), sink.copy_rows))
                elif dialect == "postgresql":
                    rows = list(zip(*(data[name].to_pylist() for name in data.column_names), strict=True))
                else:
                    wire = wire_table(data, dialect)
                    rows = list(zip(*(wire[name].to_pylist() for name in wire.column_names), strict=True))
                t0 = time.perf_counter()
                cursor = raw.cursor()
                if case == "raw executemany":
                    cursor.executemany(sql["insert"], rows)
                elif case == "raw COPY of ready CSV":
                    with cursor.copy(f"COPY {table} FROM STDIN (FORMAT csv)") as copy:
                        for text in rows:
                            copy.write(memoryview(text))
                elif case == "raw COPY":
                    with cursor.copy(f"COPY {table} FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
                else:  # raw COPY-staged upsert
                    cursor.execute(sql["stage"])
                    with cursor.copy("COPY govbus_staging FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
                    cursor.execute(sql["merge"])
                raw.commit()
                cursor.close()
                seconds += time.perf_counter() - t0
            raw.close()
        with engine.connect() as conn:
            count = conn.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar()
    finally:
        sink.close()
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
            if mode == "append":
                conn.exec_driver_sql("DROP TABLE IF EXISTS govbus_sink_batches")
        engine.dispose()
    return {"seconds": seconds, "rows": count, "peak_mib": peak_mib()}


# -- the driver ----------------------------------------------------------------------------

CASES = {
    "sqlite": ["raw executemany", "govbus upsert", "govbus upsert again", "govbus append"],
    "postgresql": [
        "raw COPY of ready CSV",
        "raw COPY",
        "govbus append",
        "raw COPY-staged upsert",
        "govbus upsert",
        "govbus upsert again",
    ],
    "mariadb": ["raw executemany", "govbus upsert", "govbus upsert again", "govbus append"],
}
BASELINE_OF = {
    "govbus append": ("raw COPY", "raw executemany"),
    "govbus upsert": ("raw COPY-staged upsert", "raw executemany"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--mariadb-rows", type=int, default=200_000)
    parser.add_argument("--only", default="sqlite,postgresql,mariadb")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.url, args.input, args.rows)))
        return
    OUT.mkdir(parents=True, exist_ok=True)
    source = OUT / "rows.parquet"
    t0 = time.perf_counter()
    generate(source, args.rows)
    print(f"generated {args.rows:,} rows in {time.perf_counter() - t0:.1f} s")
    header = f"{'database':11} {'case':24} {'rows':>9} {'seconds':>8} {'rows/s':>10} {'peak MiB':>9}"
    print(f"\n{header} {'vs raw':>7}")
    for dialect in args.only.split(","):
        if dialect == "sqlite":
            url = f"sqlite:///{OUT / 'bench.db'}"
            (OUT / "bench.db").unlink(missing_ok=True)
        else:
            url = os.environ.get(URL_VARIABLES[dialect], "")
            if not url:
                print(f"{dialect:11} skipped: {URL_VARIABLES[dialect]} is not set")
                continue
        limit = args.mariadb_rows if dialect == "mariadb" else args.rows
        rates: dict[str, float] = {}
        for case in CASES[dialect]:
            result = run_subprocess(case, url, source, limit)
            rate = result["rows"] / result["seconds"]
            rates[case] = rate
            base = next(
                (rates[b] for b in BASELINE_OF.get(case.removesuffix(" again"), ()) if b in rates), None
            )
            ratio = f"{rate / base:7.2f}" if base and not case.endswith("again") else ""
            print(
                f"{dialect:11} {case:24} {result['rows']:9,} {result['seconds']:8.2f} {rate:10,.0f}"
                f" {result['peak_mib']:9.0f} {ratio}"
            )


def run_subprocess(case: str, url: str, source: Path, limit: int) -> dict[str, Any]:
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            "--case",
            case,
            "--url",
            url,
            "--input",
            str(source),
            "--rows",
            str(limit),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    if proc.returncode != 0:
        sys.exit(f"{case} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
