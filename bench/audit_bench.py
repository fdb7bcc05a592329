"""`make bench`: what the audit trail costs — delivery share, `audit verify`, `audit subject`.

Three measurements, each step in its own process (peak RSS = VmHWM of that step):

1. Audit share of a delivery: exchange_bench's 1,000,000 generated tax.income rows are
   staged once; then each subscription is delivered from a fresh copy of that staged
   home, alternately with the audit work on and off, --repeats times each. "Off"
   replaces the per-record audit work by no-ops (`audit.record_leaf_block`, and
   `SharedPiece.subjects_of`, so the index gets no row); the ledger entry is still
   written. The stage writes each segment's subject set once for every delivery
   (ADR 0007): printed with the stage. Share = (median on - median off) / median on; target ≤ 20 %. The part
   columns are thread times of the fastest "on" run (they overlap the sink's work). The
   audit refs themselves are HMACs computed once at stage time, shared with consent
   decisions: printed apart.
2. `govbus audit verify` (`Ledger.verify`) on a ledger of 100,000 delivery-like entries
   appended through `Ledger.append` (1,000 per transaction, each followed by a signed
   checkpoint as a run ends with `runner.checkpoint_ledger`).
3. `govbus audit subject NATIONAL_ID` on an access index of 10,000,000 (subject,
   delivery) pairs (20 deliveries per subject, refs by the bus's audit pseudonym of
   synthetic national ids, pointing at the ledger of 2.): subject sets of segments, each
   delivered twice (ADR 0007): median and p95 ms over 50 subjects of the table lookup
   (`subject_deliveries`) and of the citizen's report with inclusion proofs
   (`citizen_report`, as `--format html` builds it, without rendering).

Usage: python bench/audit_bench.py [--rows N] [--entries E] [--index-rows I] [--repeats R]
                                   [--work DIR] [--share-only]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

import audit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from exchange_bench import OUT, REPO, prepare, run_step

sys.path.insert(0, str(REPO))
WORK = OUT / "audit-work"
SUBSCRIPTIONS = ("benefits.tax-income", "statistics.tax-income", "housing.tax-income")
PER_SUBJECT = 20  # access-index rows (deliveries) per subject
QUERIES = 50


def peak_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _timed(owner: Any, name: str, spent: Counter[str], part: str, caller: str | None = None) -> None:
    """Replace `owner.name` by a wrapper adding its time to spent[part] (calls from `caller` only).

    spent[part] gets the wall time, spent[part + "_cpu"] the calling thread's CPU time: on a
    loaded machine the wall time also counts waiting for the CPU (and the GIL), the CPU time not.
    """
    original = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if caller is not None and sys._getframe(1).f_code.co_name != caller:
            return original(*args, **kwargs)
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            return original(*args, **kwargs)
        finally:
            spent[part] += time.perf_counter() - t0
            spent[part + "_cpu"] += time.thread_time() - c0

    setattr(owner, name, wrapper)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child_stage(bus: Any, _arg: str) -> dict[str, Any]:
    spent: Counter[str] = Counter()
    _timed(type(bus.register), "subject_refs", spent, "refs")
    _timed(audit, "build_subject_set", spent, "sets")
    _timed(audit, "write_subject_set", spent, "sets")
    t0 = time.perf_counter()
    bus.stage("tax.income")
    return {"seconds": time.perf_counter() - t0, "refs": spent["refs"], "sets": spent["sets"]}


def child_deliver(bus: Any, arg: str) -> dict[str, Any]:
    """Deliver one subscription with the audit work on (timed by part) or off (no-ops)."""
    from exchange.run import shared_piece

    sub_id, mode = arg.split(",")
    spent: Counter[str] = Counter()
    if mode == "off":
        # No leaves: the root is the empty tree's; a table sink's manifest hashes its own.
        audit.record_leaf_block = lambda table: None  # type: ignore[assignment]
        shared_piece.SharedPiece.subjects_of = lambda self, rows: None  # type: ignore[method-assign,assignment,return-value]
    else:
        _timed(audit, "record_leaf_block", spent, "merkle")
        _timed(audit, "block_merkle_root", spent, "merkle")
        _timed(type(bus.register), "subject_refs", spent, "refs")
        _timed(shared_piece.SharedPiece, "subjects_of", spent, "group")
        _timed(audit, "write_access_delivery", spent, "write")
        _timed(type(bus.ledger), "append", spent, "ledger")
    t0, c0 = time.perf_counter(), _cpu_seconds()
    report = bus.deliver("tax.income", sub_id)
    seconds, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
    return {"seconds": seconds, "cpu": cpu, "delivered": report.rows_delivered, **spent}


def _entry(sub: Any, seq: int) -> Any:
    """What deliver writes for one 100,000-row batch (placeholders where it hashes or signs)."""
    from audit import DeliveryEntry

    digest = hashlib.sha256(str(seq).encode()).hexdigest()
    fields = (*sub.fields, *(("subject_pseudonym",) if sub.pseudonymize_subject else ()))
    return DeliveryEntry(
        dataset=sub.dataset, contract_version="1", schema_sha256=digest,
        subscription=sub.id, recipient=sub.agency, purpose=sub.purpose,
        basis=sub.basis, policy_version=digest[:16],
        consents_used=4_800 if sub.statute is None else 0,
        batch_id=f"S{seq // 30:08d}-{seq % 10:05d}-{sub.id}",
        rows_delivered=100_000, rows_denied=0, denials={}, fields=fields,
        pseudonym_key_id=None, merkle_root=digest, files=(), manifest_sha256=None,
    )  # fmt: skip


def _subscription(bus: Any, seq: int) -> Any:
    return bus.catalog.subscriptions_for("tax.income")[seq % 3]


def child_ledger(bus: Any, arg: str) -> dict[str, Any]:
    from exchange.run.runner import checkpoint_ledger

    entries, t0 = int(arg), time.perf_counter()
    for start in range(1, entries + 1, 1_000):
        with bus.engine.begin() as conn:
            for seq in range(start, min(start + 1_000, entries + 1)):
                bus.ledger.append_entry(conn, _entry(_subscription(bus, seq), seq))
        checkpoint_ledger(bus)
    return {"seconds": time.perf_counter() - t0}


def child_verify(bus: Any, _arg: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    with bus.engine.connect() as conn:
        report = bus.ledger.verify(conn)
    if not report.ok:
        sys.exit(f"verify found problems: {report.problems[:3]} {report.checkpoint_problems[:3]}")
    return {"seconds": time.perf_counter() - t0, "entries": report.entries, "checkpoints": report.checkpoints}


def _people(count: int) -> pa.Array:
    return pa.array((10**10 + np.arange(count, dtype=np.int64) * 7_919).astype(str))


def child_index(bus: Any, arg: str) -> dict[str, Any]:
    """Fill the access index as a bus's stages and deliveries would (ADR 0007): subject sets
    of segments of `per_set` subjects, each delivered twice (two subscriptions, every
    subject carried), so that each subject is in PER_SUBJECT deliveries."""
    from audit import subject_sets

    index_rows, entries = (int(x) for x in arg.split(","))
    people = max(1, index_rows // PER_SUBJECT)
    sets = max(1, entries // 2)
    per_set = -(-people * (PER_SUBJECT // 2) // sets)  # subjects per segment
    t0 = time.perf_counter()
    refs = bus.register.subject_refs(_people(people))
    # Subject i is in segments (i + k * people) // per_set for k < PER_SUBJECT / 2.
    slots = np.arange(people * (PER_SUBJECT // 2), dtype=np.int64)
    who = slots % people
    stored = 0
    for lo_set in range(0, sets, 1_000):
        with bus.engine.begin() as conn:
            for number in range(lo_set, min(lo_set + 1_000, sets)):
                members = who[number * per_set : (number + 1) * per_set]
                if not len(members):
                    continue
                built = subject_sets.build(refs.take(pa.array(members)))
                set_id = subject_sets.write_set(
                    conn, built, stage_id=f"bench-{number // 10}", segment=number % 10
                )
                stored += len(built.groups)
                for seq in (2 * number + 1, 2 * number + 2):
                    subject_sets.write_delivery(conn, seq, set_id, built.carried(None))
    return {"seconds": time.perf_counter() - t0, "rows": people * PER_SUBJECT, "people": people,
            "stored_rows": stored}  # fmt: skip


def child_subject(bus: Any, arg: str) -> dict[str, Any]:
    from exchange.portal.citizen import citizen_report
    from exchange.portal.subjects import subject_deliveries
    from exchange.views.roles import AUDITOR, Principal

    people = int(arg)
    chosen = _people(people).take(pa.array(np.random.default_rng(3).choice(people, QUERIES))).to_pylist()
    found: dict[str, list[float]] = {"lookup": [], "report": [], "deliveries": []}
    for national_id in chosen:
        t0 = time.perf_counter()
        deliveries = subject_deliveries(bus, Principal(AUDITOR), national_id).deliveries
        found["lookup"].append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        report = citizen_report(bus, Principal(AUDITOR), national_id)
        found["report"].append((time.perf_counter() - t0) * 1000)
        if not deliveries or any(d.proof is None for d in report.deliveries):
            sys.exit("a chosen subject has no deliveries or no proof: the index does not match")
        found["deliveries"].append(len(deliveries))
    return found


CHILDREN = {f.__name__.removeprefix("child_"): f for f in (
    child_stage, child_deliver, child_ledger, child_verify, child_index, child_subject)}  # fmt: skip


def run(env: dict[str, str], step: str, arg: str) -> dict[str, Any]:
    """Run one step in its own process (this file, --child); its last stdout line is JSON."""
    proc = subprocess.run(
        [sys.executable, __file__, "--child", step, arg],
        env=env, capture_output=True, text=True, cwd=REPO, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        sys.exit(f"{step} {arg} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _ms(values: list[float]) -> str:
    p95 = float(np.percentile(values, 95))
    return f"median {statistics.median(values):8.1f} ms   p95 {p95:8.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--index-rows", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3, help="deliveries per mode and subscription")
    parser.add_argument("--work", type=Path, default=WORK, help="scratch folder (bench/out/audit-work)")
    parser.add_argument("--share-only", action="store_true", help="measure 1. only (the delivery shares)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        from exchange import Bus

        bus = Bus.open()
        try:
            result = CHILDREN[args.child[0]](bus, args.child[1])
        finally:
            bus.close()
        print(json.dumps({**result, "peak_mib": peak_mib()}))
        return

    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} (1/5/15 min)")
    work = args.work.resolve()
    _source, env = prepare(work, args.rows)

    run_step(env, "consents", str(args.rows // 2), "audit-consents")
    staged = run(env, "stage", "tax.income")
    print(f"stage {staged['seconds']:.2f} s, of which audit refs (HMAC, shared with consent) "
          f"{staged['refs']:.2f} s ({100 * staged['refs'] / staged['seconds']:.1f} %), subject sets "
          f"(once for every delivery) {staged['sets']:.2f} s "
          f"({100 * staged['sets'] / staged['seconds']:.1f} %)\n")  # fmt: skip
    # The same staged data, delivered from a fresh copy of the staged home each time: with
    # the audit work and without it, alternately, REPEATS times; the medians are compared
    # (one run each is within the machine's noise for the small housing delivery).
    shutil.copytree(work / "home", work / "home-staged")
    head = f"{'deliver':24} {'rows out':>9} {'on s':>6} {'off s':>6} {'merkle':>7} {'refs':>6} "
    head += f"{'group':>6} {'write':>6} {'ledger':>7} {'audit %':>8} {'rows/s on':>10} {'rows/s off':>11} "
    print(head + f"{'RSS MiB':>8}  ≤ 20 %   {'cpu on':>6} {'cpu off':>7} {'cpu %':>6}")
    for sub in SUBSCRIPTIONS:
        runs: dict[str, list[dict[str, Any]]] = {"on": [], "off": []}
        for _ in range(args.repeats):
            for mode in ("off", "on"):
                shutil.rmtree(work / "home", ignore_errors=True)
                shutil.copytree(work / "home-staged", work / "home")
                runs[mode].append(run(env, "deliver", f"{sub},{mode}"))
        if {r["delivered"] for r in runs["on"] + runs["off"]} != {runs["on"][0]["delivered"]}:
            sys.exit(f"{sub}: the runs delivered different row counts")
        r = min(runs["on"], key=lambda x: x["seconds"])  # the part times of the fastest run
        on = statistics.median(x["seconds"] for x in runs["on"])
        off = statistics.median(x["seconds"] for x in runs["off"])
        cpu_on = statistics.median(x["cpu"] for x in runs["on"])
        cpu_off = statistics.median(x["cpu"] for x in runs["off"])
        share = 100 * (on - off) / on
        print(
            f"{sub:24} {r['delivered']:9,} {on:6.2f} {off:6.2f} "
            f"{r.get('merkle', 0):7.2f} {r.get('refs', 0):6.2f} {r.get('group', 0):6.2f} "
            f"{r.get('write', 0):6.2f} {r.get('ledger', 0):7.2f} {share:7.1f}% "
            f"{args.rows / on:10,.0f} {args.rows / off:11,.0f} "
            f"{r['peak_mib']:8.0f}  {'yes' if share <= 20 else 'NO':5}  "
            f"{cpu_on:6.2f} {cpu_off:7.2f} {100 * (cpu_on - cpu_off) / cpu_on:5.1f}%"
        )
        print(
            f"{'':24} thread CPU s of the parts (fastest on run): merkle {r.get('merkle_cpu', 0):.2f}  "
            f"group {r.get('group_cpu', 0):.2f}  write {r.get('write_cpu', 0):.2f}  "
            f"ledger {r.get('ledger_cpu', 0):.2f};  on/off wall s: "
            + " ".join(f"{x['seconds']:.2f}" for x in runs["on"])
            + " / "
            + " ".join(f"{x['seconds']:.2f}" for x in runs["off"])
        )

    if args.share_only:
        return
    env["GOVBUS_HOME"] = str(work / "audit-home")
    built = run(env, "ledger", str(args.entries))
    print(f"\nledger: {args.entries:,} entries (+ a checkpoint per 1,000) built in {built['seconds']:.1f} s")
    r = run(env, "verify", "-")
    print(f"audit verify: {r['entries']:,} entries, {r['checkpoints']} checkpoints in {r['seconds']:.2f} s "
          f"= {r['entries'] / r['seconds']:,.0f} entries/s, peak RSS {r['peak_mib']:.0f} MiB")  # fmt: skip
    built = run(env, "index", f"{args.index_rows},{args.entries}")
    print(f"access index: {built['rows']:,} (subject, delivery) pairs ({built['people']:,} subjects "
          f"× {PER_SUBJECT}) in {built['stored_rows']:,} subject-set bucket rows, "
          f"built in {built['seconds']:.1f} s")  # fmt: skip
    r = run(env, "subject", str(built["people"]))
    print(f"audit subject ({QUERIES} subjects, {statistics.mean(r['deliveries']):.0f} deliveries each, "
          f"peak RSS {r['peak_mib']:.0f} MiB):")  # fmt: skip
    print(f"  lookup (table/json/csv)           {_ms(r['lookup'])}")
    print(f"  citizen report + inclusion proofs {_ms(r['report'])}")


if __name__ == "__main__":
    main()
