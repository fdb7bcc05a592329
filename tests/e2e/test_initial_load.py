"""A late subscriber receives the dataset's history, then its changes, exactly once.

Two homes are seeded alike. In the *early* one the subscription exists from the first
run; in the *late* one the first run happens without it (the dataset is staged,
committed and — for the drop folder — archived with nobody to receive it), the source
changes, and the subscription appears before the second run. At the end both recipients
must hold the same rows, and the late one must have received exactly the rows of the
state at its activation plus the later changes: no gap at the switch, no duplicate.

For each kind of source of the sample: SQL (tax), a fixed-width EBCDIC drop folder
(registry) and a REST API (health, consent-based).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from exchange import Bus, state
from exchange.catalog import load_catalog
from exchange.demo import deployment as demo
from exchange.demo.health_api import TOKEN_ENV, URL_ENV
from tests.conftest import CATALOG
from tests.e2e.helpers import sql_rows

ROWS = 1_200
# dataset → (subscription, its table in the Benefits database, its key)
CASES = {
    "tax.income": ("benefits.tax-income", "tax_income", "return_id"),
    "registry.residents": ("benefits.residents", "residents", "national_id"),
    "health.disability": ("benefits.disability", "disability", "assessment_id"),
}

pytestmark = pytest.mark.slow


def _open(home: Path, monkeypatch: pytest.MonkeyPatch, *, without: str | None = None) -> Bus:
    monkeypatch.setenv("GOVBUS_HOME", str(home))
    catalog = load_catalog(CATALOG)
    if without is not None:
        del catalog.subscriptions[without]
    return Bus.open(catalog=catalog)


def _run(bus: Bus, dataset: str) -> None:
    with demo.agency_systems(bus):
        (result,) = bus.run([dataset])
    assert result.ok, result.failures


def _delivered_rows(bus: Bus, sub_id: str) -> tuple[int, int]:
    """(rows delivered, of them in an initial load) per the checkpoint rows."""
    dv = state.deliveries
    with bus.engine.connect() as conn:
        rows = conn.execute(
            sa.select(dv.c.stage_id, dv.c.rows_delivered).where(dv.c.subscription_id == sub_id)
        )
        total = load = 0
        for stage_id, count in rows:
            total += count
            load += count if ".load." in stage_id else 0
    return total, load


@pytest.fixture
def homes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, govbus_home: Path) -> tuple[Path, Path]:
    monkeypatch.delenv(URL_ENV, raising=False)  # the demo serves the Health Ministry itself
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    return tmp_path / "early", tmp_path / "late"


@pytest.mark.parametrize("dataset", sorted(CASES))
def test_a_late_subscriber_gets_the_history_then_the_changes(
    dataset: str, homes: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    sub_id, table, key = CASES[dataset]
    early_home, late_home = homes
    received: dict[str, list[dict]] = {}
    delivered: dict[str, tuple[int, int]] = {}
    for name, home in (("early", early_home), ("late", late_home)):
        bus = _open(home, monkeypatch, without=sub_id if name == "late" else None)
        demo.seed(bus, rows=ROWS)
        _run(bus, dataset)  # the late home: staged and committed with nobody to receive it
        if name == "late":
            with bus.engine.connect() as conn:
                committed = conn.execute(
                    sa.select(sa.func.count()).where(
                        state.stages.c.dataset == dataset, state.stages.c.status == "committed"
                    )
                ).scalar()
            assert committed == 1
        demo.change_some(bus)
        bus.close()
        bus = _open(home, monkeypatch)  # now with the subscription
        _run(bus, dataset)
        received[name] = sql_rows(home / "agencies" / "benefits" / "benefits.db", table)
        delivered[name] = _delivered_rows(bus, sub_id)
        bus.close()

    def as_set(rows: list[dict]) -> Counter:
        return Counter(tuple(sorted((k, str(v)) for k, v in r.items())) for r in rows)

    assert received["late"], "the late subscriber received nothing"
    assert as_set(received["late"]) == as_set(received["early"])
    assert len({r[key] for r in received["late"]}) == len(received["late"])
    # Exactly once: the late one received the state at activation (one row per key, all of
    # the first run's rows here) and then the same change set as the early one.
    late_total, late_load = delivered["late"]
    early_total, early_load = delivered["early"]
    assert early_load == 0 and late_load > 0
    assert late_total == early_total


def test_a_drop_folder_with_no_subscriber_loses_nothing(
    govbus_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The registry's export is archived at commit; its rows live on in the snapshot."""
    bus = _open(govbus_home, monkeypatch, without="benefits.residents")
    demo.seed(bus, rows=ROWS)
    _run(bus, "registry.residents")
    archived = list((bus.settings.home / "agencies").rglob("*archive*"))
    assert archived, "the drop folder archived nothing (the test expects it to)"
    with bus.engine.connect() as conn:
        snap = conn.execute(sa.select(state.dataset_snapshots)).one()
        staged = conn.execute(sa.select(state.stages.c.rows_staged)).scalar()
    assert snap.rows == staged > 0 and snap.complete
    bus.close()


def test_a_removed_and_readded_subscription_reloads_rather_than_missing_stages(
    govbus_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bus = _open(govbus_home, monkeypatch)
    demo.seed(bus, rows=ROWS)
    _run(bus, "tax.income")
    first, _ = _delivered_rows(bus, "benefits.tax-income")
    bus.close()
    demo_change = _open(govbus_home, monkeypatch, without="benefits.tax-income")
    demo.change_some(demo_change)
    _run(demo_change, "tax.income")  # committed without it
    demo_change.close()
    bus = _open(govbus_home, monkeypatch)
    _run(bus, "tax.income")
    total, load = _delivered_rows(bus, "benefits.tax-income")
    assert load > 0 and total == first + load  # it loaded the current state again
    bus.close()
