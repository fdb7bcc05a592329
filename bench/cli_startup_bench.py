"""`make bench`: how long `govbus --help`, `status` and `catalog list` take, against a baseline.

Every command, `--help` included, is a fresh process that imports the command line.
Each measurement here is the wall time of one such process: `govbus --help`,
`govbus status` on a GovBus home with the sample catalog (made and migrated by one
untimed `status` first, so the runs time start-up and the status queries, not the first
migration), and `python -c pass` as the same-run baseline: the ratios are what GovBus
costs over the interpreter's own start. Medians of several runs, interleaved so a busy
moment hurts all alike.

Two settings of bytecode, because they change the answer most:

* `no bytecode`: PYTHONDONTWRITEBYTECODE=1, as on these machines, and no bytecode
  compiled at install: every process compiles every module it imports from source.
* `bytecode`: the same processes reading and writing compiled bytecode in a scratch
  PYTHONPYCACHEPREFIX (warmed by one untimed run), which is what `make install`'s
  compileall step (and a bytecode-compiling install of the dependencies) gives. The
  repository and the virtualenv are left untouched.

The commands run as `python -m exchange.cli` from the repository (what `govbus` runs).

Usage: python bench/cli_startup_bench.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"

GOVBUS = [sys.executable, "-m", "exchange.cli"]
COMMANDS: dict[str, list[str]] = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "govbus --help": [*GOVBUS, "--help"],
    "govbus status": [*GOVBUS, "status"],
    "govbus catalog list": [*GOVBUS, "catalog", "list"],
}


def _env(home: Path, *, pycache: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(GOVBUS_HOME=str(home), GOVBUS_CATALOG=str(REPO / "catalog"), COLUMNS="120")
    for name in ("GOVBUS_STATE_URL", "GOVBUS_MASTER_KEY", "PYTHONPYCACHEPREFIX", "PYTHONDONTWRITEBYTECODE"):
        env.pop(name, None)
    if pycache is None:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def time_once(argv: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one process; a failure stops the bench with its stderr."""
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[1:])} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds


def measure(runs: int, env: dict[str, str]) -> dict[str, list[float]]:
    """`runs` wall times per command, interleaved, after one untimed round (home, caches)."""
    for argv in COMMANDS.values():
        time_once(argv, env)
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(runs):
        for name, argv in COMMANDS.items():
            times[name].append(time_once(argv, env))
    return times


def first_status(env: dict[str, str]) -> float:
    """`govbus status` on a home that does not exist yet (state DB migrated, keys made)."""
    return time_once(COMMANDS["govbus status"], env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    result: dict[str, object] = {"runs": args.runs}
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        for mode, pycache in (("no bytecode", None), ("bytecode", tmp / "pycache")):
            slug = mode.replace(" ", "-")
            time_once(COMMANDS["govbus status"], _env(tmp / f"warm-{slug}", pycache=pycache))  # bytecode
            env = _env(tmp / f"home-{slug}", pycache=pycache)
            fresh = first_status(env)
            times = measure(args.runs, env)
            medians = {name: statistics.median(values) for name, values in times.items()}
            base = medians["python -c pass"]
            print(f"CLI start-up, {mode} (median of {args.runs} fresh processes):")
            for name, seconds in medians.items():
                ratio = "" if name == "python -c pass" else f"  ({seconds / base:.0f}x the baseline)"
                print(f"  {name:19} {seconds:6.3f} s{ratio}")
            print(f"  govbus status on a new home (migrates, makes keys): {fresh:.2f} s")
            result[mode] = {"medians": medians, "all": times, "first_status_seconds": fresh}
    (OUT / "cli_startup.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
