"""A stage writes each segment's subject set (ADR 0007) beside the segment, and fails without it."""

from __future__ import annotations

import pyarrow as pa
import pytest
import sqlalchemy as sa

import audit
from audit import AUDIT_METADATA
from exchange import state
from tests.exchange.run.test_stage_source_errors import ListSource, _row


def _batches(count: int, rows: int) -> list[pa.Table]:
    return [
        pa.Table.from_pylist(
            [_row(b * rows + i, national_id=f"{10**10 + (b * rows + i) % 37:011d}") for i in range(rows)]
        )
        for b in range(count)
    ]


def test_every_staged_segment_has_its_subject_set(bus, monkeypatch):
    tables = _batches(5, 40)
    monkeypatch.setattr(bus, "source_for", lambda dataset: ListSource(tables))
    report = bus.stage("tax.income")
    assert report.segments == 5
    with bus.engine.connect() as conn:
        for segment in range(5):
            refs = bus.staging.read_segment(report.stage_id, segment)["_subject_ref"]
            found = audit.current_subject_set(conn, report.stage_id, segment, len(refs))
            assert found is not None, segment
            # The set names each row's own subject: its key at the row's index is the row's ref.
            keys = {}
            sets = AUDIT_METADATA.tables["subject_set_buckets"]
            for first, blob in conn.execute(
                sa.select(sets.c.first_index, sets.c.refs).where(sets.c.set_id == found.set_id)
            ):
                data = bytes(blob)
                keys.update({first + at // 32: data[at : at + 32].hex() for at in range(0, len(data), 32)})
            assert [keys[i] for i in found.row_subjects.tolist()] == audit.refs_as_hex(refs).to_pylist()


def test_a_set_that_cannot_be_written_fails_the_stage(bus, monkeypatch):
    monkeypatch.setattr(bus, "source_for", lambda dataset: ListSource(_batches(3, 20)))
    calls = []

    def broken(conn, subjects, **where):
        calls.append(where["segment"])
        if where["segment"] == 1:
            raise RuntimeError("the state database went away")
        return original(conn, subjects, **where)

    original = audit.write_subject_set
    monkeypatch.setattr(audit, "write_subject_set", broken)
    with pytest.raises(RuntimeError, match="went away"):
        bus.stage("tax.income")
    assert 1 in calls
    with bus.engine.connect() as conn:
        statuses = conn.execute(sa.select(state.stages.c.status)).scalars().all()
    assert "staged" not in statuses  # nothing to deliver from a stage missing a set
