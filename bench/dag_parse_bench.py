"""`make bench`: how long Airflow takes to parse the dags/ folder, against a baseline.

Airflow parses every DAG file again and again: the DAG processor every
`refresh_interval`, and in Airflow 3 each task process too, before it runs its task.
Each run here is a fresh process that imports Airflow, then times one
`DagBag(dag_folder=...)` fill, as the DAG processor does. The baseline is the same
measurement on a folder holding one trivial DAG file (one DAG, one task, nothing else
imported), so the ratio is what GovBus's own parsing costs (the catalog's files, and
the imports of the parts) over Airflow's floor. Medians of several runs; the slowest
imports of one extra run (python -X importtime) are listed to say where time goes.

Usage: python bench/dag_parse_bench.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"

MEASURE = """
import json, sys, time
import airflow  # Airflow's own start-up is not part of parsing
from airflow.dag_processing.dagbag import DagBag
start = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "dags": len(bag.dags), "errors": len(bag.import_errors)}))
"""

TRIVIAL_DAG = """
import pendulum
from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator

with DAG(dag_id="baseline", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
    EmptyOperator(task_id="nothing")
"""


def _env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        AIRFLOW_HOME=str(REPO),
        AIRFLOW_CONFIG=str(REPO / "airflow.cfg"),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{tmp / 'airflow.db'}",
        AIRFLOW__LOGGING__BASE_LOG_FOLDER=str(tmp / "logs"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        GOVBUS_HOME=str(tmp / "govbus-home"),
        GOVBUS_CATALOG=str(REPO / "catalog"),
    )
    env.pop("GOVBUS_STATE_URL", None)
    return env


def parse_once(folder: Path, env: dict[str, str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(folder)], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"parsing {folder} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def slowest_imports(folder: Path, env: dict[str, str], top: int = 8) -> list[tuple[str, float]]:
    """Cumulative import time of the top-level modules the DAG files pull in beyond Airflow."""
    marker = "--- parsing starts"
    script = MEASURE.replace("start = time.perf_counter()", f"print({marker!r}, file=sys.stderr, flush=True)")
    script = script.replace("seconds = time.perf_counter() - start", "seconds = 0.0")
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", script, str(folder)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    found: dict[str, float] = {}
    lines = done.stderr.splitlines()
    for line in lines[lines.index(marker) + 1 :] if marker in lines else []:
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = (part.strip() for part in line.split("|", 2))
        if cumulative.isdigit() and "." not in name.strip():
            found[name.strip()] = max(found.get(name.strip(), 0.0), int(cumulative) / 1e6)
    return sorted(found.items(), key=lambda item: -item[1])[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        env = _env(tmp)
        baseline_dir = tmp / "baseline-dags"
        baseline_dir.mkdir()
        (baseline_dir / "baseline_dag.py").write_text(TRIVIAL_DAG)
        dags_dir = REPO / "dags"
        govbus, baseline = [], []
        for _ in range(args.runs):  # interleaved, so a busy moment hurts both alike
            govbus.append(parse_once(dags_dir, env))
            baseline.append(parse_once(baseline_dir, env))
        imports = slowest_imports(dags_dir, env)
    if any(r["errors"] for r in govbus):
        raise SystemExit("the dags/ folder has import errors: run the DAG tests")
    g = statistics.median(r["seconds"] for r in govbus)
    b = statistics.median(r["seconds"] for r in baseline)
    dags = govbus[0]["dags"]
    print(f"DAG parse: dags/ ({dags} DAGs) {g:.2f} s, baseline (1 trivial DAG) {b:.3f} s, ratio {g / b:.0f}x")
    print(f"  median of {args.runs} fresh processes each; per DAG {g / dags:.3f} s")
    listing = ", ".join(f"{name} {seconds:.2f}" for name, seconds in imports)
    print(f"  slowest imports while parsing dags/ (cumulative s): {listing}")
    result = {
        "runs": args.runs,
        "dags": dags,
        "govbus_seconds": g,
        "baseline_seconds": b,
        "ratio": g / b,
        "govbus_all": [r["seconds"] for r in govbus],
        "baseline_all": [r["seconds"] for r in baseline],
        "slowest_imports": imports,
    }
    (OUT / "dag_parse.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
