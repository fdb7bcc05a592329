"""The catalog as its readers see it: types, rules in words, purposes, statutes, filters, no data."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

import contracts
from exchange.catalog import load_catalog
from exchange.demo import deployment as demo
from exchange.views.catalog_entries import (
    CSV_COLUMNS,
    CatalogQuery,
    catalog_csv,
    catalog_entries,
    catalog_entry,
    catalog_json,
)
from exchange.views.rule_words import rule_columns, rule_level, rule_text
from govbus.errors import BadConfiguration, BadInput
from tests.conftest import CATALOG

SAMPLE = load_catalog(CATALOG)


def _entry(dataset_id: str):
    return catalog_entry(SAMPLE, dataset_id)


def test_fields_carry_readable_avro_types_descriptions_and_classification():
    tax = {f.name: f for f in _entry("tax.income").fields}
    assert list(tax) == list(SAMPLE.datasets["tax.income"].schema.field_names)
    assert (tax["gross_income"].type, tax["gross_income"].nullable) == ("decimal(14,2)", False)
    assert (tax["postal_code"].type, tax["postal_code"].nullable, tax["postal_code"].shown_type) == (
        "string",
        True,
        "string?",
    )
    assert tax["updated_at"].type == "timestamp-micros" and tax["tax_year"].type == "int"
    assert tax["return_id"].description == "Tax Authority's return number (R + 9 digits)."  # the Avro doc
    assert tax["tax_year"].description == ""  # neither the schema nor the contract says
    assert (tax["national_id"].classification, tax["national_id"].tags) == (
        "personal",
        ("direct-identifier",),
    )
    assert not any(f.reversible or f.reversible_by for f in tax.values())
    health = {f.name: f for f in _entry("health.disability").fields}
    assert (health["assessed_on"].type, health["assessed_on"].nullable) == ("date", False)
    assert (health["review_on"].type, health["review_on"].nullable) == ("date", True)
    registry = {f.name: f for f in _entry("registry.residents").fields}
    assert registry["monthly_allowance"].type == "decimal(9,2)"


def test_the_sample_contracts_rules_in_words():
    assert [r.text for r in _entry("tax.income").rules] == [
        "national_id is never empty",
        "national_id matches ^[0-9]{11}$",
        "gross_income is never empty",
        "gross_income is between 0 and 100000000",
        "tax_year is between 2000 and 2030",
        "filing_status is one of SINGLE, JOINT, SEPARATE, HEAD_OF_HOUSEHOLD",
        "municipality_code matches ^[0-9]{4}$",
        "return_id is unique",
    ]
    health = [r.text for r in _entry("health.disability").rules]
    assert "disability_degree is one of 20, 30, 40, 50, 60, 70, 80, 90, 100" in health
    assert "review_on is greater than assessed_on (not checked where either is empty)" in health
    rule = _entry("tax.income").rules[3]
    assert (rule.expectation, rule.fields, rule.level) == (
        "expect_column_values_to_be_between",
        ("gross_income",),
        "row",
    )


# One example per supported expectation type, with its sentence. A new type in
# contracts.SUPPORTED_EXPECTATIONS fails the first test below until it gets a sentence here.
EXAMPLES = {
    "expect_column_values_to_not_be_null": ({"column": "a"}, "a is never empty"),
    "expect_column_values_to_be_null": ({"column": "a"}, "a is always empty"),
    "expect_column_values_to_match_regex": ({"column": "a", "regex": "^x$"}, "a matches ^x$"),
    "expect_column_values_to_not_match_regex": ({"column": "a", "regex": "x"}, "a never matches x"),
    "expect_column_values_to_be_between": (
        {"column": "a", "min_value": 0, "max_value": 10, "strict_max": True},
        "a is at least 0 and less than 10",
    ),
    "expect_column_values_to_be_in_set": ({"column": "a", "value_set": ["X", 2]}, "a is one of X, 2"),
    "expect_column_values_to_not_be_in_set": ({"column": "a", "value_set": ["X"]}, "a is none of X"),
    "expect_column_values_to_be_unique": ({"column": "a"}, "a is unique"),
    "expect_column_value_lengths_to_be_between": (
        {"column": "a", "min_value": 11, "max_value": 11},
        "a is exactly 11 characters long",
    ),
    "expect_compound_columns_to_be_unique": (
        {"column_list": ["a", "b"], "ignore_row_if": "any_value_is_missing"},
        "the combination of a, b is unique (not checked where any of them is empty)",
    ),
    "expect_column_pair_values_a_to_be_greater_than_b": (
        {"column_A": "a", "column_B": "b", "or_equal": True, "ignore_row_if": "neither"},
        "a is greater than or equal to b (an empty side breaks it)",
    ),
    "expect_column_values_to_match_strftime_format": (
        {"column": "a", "strftime_format": "%Y-%m-%d"},
        "a is a date or time written as %Y-%m-%d",
    ),
    "expect_column_values_to_be_dateutil_parseable": ({"column": "a"}, "a reads as a date or time"),
    "expect_table_row_count_to_be_between": ({"min_value": 1}, "each batch has at least 1 rows"),
    "expect_column_values_to_be_in_dataset_keys": (
        {"column": "a", "dataset": "registry.residents", "key_field": "national_id"},
        "a is a national_id of dataset registry.residents (one the bus has staged)",
    ),
    "expect_column_values_to_have_valid_check_digit": (
        {"column": "a", "algorithm": "luhn"},
        "a is digits only with a Luhn check digit that holds",
    ),
}


def test_every_supported_expectation_type_has_a_sentence():
    assert set(EXAMPLES) == set(contracts.SUPPORTED_EXPECTATIONS)
    for kind, (kwargs, sentence) in EXAMPLES.items():
        expectation = contracts.Expectation(kind, kwargs)
        assert rule_text(expectation) == sentence, kind
        assert not rule_text(expectation).startswith("expect_"), kind


def test_rule_columns_levels_mostly_and_the_fallback_for_an_unknown_type():
    pair = contracts.Expectation(
        "expect_column_pair_values_a_to_be_greater_than_b", {"column_A": "b", "column_B": "a"}
    )
    assert rule_columns(pair) == ("b", "a")
    count = contracts.Expectation("expect_table_row_count_to_be_between", {"max_value": 5})
    assert (rule_columns(count), rule_level(count), rule_text(count)) == (
        (),
        "batch",
        "each batch has at most 5 rows",
    )
    mostly = contracts.Expectation("expect_column_values_to_be_unique", {"column": "a", "mostly": 0.95})
    assert rule_text(mostly) == "a is unique (in at least 95% of rows)"
    unknown = contracts.Expectation(
        "expect_column_kl_divergence_to_be_less_than", {"column": "a", "threshold": 0.1}
    )
    assert rule_text(unknown) == "expect_column_kl_divergence_to_be_less_than(column=a, threshold=0.1)"
    assert rule_level(unknown) == "row"
    odd = contracts.Expectation("expect_column_values_to_be_in_set", {"column": "a"})  # no value_set
    assert rule_text(odd) == "expect_column_values_to_be_in_set(column=a)"
    dated = contracts.Expectation(
        "expect_column_values_to_be_between", {"column": "d", "min_value": datetime(2020, 1, 1).date()}
    )
    assert rule_text(dated) == "d is at least 2020-01-01"


def test_statutes_give_the_fields_they_allow_and_purposes_their_descriptions():
    tax = _entry("tax.income")
    assert tax.owner.id == "tax" and tax.owner.name == "Tax Authority"
    assert (tax.subject_field, tax.key_fields, tax.cursor_field) == (
        "national_id",
        ("return_id",),
        "updated_at",
    )
    assert (tax.sla.freshness, tax.sla.min_rows, tax.sla.max_rows, tax.sla.on_breach) == (
        "P2D",
        0,
        None,
        "warn",
    )
    bases = {b.statute: b for b in tax.legal_bases}
    assert set(bases) == {"SBA-12", "STAT-7"}
    stat = bases["STAT-7"]
    assert (stat.law, stat.recipient, stat.recipient_name, stat.purpose) == (
        "Official Statistics Act, section 7",
        "statistics",
        "Statistics Office",
        "OFFICIAL_STATISTICS",
    )
    assert stat.fields == SAMPLE.statutes["STAT-7"].fields and "national_id" not in stat.fields
    assert (stat.valid_from, stat.valid_until, stat.in_force) == ("2018-01-01", None, True)
    assert [(p.code, p.description) for p in tax.purposes] == [
        (code, SAMPLE.purposes[code].description)
        for code in ("BENEFIT_ELIGIBILITY", "HOUSING_ALLOWANCE", "OFFICIAL_STATISTICS")
    ]
    assert tax.consent_access is True and tax.subscribers == len(SAMPLE.subscriptions_for("tax.income")) == 3
    registry = _entry("registry.residents")
    assert registry.consent_access is False and registry.subscribers == 1
    assert [b.statute for b in registry.legal_bases] == ["SBA-14"]
    health = _entry("health.disability")
    assert health.legal_bases == () and health.consent_access is True


def test_a_statute_that_ended_shows_its_last_day_and_is_not_in_force(tmp_path: Path):
    root = tmp_path / "catalog"
    shutil.copytree(CATALOG, root)
    path = root / "legal-bases.yaml"
    path.write_text(
        path.read_text().replace(
            "valid_from: 2018-01-01", "valid_from: 2018-01-01\n    valid_until: 2025-12-31"
        )
    )
    catalog = load_catalog(root)
    at = datetime(2026, 3, 1, tzinfo=UTC)
    [stat] = [b for b in catalog_entry(catalog, "tax.income", at=at).legal_bases if b.statute == "STAT-7"]
    assert (stat.valid_until, stat.in_force) == ("2025-12-31", False)
    [stat] = [
        b
        for b in catalog_entry(catalog, "tax.income", at=datetime(2025, 12, 31, 23, tzinfo=UTC)).legal_bases
        if b.statute == "STAT-7"
    ]
    assert stat.in_force is True


def test_filters_by_owner_tag_purpose_and_text():
    def ids(**filters: str) -> list[str]:
        return [e.id for e in catalog_entries(SAMPLE, query=CatalogQuery(**filters))]

    assert ids() == ["health.disability", "registry.residents", "tax.income"]
    assert ids(owner="tax") == ["tax.income"]
    assert ids(owner="benefits") == []  # an agency that owns nothing
    assert ids(tag="health") == ["health.disability"]
    assert ids(tag="financial") == ["registry.residents", "tax.income"]
    assert ids(purpose="OFFICIAL_STATISTICS") == ["tax.income"]
    assert ids(purpose="BENEFIT_ELIGIBILITY") == ["health.disability", "registry.residents", "tax.income"]
    assert ids(search="medical boards") == ["health.disability"]  # the description
    assert ids(search="HOUSEHOLD_size") == ["registry.residents"]  # a field name, any case
    assert ids(search="TAX.INC") == ["tax.income"]  # the id
    assert ids(owner="tax", tag="health") == []
    assert ids(search="   ") == ids()


def test_unknown_filter_values_and_datasets_are_named():
    query = CatalogQuery(owner="nope", tag="secret", purpose="SPYING")
    problems = query.unknown(SAMPLE)
    assert len(problems) == 3 and "known: benefits, health, housing, registry, statistics, tax" in problems[0]
    with pytest.raises(BadInput, match="no purpose 'SPYING'"):
        query.check(SAMPLE)
    assert catalog_entries(SAMPLE, query=query) == []
    CatalogQuery(owner="tax", tag="health", purpose="HOUSING_ALLOWANCE").check(SAMPLE)
    with pytest.raises(BadConfiguration) as caught:
        catalog_entry(SAMPLE, "tax.incom")
    assert "known: health.disability, registry.residents, tax.income" in str(caught.value)


def test_json_has_the_documented_keys_in_order_and_csv_one_row_per_dataset():
    [shaped] = json.loads(catalog_json([_entry("tax.income")]))
    assert list(shaped) == [
        "id", "owner", "description", "purpose", "version", "compatibility", "schema_versions",
        "subject_field", "key_fields", "cursor_field", "fields", "rules", "sla", "freshness",
        "purposes", "legal_bases", "consent_access", "subscribers",
    ]  # fmt: skip
    assert list(shaped["fields"][0]) == [
        "name", "type", "nullable", "description", "classification", "tags", "special_category",
        "reversible", "reversible_by",
    ]  # fmt: skip
    assert list(shaped["legal_bases"][0]) == [
        "statute", "law", "recipient", "recipient_name", "purpose", "fields", "valid_from", "valid_until",
        "in_force",
    ]  # fmt: skip
    assert shaped["freshness"] == {"status": "unknown", "last_committed_at": None}  # no state database
    assert json.loads(catalog_json(_entry("tax.income"))) == shaped
    lines = catalog_csv(catalog_entries(SAMPLE)).splitlines()
    assert lines[0] == ",".join(CSV_COLUMNS) and len(lines) == 4
    assert lines[3].startswith("tax.income,tax,Tax Authority,")


@pytest.fixture
def ran(bus):
    """The sample's tax income, seeded and exchanged once (600 returns, some quarantined)."""
    demo.seed(bus, rows=600)
    (result,) = bus.run(["tax.income"])
    assert result.ok
    return bus


def test_freshness_comes_from_the_state_database_and_no_data_value_appears(ran):
    bus = ran
    entries = {e.id: e for e in catalog_entries(bus.catalog, engine=bus.engine)}
    tax = entries["tax.income"]
    assert tax.freshness.status == "fresh" and tax.freshness.last_committed_at.endswith("Z")
    assert entries["registry.residents"].freshness.status == "never"
    text = catalog_json(list(entries.values())) + catalog_csv(list(entries.values()))
    engine = sa.create_engine(demo.tax_db_url(bus))
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT national_id, return_id FROM income_returns")).all()
    finally:
        engine.dispose()
    values = {v for row in rows for v in row if v}
    assert len(values) > 600  # every return id and the filers' national ids
    assert not [v for v in values if v in text], "a value of the source appears in the catalog"
