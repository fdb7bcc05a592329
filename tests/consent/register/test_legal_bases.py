"""Purposes and statutes: loading, validation errors with file:line, validity windows."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from consent import Statute, load_purposes, load_statutes
from govbus.errors import BadConfiguration

PURPOSES = """\
purposes:
  - code: BENEFIT_ELIGIBILITY
    description: Check eligibility for social benefits.
  - code: OFFICIAL_STATISTICS
    description: Produce official statistics.
"""

STATUTES = """\
statutes:
  - id: SBA-ACT-12
    law: "Social Benefits Act §12(3)"
    dataset: tax.income
    recipient: benefits
    purpose: BENEFIT_ELIGIBILITY
    fields: [national_id, tax_year, gross_income]
    valid_from: 2020-01-01
    valid_until: 2025-12-31
  - id: STAT-ACT-4
    law: "Statistics Act §4"
    dataset: tax.income
    recipient: statistics
    purpose: OFFICIAL_STATISTICS
    fields: [tax_year, municipality_code, gross_income]
    linkage_domain: official-statistics
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_purposes_and_statutes(tmp_path: Path) -> None:
    purposes = load_purposes(_write(tmp_path, "purposes.yaml", PURPOSES))
    assert set(purposes) == {"BENEFIT_ELIGIBILITY", "OFFICIAL_STATISTICS"}
    statutes = load_statutes(_write(tmp_path, "legal-bases.yaml", STATUTES), purposes)
    sba = statutes["SBA-ACT-12"]
    assert sba.law == "Social Benefits Act §12(3)"
    assert sba.fields == ("national_id", "tax_year", "gross_income")
    assert sba.valid_from == datetime(2020, 1, 1, tzinfo=UTC)
    assert sba.valid_until == datetime(2026, 1, 1, tzinfo=UTC)  # through 31 December
    assert statutes["STAT-ACT-4"].linkage_domain == "official-statistics"
    assert statutes["STAT-ACT-4"].valid_from is None


def test_validity_window_and_scope() -> None:
    statute = Statute(
        id="S",
        law="L",
        dataset="tax.income",
        recipient="benefits",
        purpose="P",
        fields=("a",),
        valid_from=datetime(2020, 1, 1, tzinfo=UTC),
        valid_until=datetime(2026, 1, 1, tzinfo=UTC),
    )
    args = ("tax.income", "benefits", "P")
    assert not statute.covers(*args, datetime(2019, 12, 31, 23, 59, tzinfo=UTC))
    assert statute.covers(*args, datetime(2020, 1, 1, tzinfo=UTC))
    assert statute.covers(*args, datetime(2025, 12, 31, 23, 59, tzinfo=UTC))
    assert not statute.covers(*args, datetime(2026, 1, 1, tzinfo=UTC))
    assert statute.covers(*args, datetime(2023, 6, 1))  # naive is read as UTC
    assert not statute.covers("tax.income", "statistics", "P", datetime(2023, 6, 1, tzinfo=UTC))
    assert not statute.covers("tax.income", "benefits", "Q", datetime(2023, 6, 1, tzinfo=UTC))
    assert statute.missing_fields(["a", "b"]) == ("b",)


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        (STATUTES.replace('    law: "Statistics Act §4"\n', ""), 10, "statutes[1].law"),
        (
            STATUTES.replace("fields: [tax_year, municipality_code, gross_income]", "fields: []"),
            15,
            "statutes[1].fields",
        ),
        (STATUTES.replace("valid_until: 2025-12-31", "valid_until: someday"), 9, "statutes[0].valid_until"),
        (
            STATUTES.replace("valid_until: 2025-12-31", "valid_until: 2019-01-01"),
            9,
            "statutes[0].valid_until",
        ),
        (STATUTES.replace("    linkage_domain:", "    linkage_domian:"), 16, "statutes[1].linkage_domian"),
        (STATUTES.replace("id: STAT-ACT-4", "id: SBA-ACT-12"), 10, "statutes[1].id"),
        (STATUTES.replace("recipient: statistics", "recipient: ../etc"), 13, "statutes[1].recipient"),
        (
            STATUTES.replace("purpose: OFFICIAL_STATISTICS", "purpose: UNKNOWN_PURPOSE"),
            14,
            "statutes[1].purpose",
        ),
    ],
)
def test_statute_errors_name_file_line_and_field(tmp_path: Path, text: str, line: int, field: str) -> None:
    purposes = load_purposes(_write(tmp_path, "purposes.yaml", PURPOSES))
    path = _write(tmp_path, "legal-bases.yaml", text)
    with pytest.raises(BadConfiguration) as caught:
        load_statutes(path, purposes)
    assert caught.value.where == f"{path}:{line}"
    assert field in caught.value.message


def test_yaml_syntax_and_duplicate_keys_name_the_line(tmp_path: Path) -> None:
    broken = _write(tmp_path, "a.yaml", "statutes:\n  - id: [unclosed\n")
    with pytest.raises(BadConfiguration, match="invalid YAML") as caught:
        load_statutes(broken)
    assert caught.value.where is not None and caught.value.where.startswith(f"{broken}:")
    duplicate = _write(tmp_path, "b.yaml", PURPOSES + "    code: AGAIN\n")
    with pytest.raises(BadConfiguration, match="duplicate key") as caught:
        load_purposes(duplicate)
    assert caught.value.where == f"{duplicate}:6"


def test_missing_top_level_key_and_file(tmp_path: Path) -> None:
    with pytest.raises(BadConfiguration, match="statutes"):
        load_statutes(_write(tmp_path, "c.yaml", "purposes: []\n"))
    with pytest.raises(BadConfiguration, match="not found"):
        load_purposes(tmp_path / "missing.yaml")


def test_the_sample_catalog_loads() -> None:
    catalog = Path(__file__).resolve().parents[3] / "catalog"
    purposes = load_purposes(catalog / "purposes.yaml")
    statutes = load_statutes(catalog / "legal-bases.yaml", purposes)
    assert statutes
    assert all(s.purpose in purposes and s.fields for s in statutes.values())
