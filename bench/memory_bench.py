"""`make bench`: peak memory of the tax.income exchange, whole run and step by step (issue 18).

The goal is a peak RSS that does not grow with the source: flat within ±20 % from
1 M to 10 M rows and under 600 MiB for the whole `govbus run tax.income` (stage, three
deliveries, commit in one process). Each measurement runs in its own process and reads
that process's own high-water mark (`VmHWM` in /proc/self/status: a forked child's
`ru_maxrss` would also count the parent's pages). The source, catalog and environment
are `bench/exchange_bench.py`'s (`prepare`), in a work folder of this bench's own.

Usage: python bench/memory_bench.py [--rows N ...] [--steps]
  --rows    one or more sizes (default 1000000); the peak of each and their ratio print
  --steps   also measure stage, each deliver and commit in their own processes
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from exchange_bench import OUT, PEAK, REPO, prepare

SUBSCRIPTIONS = ("benefits.tax-income", "statistics.tax-income", "housing.tax-income")
# Housing consents granted (one register call each: 250,000 at 10 M rows would take longer
# than the run). The same people as exchange_bench's first grants; memory hardly depends on it.
GRANTS = 5_000

STEP = (
    PEAK
    + """
import json, sys, time
from exchange import Bus
step, arg = sys.argv[1], sys.argv[2]
bus = Bus.open()
t0 = time.perf_counter()
if step == "consents":
    from exchange.demo import deployment as demo
    import numpy as np
    people = np.random.default_rng(7).integers(10**10, 10**11 - 1, size=int(arg))
    with bus.engine.begin() as conn:
        for p in people[: len(people) // 20]:
            bus.register.grant(conn, str(p), recipient="housing", dataset="tax.income",
                purpose="HOUSING_ALLOWANCE", fields=demo.HOUSING_FIELDS, evidence="bench")
elif step == "run":
    results = bus.run([arg])
    failures = {k: v for r in results for k, v in r.failures.items()}
    if failures:
        sys.exit(f"run failed: {failures}")
elif step == "stage":
    bus.stage(arg)
elif step == "deliver":
    bus.deliver("tax.income", arg)
else:
    bus.commit(arg)
print(json.dumps({"seconds": time.perf_counter() - t0, "peak_mib": peak_mib()}))
"""
)


def measure(env: dict[str, str], step: str, arg: str) -> tuple[float, float]:
    """Run one step (or the whole run) in its own process: (seconds, peak RSS MiB)."""
    proc = subprocess.run(
        [sys.executable, "-c", STEP, step, arg],
        env=env,
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    if proc.returncode != 0:
        sys.exit(f"{step} {arg} failed:\n{proc.stderr[-4000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return result["seconds"], result["peak_mib"]


def one_size(rows: int, steps: bool) -> float:
    """Measure the whole run at `rows` rows (and each step with `steps`); return its peak."""
    work = OUT / f"memory-work-{rows}"
    print(f"\n== {rows:,} rows")
    _, env = prepare(work, rows)
    measure(env, "consents", str(_people(rows)))
    seconds, peak = measure(env, "run", "tax.income")
    print(f"{'govbus run tax.income (whole)':34} {seconds:8.1f} s {peak:8.0f} MiB peak RSS")
    if steps:
        # The same source read again from the start, step by step, each in its own process.
        _, env = prepare(work, rows)
        measure(env, "consents", str(_people(rows)))
        for step, arg in (
            ("stage", "tax.income"),
            *(("deliver", sub) for sub in SUBSCRIPTIONS),
            ("commit", "tax.income"),
        ):
            seconds, step_peak = measure(env, step, arg)
            print(f"{step + ' ' + arg:34} {seconds:8.1f} s {step_peak:8.0f} MiB peak RSS")
    return peak


def _people(rows: int) -> int:
    """The consents step's argument: it grants to the first twentieth of that many people."""
    return min(rows // 2, 20 * GRANTS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--steps", action="store_true")
    args = parser.parse_args()
    t0 = time.perf_counter()
    peaks = {rows: one_size(rows, args.steps) for rows in args.rows}
    if len(peaks) > 1:
        low, high = min(peaks), max(peaks)
        ratio = peaks[high] / peaks[low]
        print(f"\nwhole-run peak at {high:,} / at {low:,} rows: {ratio:.2f}× (goal: ≤ 1.2×, < 600 MiB)")
    print(f"({time.perf_counter() - t0:.0f} s in all)")


if __name__ == "__main__":
    main()
