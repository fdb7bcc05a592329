"""`govbus audit report`: the numbers of a real demo run, its files, and its date bounds."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

import audit
import consent
from exchange import state
from exchange.cli import audit as cli_audit
from exchange.cli.main import app
from exchange.demo import deployment as demo
from exchange.views.audit_report import audit_report, parse_period
from exchange.views.roles import AUDITOR, Principal
from govbus.errors import BadInput
from tests.e2e.catalog_variants import use_pre_disclosure_catalog

# These tests are about other mechanics (deliveries, purges, crashes, lifecycles, reports) on
# the Statistics Office's pseudonymized, complete copy: the sample as it was before disclosure
# control. The sample's disclosure policy is tested in tests/e2e/test_privacy_linkage.py.
_before_disclosure = pytest.fixture(autouse=True, name="_before_disclosure")(use_pre_disclosure_catalog)

AUDITOR_ = Principal(AUDITOR)
LEDGER = audit.AUDIT_METADATA.tables["ledger"]


@pytest.fixture
def ran(bus):
    """The sample's tax income, seeded and exchanged twice (two stages, seven batches)."""
    demo.seed(bus, rows=600)
    (first,) = bus.run(["tax.income"])
    demo.change_some(bus)
    (second,) = bus.run(["tax.income"])
    assert first.ok and second.ok
    return bus, [first, second]


def _key(line) -> tuple[str, str, str]:
    return (line.agency, line.purpose, line.dataset)


def test_the_numbers_are_the_ledgers_and_the_checkpoints(ran):
    bus, results = ran
    report = audit_report(bus, AUDITOR_, None, None)
    dv = state.deliveries
    with bus.engine.connect() as conn:
        checkpoints = conn.execute(
            sa.select(
                dv.c.subscription_id,
                sa.func.count(),
                sa.func.sum(dv.c.rows_delivered),
                sa.func.sum(dv.c.rows_denied),
            ).group_by(dv.c.subscription_id)
        ).all()
        quarantined = conn.execute(sa.select(sa.func.count()).select_from(state.quarantine)).scalar_one()
        staged_quarantine = conn.execute(sa.select(sa.func.sum(state.stages.c.rows_quarantined))).scalar_one()
    subs = bus.catalog.subscriptions
    expected = {
        (subs[s].agency, subs[s].purpose, subs[s].dataset): (n, int(delivered), int(denied))
        for s, n, delivered, denied in checkpoints
    }
    recipients = [x for x in report.lines if x.role == "recipient"]
    assert {_key(x): (x.batches, x.rows_delivered, x.rows_denied) for x in recipients} == expected
    # Denials by reason: what the runs counted, and they add up to the rows denied.
    denials = Counter()
    for result in results:
        for rep in result.deliveries.values():
            denials.update(rep.denials)
    housing = next(x for x in recipients if x.agency == "housing")
    assert Counter(housing.denied_by_reason) == denials and sum(denials.values()) == housing.rows_denied
    assert set(denials) <= set(consent.REASONS) and denials["no consent"] > 0
    assert (housing.basis, housing.agency_name) == ("consent", "Housing Agency")
    # Quarantine: on the owner, no purpose, the quarantine table's and the stages' count.
    [owner] = [x for x in report.lines if x.role == "owner"]
    assert (owner.agency, owner.purpose, owner.dataset) == ("tax", None, "tax.income")
    assert owner.rows_quarantined == quarantined == staged_quarantine > 0
    assert report.totals.rows_delivered == sum(v[1] for v in expected.values())
    assert report.totals.batches == sum(v[0] for v in expected.values())


def _delivery_times(bus) -> list[datetime]:
    with bus.engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(LEDGER.c.at).where(LEDGER.c.kind == "delivery").order_by(LEDGER.c.seq)
            ).scalars()
        )


