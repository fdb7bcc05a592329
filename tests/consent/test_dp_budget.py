"""Differentially private aggregates (OpenDP) and the privacy budget: refused once spent."""

from __future__ import annotations

import decimal
import json
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa

import consent
from audit import AUDIT_METADATA, Ledger
from consent import CONSENT_METADATA, AggregatePolicy, BudgetSpent, KeyStore

SCHEMA = pa.schema(
    [
        pa.field("filing_status", pa.string()),
        pa.field("tax_year", pa.int32()),
        pa.field("gross_income", pa.decimal128(14, 2)),
    ]
)
POLICY = AggregatePolicy(
    group_by=("filing_status", "tax_year"),
    domains={"filing_status": ("SINGLE", "JOINT"), "tax_year": (2021, 2022, 2023)},
    count=True,
    sums={"gross_income": (0.0, 100_000.0)},
    epsilon=0.5,
)


def _batch(rows: int) -> pa.Table:
    return pa.table(
        {
            "filing_status": ["SINGLE", "JOINT", "OTHER"] * (rows // 3),
            "tax_year": pa.array([2021, 2022, 2021] * (rows // 3), pa.int32()),
            "gross_income": pa.array([decimal.Decimal("50000.00")] * (rows // 3 * 3), pa.decimal128(14, 2)),
        },
        schema=SCHEMA,
    )


def test_an_aggregate_releases_every_public_group_and_no_row() -> None:
    released, epsilon = consent.release_aggregate(POLICY, _batch(3000), SCHEMA)
    assert released.schema == consent.aggregate_schema(POLICY, SCHEMA)
    assert released.num_rows == 6  # 2 statuses x 3 years, empty groups included; OTHER dropped
    assert released.column_names == ["filing_status", "tax_year", "count", "sum_gross_income"]
    assert epsilon == pytest.approx(0.5)  # OpenDP's privacy map, summed over count and sum
    counts = dict(
        zip(
            zip(released["filing_status"].to_pylist(), released["tax_year"].to_pylist(), strict=True),
            released["count"].to_pylist(),
            strict=True,
        )
    )
    # Noise of scale 4 (count: sensitivity 1, epsilon 0.25): 1,000 stays near 1,000, 0 near 0.
    assert abs(counts[("SINGLE", 2021)] - 1000) < 200 and abs(counts[("JOINT", 2022)] - 1000) < 200
    assert counts[("SINGLE", 2023)] < 200 and min(counts.values()) >= 0


@pytest.fixture
def ledger_db(tmp_path: Path, keystore: KeyStore) -> tuple[sa.Engine, Ledger]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'state.db'}")
    CONSENT_METADATA.create_all(engine)
    AUDIT_METADATA.create_all(engine)
    return engine, Ledger.from_keystore(keystore)


def test_the_budget_refuses_once_spent_and_logs_every_spend(ledger_db) -> None:
    engine, ledger = ledger_db
    scope = {"recipient": "statistics", "purpose": "OFFICIAL_STATISTICS", "subscription": "s", "budget": 1.0}
    with engine.begin() as conn:
        assert consent.spend_budget(conn, ledger, batch_id="b1", epsilon=0.5, **scope) == 0.5
        assert consent.spend_budget(conn, ledger, batch_id="b2", epsilon=0.5, **scope) == 1.0
    with (
        engine.begin() as conn,
        pytest.raises(BudgetSpent, match="budget of statistics for OFFICIAL_STATISTICS is spent"),
    ):
        consent.spend_budget(conn, ledger, batch_id="b3", epsilon=0.1, **scope)
    with engine.connect() as conn:
        assert consent.budget_spent(conn, "statistics", "OFFICIAL_STATISTICS") == 1.0
        assert consent.budget_spent(conn, "statistics", "OTHER") == 0.0  # per recipient and purpose
        entries = [e for e in ledger.entries(conn) if e.kind == "privacy.budget-spent"]
    assert [json.loads(json.dumps(e.payload))["batch_id"] for e in entries] == ["b1", "b2"]
    assert entries[-1].payload["spent"] == 1.0 and entries[-1].payload["budget"] == 1.0
