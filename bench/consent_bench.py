"""Consent benchmark: decide + minimize (+ pseudonymize) on staged rows against a register.

Generates N staged tax.income rows (default 1,000,000; two returns per person) and a
SQLite state database with C consents (default 100,000; 3 % revoked, 2 % paused), then
runs each scenario in its own process so that its peak RSS (VmHWM) is its own, and
prints rows/s. Each scenario works per staged segment (default 50,000 rows) as the
exchange's deliver step does:

* load         — `ConsentRegister.timeline` for the scope (once per delivery run)
* statute      — decide under a statute + minimize
* consent      — decide from the consent timeline (`active_index` per segment's instant)
                 + minimize, with the audit refs computed once at stage time
* consent+refs — the same, computing the audit refs (HMAC) per segment as deliver does now
* +pseudonyms  — the two above, plus the recipient's pseudonym column (HMAC)

Usage: python bench/consent_bench.py [--rows N] [--consents C] [--segment S]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa

from audit import AUDIT_METADATA

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import consent  # noqa: E402
from consent.register.tables import consent_events, consents  # noqa: E402

SCOPE = {"recipient": "housing", "dataset": "tax.income", "purpose": "HOUSING_ALLOWANCE"}
FIELDS = ["return_id", "national_id", "tax_year", "gross_income", "taxable_income", "updated_at"]
AT = datetime(2026, 6, 1, tzinfo=UTC)
STATUTE = consent.Statute(
    id="B-1", law="bench", fields=tuple(FIELDS), valid_from=datetime(2020, 1, 1, tzinfo=UTC), **SCOPE
)
SCENARIOS = ["load", "statute", "consent", "consent+refs", "consent+pseudonyms", "consent+refs+pseudonyms"]


def _keystore(work: Path) -> consent.KeyStore:
    return consent.KeyStore(work / "keys", master_key_env="GOVBUS_BENCH_NO_SUCH_VARIABLE")


def generate(work: Path, rows: int, count: int) -> None:
    """Staged rows (with their audit refs, as a stage could store them) and the register."""
    rng = np.random.default_rng(11)
    people = rng.permutation(10**10 + np.arange(max(1, rows // 2), dtype=np.int64) * 150_001)
    n = np.arange(rows)
    national = pa.array(people[n % len(people)].astype(str))
    keys = _keystore(work)
    register = consent.ConsentRegister(keys.audit_key())
    refs = register.subject_refs(national)
    table = pa.table(
        {
            "return_id": pc.binary_join_element_wise(
                "R", pc.utf8_lpad(pa.array(n).cast(pa.string()), 9, "0"), ""
            ),
            "national_id": national,
            "tax_year": pa.array(2021 + n % 4, pa.int64()),
            "filing_status": pa.array(np.array(["SINGLE", "JOINT"])[n % 2]),
            "municipality_code": pa.array(rng.integers(1000, 9999, rows).astype(str)),
            "gross_income": pa.array(rng.lognormal(10.4, 0.6, rows).round(2)),
            "taxable_income": pa.array(rng.lognormal(10.2, 0.6, rows).round(2)),
            "tax_due": pa.array(rng.lognormal(8.0, 0.6, rows).round(2)),
            "postal_code": pa.array(rng.integers(10000, 99999, rows).astype(str)),
            "updated_at": pa.array(np.datetime64("2026-01-05T06:00:00", "us") + n.astype("timedelta64[s]")),
            "_subject_ref": refs,
        }
    )
    pq.write_table(table, work / "staged.parquet", row_group_size=100_000)
    chosen = rng.choice(len(people), size=min(count, len(people)), replace=False)
    chosen_refs = register.subject_refs(pa.array(people[chosen].astype(str))).to_pylist()
    engine = sa.create_engine(f"sqlite:///{work / 'state.db'}")
    consent.CONSENT_METADATA.create_all(engine)
    AUDIT_METADATA.create_all(engine)
    start, now = datetime(2025, 1, 1, tzinfo=UTC), datetime.now(UTC)
    fields = json.dumps(sorted(FIELDS), separators=(",", ":"))
    ids = [str(uuid.UUID(int=int(i) + 1)) for i in range(len(chosen_refs))]
    rows_c = [
        {
            "consent_id": cid,
            "subject_ref": ref,
            "fields": fields,
            "valid_from": start,
            "valid_until": None,
            "status": "ACTIVE",
            "revoked_at": None,
            "data_life": None,
            "frequency": None,
            "collection_method": "bench",
            "evidence": "",
            "version": 1,
            "created_at": now,
            "updated_at": now,
            **SCOPE,
        }
        for cid, ref in zip(ids, chosen_refs, strict=True)
    ]
    events = [
        {"consent_id": cid, "event": "given", "at": now, "recorded_at": now, "version": 1} for cid in ids
    ]
    for k, cid in enumerate(ids):  # 3 % revoked, 2 % paused (as the register would record)
        if k % 100 < 3:
            events.append(
                {
                    "consent_id": cid,
                    "event": "revoked",
                    "at": datetime(2026, 3, 1, tzinfo=UTC),
                    "recorded_at": now,
                    "version": 2,
                }
            )
        elif k % 100 < 5:
            events.append(
                {
                    "consent_id": cid,
                    "event": "paused",
                    "at": datetime(2026, 2, 1, tzinfo=UTC),
                    "recorded_at": now,
                    "version": 2,
                }
            )
    with engine.begin() as conn:
        for i in range(0, len(rows_c), 20_000):
            conn.execute(consents.insert(), rows_c[i : i + 20_000])
        for i in range(0, len(events), 20_000):
            conn.execute(consent_events.insert(), events[i : i + 20_000])
    engine.dispose()


def _peak_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(work: Path, scenario: str, segment: int) -> dict[str, float]:
    """Run one scenario; returns seconds, rows, rows/s, peak MiB."""
    keys = _keystore(work)
    register = consent.ConsentRegister(keys.audit_key())
    engine = sa.create_engine(f"sqlite:///{work / 'state.db'}")
    with engine.connect() as conn:  # warm-up: first connection, statement compilation
        register.timeline(conn, fields=FIELDS, **{**SCOPE, "recipient": "nobody"}).active(AT)
    started, cpu_started = time.perf_counter(), time.process_time()
    with engine.connect() as conn:
        timeline = register.timeline(conn, fields=FIELDS, **SCOPE)
    loaded, loaded_cpu = time.perf_counter() - started, time.process_time() - cpu_started
    if scenario == "load":
        return {
            "seconds": loaded,
            "rows": len(timeline),
            "rows_per_s": len(timeline) / loaded,
            "rows_per_cpu_s": len(timeline) / loaded_cpu,
            "peak_mib": _peak_mib(),
        }
    staged = pq.ParquetFile(work / "staged.parquet")  # one segment in memory at a time
    pseudonym_key = keys.pseudonym_key(SCOPE["recipient"], SCOPE["purpose"])
    active = timeline.active(AT)
    delivered, elapsed, cpu, offset = 0, 0.0, 0.0, 0
    for record_batch in staged.iter_batches(batch_size=segment):
        batch = pa.Table.from_batches([record_batch])
        offset += batch.num_rows
        t0, c0 = time.perf_counter(), time.process_time()
        if scenario == "statute":
            decision = consent.decide(
                None, statute=STATUTE, consents=None, at=AT, rows=batch.num_rows, fields=FIELDS, **SCOPE
            )
        else:
            refs = (
                register.subject_refs(batch.column("national_id"))
                if "refs" in scenario
                else batch.column("_subject_ref")
            )
            at = AT + timedelta(milliseconds=100 * offset // segment)  # each segment, its own instant
            decision = consent.decide(
                refs, statute=None, consents=timeline.active_index(at), at=at, fields=FIELDS, **SCOPE
            )
        # Only the fields that leave (and the subject, for its pseudonym) are filtered.
        allowed = decision.select(batch, FIELDS)
        out = consent.minimize(allowed, FIELDS, basis_fields=FIELDS)
        if "pseudonyms" in scenario:
            out = out.append_column(
                "subject_pseudonym", consent.pseudonymize(allowed.column("national_id"), pseudonym_key)
            )
        elapsed += time.perf_counter() - t0
        cpu += time.process_time() - c0
        delivered += out.num_rows
    assert active.num_rows > 0
    return {
        "seconds": elapsed,
        "rows": offset,
        "rows_per_s": offset / elapsed,
        "rows_per_cpu_s": offset / cpu if cpu else float("inf"),
        "delivered": delivered,
        "peak_mib": _peak_mib(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--consents", type=int, default=100_000)
    parser.add_argument("--segment", type=int, default=50_000)
    parser.add_argument("--child", choices=SCENARIOS)
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.work, args.child, args.segment)))
        return
    with tempfile.TemporaryDirectory(prefix="consent-bench-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        generate(work, args.rows, args.consents)
        print(
            f"generated {args.rows:,} staged rows and {args.consents:,} consents "
            f"in {time.perf_counter() - t0:.1f} s (segments of {args.segment:,} rows)"
        )
        print(
            f"load average before: {Path('/proc/loadavg').read_text().split()[0]} "
            "(the machine is shared: rows per CPU-second varies less than rows/s)"
        )
        print(f"{'scenario':<26}{'seconds':>9}{'rows/s':>14}{'rows/CPU-s':>14}{'peak RSS MiB':>14}")
        for scenario in SCENARIOS:
            result = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    scenario,
                    "--work",
                    str(work),
                    "--segment",
                    str(args.segment),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            r = json.loads(result.stdout)
            unit = "consents/s" if scenario == "load" else "rows/s"
            print(
                f"{scenario:<26}{r['seconds']:>9.2f}{r['rows_per_s']:>14,.0f}"
                f"{r['rows_per_cpu_s']:>14,.0f}{r['peak_mib']:>14.0f}"
                f"  {unit}" + (f", {r['delivered']:,} delivered" if "delivered" in r else "")
            )


if __name__ == "__main__":
    main()
