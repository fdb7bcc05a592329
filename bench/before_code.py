"""The whole run of the code before issue 18, measured beside today's (exchange_bench.py).

Checks commit `BEFORE` (or another) out into bench/out/ as a git worktree, builds its batch
hasher in place and runs its `Bus.run` on the same source, in the same run of the bench,
so the speed-up is a ratio within one run rather than against a figure of another day.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

BEFORE = "1f4925f"  # main when issue 18 was measured

_STEP = """
import json, sys, time
from exchange import Bus
bus = Bus.open()
if sys.argv[1] == "consents":
    try:
        from exchange.demo import deployment as demo
    except ImportError:  # the layout before exchange/demo/ became a room
        from exchange import demo
    import numpy as np
    people = np.random.default_rng(7).integers(10**10, 10**11 - 1, size=int(sys.argv[2]))
    with bus.engine.begin() as conn:
        for p in people[: len(people) // 20]:
            bus.register.grant(conn, str(p), recipient="housing", dataset="tax.income",
                purpose="HOUSING_ALLOWANCE", fields=demo.HOUSING_FIELDS, evidence="bench")
    sys.exit(0)
t0 = time.perf_counter()
(report,) = bus.run(["tax.income"])
seconds = time.perf_counter() - t0
if report.failures:
    sys.exit(f"run failed: {report.failures}")
print(json.dumps({"seconds": seconds, "peak_mib": peak_mib()}))
"""


def run_before(
    rev: str,
    source: Path,
    rows: int,
    *,
    out: Path,
    repo: Path,
    peak: str,
    env_for: Callable[..., dict[str, str]],
) -> tuple[float, float] | None:
    """The whole run of commit `rev` (the code the issue measured) on the same source, now.

    The commit is checked out once into bench/out/before-<rev> (a git worktree; its batch
    hasher built in place) and run with this venv, its own catalog layout (its bench's
    `make_catalog`) and a fresh home: same rows, same machine, same minute, so the speed-up
    is a ratio within one run rather than against a figure measured on another day.
    Returns (seconds, peak RSS MiB), or None when the commit cannot be checked out or run.
    """
    tree = out / f"before-{rev}"
    git = ["git", "-C", str(repo)]
    if not (tree / "setup.py").exists():
        subprocess.run([*git, "worktree", "prune"], capture_output=True, check=False)
        made = subprocess.run(
            [*git, "worktree", "add", "--force", "--detach", str(tree), rev], capture_output=True, text=True
        )
        if made.returncode != 0:
            print(f"before ({rev}): not measured, git worktree failed: {made.stderr.strip()[-300:]}")
            return None
        subprocess.run(
            [sys.executable, "setup.py", "-q", "build_ext", "--inplace"],
            cwd=tree,
            capture_output=True,
            check=False,
        )
    work = out / "work-before"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    made = subprocess.run(
        [sys.executable, "-c", "import sys; sys.path.insert(0, 'bench'); import exchange_bench as b; "
         "from pathlib import Path; b.make_catalog(Path(sys.argv[1]), Path(sys.argv[2]))",
         str(work / "catalog"), str(source)],
        cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)}, capture_output=True, text=True,
    )  # fmt: skip
    if made.returncode != 0:
        print(f"before ({rev}): not measured, its catalog failed: {made.stderr.strip()[-500:]}")
        return None
    env = env_for(work, source, PYTHONPATH=str(tree))
    for step, arg in (("consents", str(rows // 2)), ("run", "")):
        done = subprocess.run(
            [sys.executable, "-c", peak + _STEP, step, arg], env=env, cwd=work, capture_output=True, text=True
        )
        if done.returncode != 0:
            print(f"before ({rev}): not measured, its {step} failed: {done.stderr.strip()[-500:]}")
            return None
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["seconds"], result["peak_mib"]
