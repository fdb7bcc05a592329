"""Subject ids: checked against the form the contracts declare, never shown back but masked.

A mistyped id (a digit lost or added, a letter) must get "this is not a valid id" from
the portal's page, its API and the citizen's report, and from `govbus audit subject`, not
"No agency received data about you", which would be a false answer to a legal access
request. The form is what a dataset's contract expects of its subject field
(`expect_column_values_to_match_regex` on `national_id` in the sample), run as a staged
value would be; the page shows a typed id only masked (`******1234`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

import contracts
from exchange.cli.main import app
from exchange.portal.subjects import NOT_VALID, IdForm, check_subject_id, id_forms
from exchange.views import mask_id
from govbus.errors import BadInput
from tests.portal.conftest import Seeded, bearer, client_for

MISTYPED = ["4821337659", "482133765901", "48213376S90", "4821-337659", "", "   "]


def _received(seeded: Seeded) -> str:
    """An id the Benefits Agency received (so it has deliveries to list)."""
    engine = sa.create_engine(f"sqlite:///{seeded.settings.home / 'agencies' / 'benefits' / 'benefits.db'}")
    try:
        with engine.connect() as conn:
            return str(conn.execute(sa.text("SELECT national_id FROM tax_income LIMIT 1")).scalar_one())
    finally:
        engine.dispose()


def test_the_forms_come_from_the_contracts(seeded_sqlite: Seeded) -> None:
    bus = seeded_sqlite.open()
    try:
        forms = id_forms(bus.catalog)
        assert [(f.dataset, f.field) for f in forms] == [("tax.income", "national_id")]
        assert forms[0].described() == (
            "national_id: expect_column_values_to_match_regex(regex='^[0-9]{11}$')",
        )
        assert check_subject_id(bus.catalog, " 48213376590 ") == "48213376590"
        for typed in MISTYPED:
            with pytest.raises(BadInput, match="not a valid id") as refused:
                check_subject_id(bus.catalog, typed)
            assert typed.strip() == "" or typed not in str(refused.value)  # never repeated
            assert "^[0-9]{11}$" in str(refused.value)  # what is expected instead
    finally:
        bus.close()


def _form(rules: list[contracts.Expectation], arrow_type: pa.DataType | None = None) -> IdForm:
    return IdForm("x.people", "person_id", arrow_type or pa.string(), tuple(rules))


def test_any_rule_on_the_subject_field_counts_lengths_sets_and_types() -> None:
    lengths = contracts.Expectation(
        "expect_column_value_lengths_to_be_between", {"column": "person_id", "min_value": 9, "max_value": 9}
    )
    assert _form([lengths]).accepts("AB1234567") and not _form([lengths]).accepts("AB123456")
    in_set = contracts.Expectation(
        "expect_column_values_to_be_in_set", {"column": "person_id", "value_set": [7, 42]}
    )
    numeric = _form([in_set], pa.int64())
    assert numeric.accepts("42") and not numeric.accepts("43") and not numeric.accepts("4x")
    no_rule = _form([])
    assert no_rule.accepts("X-12/3") and not no_rule.accepts("<script>")


def test_one_dataset_accepting_the_id_is_enough(seeded_sqlite: Seeded) -> None:
    bus = seeded_sqlite.open()
    try:
        tax = bus.catalog.datasets["tax.income"]
        free = dataclasses.replace(
            tax,
            id="other.people",
            contract=dataclasses.replace(tax.contract, id="other.people", expectations=()),
        )
        catalog = dataclasses.replace(bus.catalog, datasets={**bus.catalog.datasets, "other.people": free})
    finally:
        bus.close()
    # A dataset that declares no rule for its subject accepts any id of the general shape.
    assert check_subject_id(catalog, "AB-1234") == "AB-1234"
    with pytest.raises(BadInput, match="not a valid id"):
        check_subject_id(catalog, "a b")


def test_the_page_shows_a_typed_id_only_masked(seeded_sqlite: Seeded) -> None:
    person = _received(seeded_sqlite)
    with client_for(seeded_sqlite) as client:
        client.post("/login", data={"token": "auditor-token-0123456789"})
        page = client.post("/subject", data={"national_id": f" {person} "})
    assert page.status_code == 200 and person not in page.text
    assert mask_id(person) in page.text and 'name="national_id" value=""' in page.text
    assert "deliver" in page.text and "#" in page.text  # its deliveries are listed


@pytest.mark.parametrize("typed", MISTYPED[:4])
def test_a_mistyped_id_is_not_valid_on_the_page_the_report_and_the_api(
    seeded_sqlite: Seeded, typed: str
) -> None:
    with client_for(seeded_sqlite) as client:
        client.post("/login", data={"token": "auditor-token-0123456789"})
        for path in ("/subject", "/subject/report"):
            page = client.post(path, data={"national_id": typed})
            assert page.status_code == 400 and "not a valid id" in page.text, path
            assert "No delivery" not in page.text and typed not in page.text
        api = client.post("/api/subjects/search", json={"national_id": typed}, headers=bearer("auditor"))
    assert api.status_code in (400, 422) and typed not in api.text and "deliveries" not in api.text


def test_the_command_line_refuses_a_mistyped_id_with_its_exit_code(
    seeded_sqlite: Seeded, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = seeded_sqlite.settings
    monkeypatch.setenv("GOVBUS_HOME", str(settings.home))
    monkeypatch.setenv("GOVBUS_CATALOG", str(settings.catalog_dir))
    runner = CliRunner()
    person = _received(seeded_sqlite)
    for output in ("table", "json", "csv", "html"):
        result = runner.invoke(app, ["audit", "subject", person[:-1], "--format", output])
        assert isinstance(result.exception, BadInput) and NOT_VALID in str(result.exception)
        assert result.exception.exit_code == 65 and person[:-1] not in result.output
    page = tmp_path / "report.html"
    result = runner.invoke(app, ["audit", "subject", person, "--format", "html", "--out", str(page)])
    assert result.exit_code == 0, result.output
    assert person not in page.read_text() and mask_id(person) in page.read_text()
