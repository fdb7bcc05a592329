"""Several workers running the same dataset's steps at once deliver every row exactly once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import pytest
import sqlalchemy as sa

from exchange import state
from exchange.demo import deployment as demo
from tests.conftest import REPO
from tests.e2e.catalog_variants import use_pre_disclosure_catalog
from tests.e2e.helpers import benefits_rows, statistics_table

# This test is about exactly-once delivery on the Statistics Office's complete copy: the
# sample as it was before disclosure control (tested in tests/e2e/test_privacy_linkage.py).
_before_disclosure = pytest.fixture(autouse=True, name="_before_disclosure")(use_pre_disclosure_catalog)

WORKER = """
import json, sys
from exchange import orchestration as o
from govbus.errors import TransientError
out = {"stage": o.stage_task("tax.income")}
for sub in ("benefits.tax-income", "statistics.tax-income", "housing.tax-income"):
    out[sub] = o.deliver_task("tax.income", sub)
try:
    out["commit"] = o.commit_task("tax.income")
except TransientError as exc:  # another worker's deliveries still running: a retry commits
    out["commit"] = str(exc)
print(json.dumps(out))
"""


def test_four_workers_at_once_deliver_each_row_exactly_once(bus, monkeypatch):
    demo.seed(bus, rows=1_500)
    env = {**os.environ, "GOVBUS_BATCH_SIZE": "200"}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = []
    for w in workers:
        out, err = w.communicate(timeout=300)
        assert w.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))

    staged = [r["stage"]["rows_read"] for r in results]
    assert sorted(staged) == [0, 0, 0, 1_500]  # one worker staged; the others found nothing new
    delivered = Counter()
    for r in results:
        for sub in ("benefits.tax-income", "statistics.tax-income"):
            delivered[sub] += r[sub]["rows_delivered"]
    good = 1_500 - 15
    assert delivered == {"benefits.tax-income": good, "statistics.tax-income": good}

    assert len(benefits_rows(bus.settings.home)) == good
    stats = statistics_table(bus.settings.home)
    assert stats.num_rows == good
    with bus.engine.connect() as conn:
        checkpoints = conn.execute(
            sa.select(state.deliveries.c.subscription_id, sa.func.count()).group_by(
                state.deliveries.c.subscription_id
            )
        ).all()
        from audit.tables import ledger

        entries = Counter(
            json.loads(p)["subscription"]
            for p in conn.execute(sa.select(ledger.c.payload).where(ledger.c.kind == "delivery")).scalars()
        )
        assert bus.ledger.verify(conn).ok
    assert entries == dict(checkpoints)
    # A final commit (what the orchestrator's retry does) commits the stage.
    assert bus.commit("tax.income").waiting == []
