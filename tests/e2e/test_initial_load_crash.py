"""kill -9 around a new subscriber's initial load and its first change set: nothing lost or doubled.

A request is approved after the dataset's first run and a change at the source; the next
run must deliver the state as of that first run (the initial load, three parts at a
batch size of 500), then the change set. A child process runs it and is killed with
SIGKILL at one point; the run is then done again in this process. The recipient's Parquet
folder must then hold each (return_id, updated_at) once, every good source key, and as
many rows as the load plus the change set.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from exchange import Bus, state
from exchange.demo import deployment as demo
from exchange.subscriptions import decisions, requests
from tests.e2e.helpers import benefits_rows

pytestmark = pytest.mark.slow

SUB = "benefits.tax-copy"
SPEC = requests.RequestSpec(
    agency="benefits",
    dataset="tax.income",
    purpose="BENEFIT_ELIGIBILITY",
    statute="SBA-12",
    fields=("return_id", "gross_income", "updated_at"),
    sink={"connector": "parquet", "directory": "${GOVBUS_HOME}/agencies/benefits/inbox/tax-copy"},
    id=SUB,
    requested_by="case.worker",
)

# Run in the child: arm one kill point, then run tax.income.
CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from exchange import Bus
    from exchange.run import initial_load, snapshots

    point = sys.argv[1]
    sub = "benefits.tax-copy"

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    bus = Bus.open()
    seen = []

    def after_write(batch_id):
        if sub not in batch_id:
            return
        seen.append(batch_id)
        load = [b for b in seen if ".load." in b]
        if point == "load-first" and len(load) == 1:
            die()
        if point == "load-last" and len(load) == 3:
            die()
        if point == "switch" and ".load." not in batch_id:
            die()

    bus.hooks.after_sink_write = after_write
    if point == "pinned":
        real = initial_load.pieces
        def pieces(ctx, s, life):
            if s.id == sub:
                die()
            return real(ctx, s, life)
        initial_load.pieces = pieces
        import exchange.run.deliver as deliver
        deliver.initial_load.pieces = pieces
    if point == "commit-fold":
        real_store = snapshots.store
        def store(conn, snapshot):
            die()
        snapshots.store = store
    bus.run(["tax.income"])
    print("finished without being killed")
    """
)

POINTS = ["pinned", "load-first", "load-last", "switch", "commit-fold"]


@pytest.mark.parametrize("point", POINTS)
def test_kill_9_at_the_switch_then_rerun_is_exactly_once(
    govbus_home: Path, tmp_path: Path, point: str
) -> None:
    bus = Bus.open()
    demo.seed(bus, rows=1_200)
    (first,) = bus.run(["tax.income"])
    assert first.ok
    demo.change_some(bus)
    requests.submit(bus, SPEC)
    decisions.decide(
        bus, SUB, decision="approve", role="owner", agency="tax", by="head.of.data", reason="SBA-12"
    )
    bus.close()

    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    child = subprocess.run(
        [sys.executable, str(script), point], env=env, capture_output=True, text=True, timeout=600
    )
    assert child.returncode == -signal.SIGKILL, (child.returncode, child.stdout[-2000:], child.stderr[-2000:])

    bus = Bus.open()
    (again,) = bus.run(["tax.income"])
    assert again.ok, again.failures
    folder = bus.settings.home / "agencies" / "benefits" / "inbox" / "tax-copy"
    rows = [row for path in sorted(folder.glob("*.parquet")) for row in pq.read_table(path).to_pylist()]
    pairs = Counter((r["return_id"], r["updated_at"]) for r in rows)
    assert pairs and max(pairs.values()) == 1, "a row was delivered twice"
    # Every good key (the catalog subscriber's upserted copy has exactly those) arrived.
    assert {r["return_id"] for r in rows} == {r["return_id"] for r in benefits_rows(bus.settings.home)}
    st = state.stages
    with bus.engine.connect() as conn:
        staged = dict(
            conn.execute(sa.select(st.c.seq, st.c.rows_staged).where(st.c.dataset == "tax.income")).all()
        )
        snapshot = conn.execute(sa.select(state.dataset_snapshots.c.rows)).scalar()
        committed = conn.execute(
            sa.select(sa.func.count()).where(st.c.dataset == "tax.income", st.c.status != "committed")
        ).scalar()
    assert len(rows) == staged[1] + staged[2]  # the state at activation, then the change set
    assert committed == 0
    assert snapshot == len({r["return_id"] for r in rows})  # one row per key in the snapshot
    # No part file is left that the snapshot does not name.
    parts = {p.name for p in (bus.settings.home / "staging" / "_snapshots" / "tax.income").glob("*.*")}
    with bus.engine.connect() as conn:
        named = {p["name"] for p in conn.execute(sa.select(state.dataset_snapshots.c.parts)).scalar()}
    assert parts == named
    bus.close()
