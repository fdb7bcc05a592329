"""Who received person X's data: the access index and `govbus audit subject`."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import sqlalchemy as sa
from typer.testing import CliRunner

from exchange import demo, state
from exchange.cli import app
from tests.e2e.helpers import housing_rows, statistics_files


def test_every_delivery_of_a_person_is_listed_and_the_index_holds_no_raw_id(bus):
    demo.seed(bus, rows=800)
    (result,) = bus.run(["tax.income"])
    assert result.ok
    person = housing_rows(bus.settings.home)[0]["national_id"]  # consented: 3 recipients
    with bus.engine.connect() as conn:
        index = conn.execute(sa.select(state.access_index)).all()
        seqs = (
            conn.execute(
                sa.select(state.access_index.c.recipient)
                .where(state.access_index.c.subject_ref == bus.register.subject_ref(person))
                .order_by(state.access_index.c.recipient)
            )
            .scalars()
            .all()
        )
    assert seqs == ["benefits", "housing", "statistics"]
    assert person not in json.dumps([list(r) for r in index])
    # One row per (subject, batch): as many as distinct subjects delivered, per recipient.
    per_batch = sum(
        len(set(pq.read_table(f)["subject_pseudonym"].to_pylist()))
        for f in statistics_files(bus.settings.home)
    )
    assert sum(1 for r in index if r.recipient == "statistics") == per_batch

    out = CliRunner().invoke(app, ["audit", "subject", person, "--format", "json"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    assert [d["recipient"] for d in report["deliveries"]] == ["benefits", "housing", "statistics"]
    assert {d["basis"] for d in report["deliveries"]} == {"statute:SBA-12", "consent", "statute:STAT-7"}
    assert person not in out.output

    nobody = CliRunner().invoke(app, ["audit", "subject", "00000000000", "--format", "json"])
    assert json.loads(nobody.output)["deliveries"] == []
