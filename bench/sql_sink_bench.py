"""SqlSink throughput: rows/s and peak RSS per database and mode, against each database's raw floor.

Writes N generated rows (11 columns: strings, an int, three decimal(14,2), a nullable bool,
a UTC timestamp, a date) in batches of 100,000 — what `govbus deliver` hands a sink — and
measures each case in its own process (peak RSS = that process's VmHWM):

* SqlSink upsert into an empty table, upsert of the same rows again (every row an
  update), and append; on SQLite, PostgreSQL and MariaDB. SQLite and PostgreSQL write
  through ADBC from Arrow (`connectors/sql/adbc_writer.py`); "DBAPI …" is the same sink
  with `arrow_native = False` (executemany of tuples, CSV COPY), the path before it.
* Raw floors in the same run, on the same rows and table definition, with the input
  already converted to what the driver takes (that conversion is NOT timed, so they are
  a floor, not a typical program); "vs floor" divides rows/s by the floor's, "(CPU)" the
  floor's CPU seconds by the case's (client plus the case's own PostgreSQL sessions, read
  from /proc by application_name; the sink's work only, Parquet reading excluded):
  - SQLite: sqlite3 `executemany` of ready tuples, same upsert statement;
  - PostgreSQL: the server's COPY of ready CSV text (what the CSV path sends, rendered
    beforehand) straight into the table, and the same into a TEMP table followed by
    `INSERT … SELECT … ON CONFLICT` per batch (raw CSV-staged upsert);
  - MariaDB: pymysql `executemany` of ready tuples, same upsert statement.
* dlt (not a dependency) on the same rows when it is installed: `merge` on the key.

Servers come from GOVBUS_TEST_POSTGRES_URL / GOVBUS_TEST_MARIADB_URL (cases skipped when
unset). MariaDB gets `--mariadb-rows` (default 200,000): its executemany path is slower.

Each case runs once per round (`--rounds`, default 3), its ratio to the floor taken within
the round; the figures printed are the medians over the rounds, with each round's ratio:
on this shared 2-core machine one run's ratio moved between 1.75x and 2.44x on unchanged code.

Usage: python bench/sql_sink_bench.py [--rows N] [--mariadb-rows N] [--rounds R]
       [--only sqlite,postgresql,mariadb]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
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


def server_cpu(engine: Any, application: str) -> float:
    """CPU seconds used so far by the PostgreSQL backends of `application` (a local server:
    read from /proc; NaN where it cannot be read). Wall time on a shared machine mostly
    measures the neighbours; CPU seconds, client plus server, measure the work."""
    with engine.connect() as conn:
        pids = conn.exec_driver_sql(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %(a)s", {"a": application}
        ).scalars()
        total = 0.0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                return float("nan")
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def run_case(case: str, url: str, path: str, limit: int) -> dict[str, Any]:
    """Time one case; the table is created (by SqlSink, 1 row, then emptied) outside the timing."""
    import sqlalchemy as sa

    from connectors import SqlSink
    from connectors.sql.wire import csv_chunks, wire_table

    schema = pq.read_schema(path)
    table = f"bench_{uuid.uuid4().hex[:10]}"
    mode = "append" if case.endswith("append") else "upsert"
    engine = sa.create_engine(url)
    if engine.dialect.name == "postgresql":  # name the case's own sessions, to read their CPU
        url = sa.make_url(url).update_query_dict({"application_name": table}).render_as_string(False)
    sink = SqlSink(url, table, key_fields=KEYS, schema=schema, mode=mode)
    sink.arrow_native = case.startswith("govbus")  # read once, at the first write
    first = next(batches(path, 1))
    sink.write("setup", first)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DELETE FROM {table}")
        if mode == "append":
            conn.exec_driver_sql("DELETE FROM govbus_sink_batches")
    dialect = engine.dialect.name
    seconds = cpu = 0.0
    try:
        if case == "dlt merge":
            seconds, count = run_dlt(url, dialect, table, path, limit)
            cpu = float("nan")  # dlt works in threads and processes of its own
        elif case.startswith(("govbus", "DBAPI")):
            rounds = 2 if case == "govbus upsert again" else 1
            for round_ in range(rounds):
                seconds = cpu = 0.0  # the last round: "again" times updates only
                server0 = server_cpu(engine, table) if dialect == "postgresql" else 0.0
                for i, data in enumerate(batches(path, limit)):
                    t0, c0 = time.perf_counter(), time.process_time()  # the sink's work, not Parquet's
                    sink.write(f"b{round_}-{i}", data)
                    seconds += time.perf_counter() - t0
                    cpu += time.process_time() - c0
                if dialect == "postgresql":
                    cpu += server_cpu(engine, table) - server0
        else:
            sql = sink._statements()  # the same statement text the sink's DBAPI path uses
            raw_engine = sa.create_engine(url)
            raw = raw_engine.raw_connection()
            server0 = server_cpu(engine, table) if dialect == "postgresql" else 0.0
            for data in batches(path, limit):
                if dialect == "postgresql":
                    rows = list(csv_chunks(wire_table(data, dialect), sink.copy_rows))
                else:
                    wire = wire_table(data, dialect)
                    rows = list(zip(*(wire[name].to_pylist() for name in wire.column_names), strict=True))
                t0, c0 = time.perf_counter(), time.process_time()
                cursor = raw.cursor()
                if case == "raw executemany":
                    cursor.executemany(sql["insert"], rows)
                elif case == "raw COPY of ready CSV":
                    with cursor.copy(f"COPY {table} FROM STDIN (FORMAT csv)") as copy:
                        for text in rows:
                            copy.write(memoryview(text))
                else:  # raw CSV-staged upsert
                    cursor.execute(sql["stage"])
                    with cursor.copy("COPY govbus_staging FROM STDIN (FORMAT csv)") as copy:
                        for text in rows:
                            copy.write(memoryview(text))
                    cursor.execute(sql["merge"])
                raw.commit()
                cursor.close()
                seconds += time.perf_counter() - t0
                cpu += time.process_time() - c0
            if dialect == "postgresql":
                cpu += server_cpu(engine, table) - server0
            raw.close()
            raw_engine.dispose()
        if case != "dlt merge":  # dlt writes into its own dataset: it counted what it was given
            with engine.connect() as conn:
                count = conn.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar()
    finally:
        sink.close()
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
            if mode == "append":
                conn.exec_driver_sql("DROP TABLE IF EXISTS govbus_sink_batches")
        engine.dispose()
    if dialect not in ("sqlite", "postgresql"):
        cpu = float("nan")  # one server process for every session: its share cannot be read
    return {"seconds": seconds, "cpu": cpu, "rows": count, "peak_mib": peak_mib()}


def run_dlt(url: str, dialect: str, table: str, path: str, limit: int) -> tuple[float, int]:
    """dlt's `merge` on the key, batch by batch, into its own dataset on the same database.

    dlt is not a GovBus dependency: this runs only where it is installed.
    """
    import dlt  # type: ignore[import-not-found]

    if dialect == "postgresql":
        import sqlalchemy as sa

        parsed = sa.make_url(url).set(drivername="postgresql")
        if not parsed.password:  # dlt insists on one; a server on trust auth ignores it
            parsed = parsed.set(password="unused")
        destination = dlt.destinations.postgres(parsed.render_as_string(hide_password=False))
    else:
        destination = dlt.destinations.sqlalchemy(url)
    pipeline = dlt.pipeline(
        pipeline_name=table,
        destination=destination,
        dataset_name=f"{table}_dlt",
        pipelines_dir=str(OUT / "dlt"),
    )
    rows, t0 = 0, time.perf_counter()
    for data in batches(path, limit):
        pipeline.run(data, table_name=table, write_disposition="merge", primary_key=KEYS)
        rows += data.num_rows
    return time.perf_counter() - t0, rows


# -- the driver ----------------------------------------------------------------------------

CASES = {
    "sqlite": ["raw executemany", "govbus upsert", "govbus upsert again", "govbus append", "DBAPI upsert"],
    "postgresql": [
        "raw COPY of ready CSV",
        "govbus append",
        "DBAPI append",
        "raw CSV-staged upsert",
        "govbus upsert",
        "govbus upsert again",
    ],
    "mariadb": ["raw executemany", "govbus upsert", "govbus upsert again", "govbus append"],
}
# The floor each case is divided by: the first of these measured in the same run.
FLOOR_OF = {
    "append": ("raw COPY of ready CSV", "raw executemany"),
    "upsert": ("raw CSV-staged upsert", "raw executemany"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--mariadb-rows", type=int, default=200_000)
    parser.add_argument("--only", default="sqlite,postgresql,mariadb")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds of every case; medians printed, ratios taken within each round (default 3)",
    )
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
    print(
        "\nseconds: wall time of the sink's (or floor's) work; CPU s: its CPU time, client plus"
        "\nPostgreSQL's server sessions (SQLite runs in-process; MariaDB's server share cannot be"
        "\nread). On a shared machine wall time mostly measures the neighbours: compare CPU."
    )
    header = (
        f"{'database':11} {'case':24} {'rows':>9} {'seconds':>8} {'rows/s':>10} {'CPU s':>7} {'peak MiB':>9}"
    )
    print(f"\n{header} {'vs floor':>8} {'(CPU)':>6}  floor")
    has_dlt = importlib.util.find_spec("dlt") is not None
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
        cases = CASES[dialect] + (["dlt merge"] if has_dlt else [])
        # Every case once per round, rounds one after the other: a case's ratio to its floor
        # is taken within each round, and the medians over the rounds are printed.
        runs: dict[str, list[dict[str, Any]]] = {case: [] for case in cases}
        ratios: dict[str, list[tuple[float, float]]] = {case: [] for case in cases}
        for _ in range(args.rounds):
            rates: dict[str, float] = {}
            cpus: dict[str, float] = {}
            for case in cases:
                result = run_subprocess(case, url, source, limit)
                runs[case].append(result)
                rates[case], cpus[case] = result["rows"] / result["seconds"], result["cpu"]
                floor = _floor(case, rates)
                if floor:
                    by_cpu = cpus[floor] / result["cpu"] if result["cpu"] > 0 else float("nan")
                    ratios[case].append((rates[case] / rates[floor], by_cpu))
        medians: dict[str, float] = {}
        for case in cases:
            seconds = statistics.median(r["seconds"] for r in runs[case])
            rows = runs[case][-1]["rows"]
            cpu = statistics.median(r["cpu"] for r in runs[case])
            peak = max(r["peak_mib"] for r in runs[case])
            medians[case] = rows / seconds
            floor = _floor(case, medians)
            ratio = ""
            if floor and ratios[case]:
                by_rate = statistics.median(r for r, _ in ratios[case])
                by_cpu = statistics.median(c for _, c in ratios[case])
                spread = ", ".join(f"{r:.2f}" for r, _ in ratios[case])
                ratio = f"{by_rate:8.2f} {by_cpu:6.2f}  {floor} (rounds: {spread})"
            print(
                f"{dialect:11} {case:24} {rows:9,} {seconds:8.2f} {rows / seconds:10,.0f}"
                f" {cpu:7.2f} {peak:9.0f} {ratio}"
            )
        rates = medians
        if "dlt merge" in rates:
            for case in ("govbus upsert", "govbus append"):
                print(f"{dialect:11} {case} is {rates[case] / rates['dlt merge']:.2f}x dlt merge")
        else:
            print(f"{dialect:11} dlt: not installed")


def _floor(case: str, measured: dict[str, float]) -> str | None:
    """The floor `case` is divided by: the first of its mode's floors measured (None: none, or itself)."""
    mode = "append" if case.endswith("append") else "upsert"
    floor = next((b for b in FLOOR_OF[mode] if b in measured), None)
    return floor if floor != case else None


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
