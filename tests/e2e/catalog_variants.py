"""The sample catalog as it was before disclosure control (issue 17), for tests of other mechanics.

Tests of encryption, purges and crash recovery exercise the Statistics Office's
pseudonymized Parquet subscription, receiving every row; since issue 17 the sample gives
it generalized, 5-anonymous returns without a pseudonym. `without_disclosure(copy)`
turns a copy of the sample catalog back into that setting so those tests keep testing
what they are about.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import CATALOG

STATISTICS = """agency: statistics
subscriptions:
  - id: statistics.tax-income
    dataset: tax.income
    purpose: OFFICIAL_STATISTICS
    basis: {statute: STAT-7}
    pseudonymize_subject: true
    fields: [tax_year, municipality_code, filing_status, gross_income, taxable_income, tax_due]
    sink:
      connector: parquet
      directory: ${GOVBUS_HOME}/agencies/statistics/inbox/tax.income
    schedule: "@weekly"
"""


def without_disclosure(catalog: Path) -> Path:
    """Drop every disclosure policy from the catalog at `catalog` (a copy); returns it."""
    (catalog / "subscriptions" / "statistics.yaml").write_text(STATISTICS, encoding="utf-8")
    purposes = catalog / "purposes.yaml"
    text = purposes.read_text(encoding="utf-8")
    text = re.sub(r"\n    disclosure:\n(?:      .*\n)+", "\n", text)
    purposes.write_text(text, encoding="utf-8")
    return catalog


def use_pre_disclosure_catalog(govbus_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fixture body: the bus and the CLI read a copy of the sample catalog without disclosure.

    A module makes it autouse with `pytest.fixture(autouse=True, name=...)(use_pre_disclosure_catalog)`,
    so it runs before the `bus` fixture opens the bus.
    """
    copy = tmp_path / "catalog-before-issue-17"
    shutil.copytree(CATALOG, copy)
    monkeypatch.setenv("GOVBUS_CATALOG", str(without_disclosure(copy)))
    return copy