def test_from_is_inclusive_and_to_is_exclusive_at_an_instant(ran):
    bus, _ = ran
    times = _delivery_times(bus)
    middle = times[len(times) // 2]
    assert middle > times[0]  # two runs: the entries are not all at one instant
    everything = audit_report(bus, AUDITOR_, None, None).totals
    since = audit_report(bus, AUDITOR_, middle, None).totals
    before = audit_report(bus, AUDITOR_, None, middle).totals
    exactly = audit_report(bus, AUDITOR_, middle, middle + timedelta(microseconds=1)).totals
    assert since.batches == sum(1 for t in times if t >= middle) and before.batches == sum(
        1 for t in times if t < middle
    )
    assert since.batches + before.batches == everything.batches
    assert since.rows_delivered + before.rows_delivered == everything.rows_delivered
    assert exactly.batches == times.count(middle) >= 1
    # Quarantine by the same rule: all of it was created before the last delivery.
    assert audit_report(bus, AUDITOR_, None, times[-1]).totals.rows_quarantined == everything.rows_quarantined
    assert audit_report(bus, AUDITOR_, times[-1], None).totals.rows_quarantined == 0


def test_a_bare_date_includes_the_whole_day_at_both_ends(ran):
    bus, _ = ran
    today = datetime.now(UTC).date()
    everything = audit_report(bus, AUDITOR_, None, None).totals
    day = audit_report(bus, AUDITOR_, *parse_period(today.isoformat(), today.isoformat())).totals
    assert day == everything and day.batches > 0
    yesterday = (today - timedelta(days=1)).isoformat()
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert audit_report(bus, AUDITOR_, *parse_period(None, yesterday)).totals.batches == 0
    assert audit_report(bus, AUDITOR_, *parse_period(tomorrow, None)).totals.rows_quarantined == 0


def test_parse_period_reads_days_and_instants_and_refuses_an_empty_or_unreadable_one():
    assert parse_period("2026-03-01", "2026-03-31") == (
        datetime(2026, 3, 1, tzinfo=UTC),
        datetime(2026, 4, 1, tzinfo=UTC),
    )
    assert parse_period(None, "2026-03-01T12:00:00+01:00") == (None, datetime(2026, 3, 1, 11, tzinfo=UTC))
    assert parse_period("", "  ") == (None, None)
    with pytest.raises(BadInput, match="empty") as empty:
        parse_period("2026-03-02", "2026-03-01")
    assert empty.value.where == "--from, --to"
    with pytest.raises(BadInput) as bad:
        parse_period("31/03/2026", None)
    assert bad.value.where == "--from" and "31/03" not in str(bad.value)


def test_csv_and_parquet_files_hold_the_same_numbers(ran, tmp_path, monkeypatch):
    bus, _ = ran
    monkeypatch.setattr(cli_audit.console, "width", 250)
    totals = audit_report(bus, AUDITOR_, None, None).totals
    runner = CliRunner()
    csv_out = runner.invoke(app, ["audit", "report", "--format", "csv"])
    assert csv_out.exit_code == 0, csv_out.output
    from_stdout = pa_csv.read_csv(pa.py_buffer(csv_out.output.encode()))
    parquet = tmp_path / "report.parquet"
    csv_file = tmp_path / "report.csv"
    for fmt, path in (("parquet", parquet), ("csv", csv_file)):
        done = runner.invoke(app, ["audit", "report", "--format", fmt, "--out", str(path)])
        assert done.exit_code == 0 and "wrote" in done.output, done.output
    tables = [from_stdout, pq.read_table(parquet), pa_csv.read_csv(csv_file)]
    for table in tables:
        rows = table.to_pylist()
        by_outcome = Counter()
        for row in rows:
            by_outcome[row["outcome"]] += row["rows"]
        assert by_outcome == {
            "delivered": totals.rows_delivered,
            "denied": totals.rows_denied,
            "quarantined": totals.rows_quarantined,
        }
        assert {r["reason"] for r in rows if r["outcome"] == "denied"} <= set(consent.REASONS)
    assert pq.read_table(parquet).schema.field("rows").type == pa.int64()
    table = runner.invoke(app, ["audit", "report", "--from", "2000-01-01", "--to", "2100-12-31"])
    assert table.exit_code == 0 and "Housing Agency" in table.output and "total" in table.output


def test_the_command_refuses_what_it_cannot_do(govbus_home):
    runner = CliRunner()
    binary = runner.invoke(app, ["audit", "report", "--format", "parquet"])
    assert isinstance(binary.exception, BadInput) and binary.exception.where == "--out"
    backwards = runner.invoke(app, ["audit", "report", "--from", "2026-03-02", "--to", "2026-03-01"])
    assert isinstance(backwards.exception, BadInput) and "empty" in backwards.exception.message
    nothing = runner.invoke(app, ["audit", "report", "--format", "csv"])
    assert nothing.exit_code == 0 and nothing.output.startswith('"period_start"')


def test_entries_of_other_kinds_and_denial_only_batches_count_right(bus):
    """A batch with every row denied still has its entry: it counts as a batch, 0 delivered."""
    with bus.engine.begin() as conn:
        bus.ledger.append(conn, "consent.given", {"consent_id": "c1"})
        for delivered, denied, denials in ((0, 5, {"no consent": 5}), (3, 2, {}), (4, 0, {})):
            entry = audit.DeliveryEntry(
                dataset="tax.income", contract_version="1.0.0", schema_sha256="c" * 64,
                subscription="housing.tax-income", recipient="housing", purpose="HOUSING_ALLOWANCE",
                basis="consent", policy_version="p" * 16, consents_used=delivered, batch_id=f"b{delivered}",
                rows_delivered=delivered, rows_denied=denied, denials=denials, fields=("subject_pseudonym",),
                pseudonym_key_id="k1", merkle_root="d" * 64, files=(), manifest_sha256=None,
            )  # fmt: skip
            bus.ledger.append_entry(conn, entry)
    [line] = audit_report(bus, AUDITOR_, None, None).lines
    assert (line.batches, line.rows_delivered, line.rows_denied) == (3, 7, 7)
    assert line.denied_by_reason == {"(reason not recorded)": 2, "no consent": 5}
    assert json.loads(line.model_dump_json())["role"] == "recipient"
