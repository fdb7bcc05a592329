"""Loading and linting contract.yaml: every problem names file:line and field."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from contracts import PURPOSE_PLACEHOLDER, Problem, check_against_schema, lint_contract, load_contract
from govbus.errors import BadConfiguration
from schemas import load_schema, parse_schema

REPO = Path(__file__).resolve().parents[2]
TAX = REPO / "catalog" / "datasets" / "tax.income"

BROKEN = """\
id: Tax Income
version: 1.0
owner: tax
schema: ../other/v1.avsc
compatibility: SIDEWAYS
subject_field: person_id
key_fields: [return_id, return_id]
cursor_field: updated_at
source: {connector: sql}
colour: blue
fields:
  return_id: {classification: internal}
  national_id: {classification: secret}
  updated_at: {classification: internal, tag: [x]}
expectations:
  - type: expect_column_values_to_be_between
    kwargs: {column: return_id, min: 0}
  - type: expect_column_values_to_match_regexp
    kwargs: {column: national_id, regex: "x"}
  - type: expect_column_values_to_match_regex
    kwargs:
      column: national_id
      regex: "(?<=a)b"
      row_condition: 'x > 1'
  - type: expect_column_values_to_be_unique
    kwargs: {column: postal_code}
sla:
  freshness: P1M
  volume: {min_rows: 10, max_rows: 5}
"""


def _write(tmp_path: Path, text: str, with_schema: bool = True) -> Path:
    folder = tmp_path / "datasets" / "tax.income"
    folder.mkdir(parents=True)
    if with_schema:
        shutil.copytree(TAX / "schema", folder / "schema")
    path = folder / "contract.yaml"
    path.write_text(text)
    return path


def test_tax_income_contract_loads_and_agrees_with_its_schema() -> None:
    contract = load_contract(TAX / "contract.yaml")
    assert lint_contract(TAX / "contract.yaml") == []
    assert contract.id == "tax.income" and contract.version == "1.0.0" and contract.owner == "tax"
    assert contract.schema_ref == "schema/v1.avsc"
    assert contract.schema_path == TAX / "schema" / "v1.avsc"
    assert contract.compatibility == "BACKWARD"
    assert contract.subject_field == "national_id"
    assert contract.key_fields == ("return_id",)
    assert contract.cursor_field == "updated_at"
    assert contract.source["connector"] == "sql"
    assert contract.fields["national_id"].classification == "personal"
    assert contract.fields["national_id"].tags == ("direct-identifier",)
    assert contract.fields_classified("internal")[0] == "return_id"
    assert len(contract.expectations) == 8
    between = contract.expectations[3]
    assert between.type == "expect_column_values_to_be_between"
    assert dict(between.kwargs) == {"column": "gross_income", "min_value": 0, "max_value": 100000000}
    assert between.line == 36
    assert contract.line_of("fields.national_id") == 20
    assert contract.sla.freshness == dt.timedelta(days=2) and contract.sla.freshness_text == "P2D"
    assert contract.sla.min_rows == 0 and contract.sla.max_rows is None
    assert contract.sla.on_breach == "warn"
    assert check_against_schema(contract, load_schema(contract.schema_path)) == []


def test_lint_reports_every_problem_with_file_line_and_field(tmp_path: Path) -> None:
    path = _write(tmp_path, BROKEN)
    problems = lint_contract(path)
    assert all(isinstance(p, Problem) and p.file == str(path) for p in problems)
    found = {(p.line, p.field) for p in problems}
    assert found == {
        (1, "id"),
        (1, "purpose"),  # missing: reported at the id's line, with what to write
        (2, "version"),
        (4, "schema"),
        (5, "compatibility"),
        (6, "subject_field"),
        (7, "key_fields"),
        (10, "colour"),
        (13, "fields.national_id.classification"),
        (14, "fields.updated_at.tag"),
        (17, "expectations[0].kwargs.min"),
        (18, "expectations[1].type"),
        (23, "expectations[2].kwargs.regex"),
        (24, "expectations[2].kwargs.row_condition"),
        (25, "expectations[3].kwargs"),
        (28, "sla.freshness"),
        (29, "sla.volume"),
    }
    text = {(p.line, p.field): p.message for p in problems}
    assert "quote it" in text[(2, "version")]
    assert "inside the dataset's folder" in text[(4, "schema")]
    assert "BACKWARD" in text[(5, "compatibility")]
    assert "'person_id' is not listed in 'fields'" in text[(6, "subject_field")]
    assert "twice" in text[(7, "key_fields")]
    assert "public, internal, personal, sensitive" in text[(13, "fields.national_id.classification")]
    assert "does not accept 'min'" in text[(17, "expectations[0].kwargs.min")]
    assert "did you mean 'expect_column_values_to_match_regex'" in text[(18, "expectations[1].type")]
    assert "RE2" in text[(23, "expectations[2].kwargs.regex")]
    assert "does not support 'row_condition'" in text[(24, "expectations[2].kwargs.row_condition")]
    assert "'postal_code' is not listed" in text[(25, "expectations[3].kwargs")]
    assert "years and months" in text[(28, "sla.freshness")]
    assert str(problems[0]).startswith(f"{path}:1: id: ")


def test_load_contract_raises_once_listing_all_problems(tmp_path: Path) -> None:
    path = _write(tmp_path, BROKEN)
    with pytest.raises(BadConfiguration) as err:
        load_contract(path)
    assert err.value.where == str(path)
    assert "17 problem(s)" in err.value.message
    assert f"{path}:29: sla.volume: min_rows is greater than max_rows" in err.value.message


def test_missing_keys_bad_types_and_duplicates(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "id: tax.income\n"
        "id: tax.other\n"
        "version: '1.0.0'\n"
        "key_fields: return_id\n"
        "fields: [a, b]\n"
        "expectations:\n"
        "  - kwargs: {column: a}\n"
        "  - type: expect_column_values_to_be_between\n"
        "    kwargs: {column: a, mostly: 2}\n"
        "sla: {volume: {min_rows: -1}, freshness: soon, on_breach: panic}\n",
    )
    found = {(p.line, p.field): p.message for p in lint_contract(path)}
    assert found[(2, "id")].startswith("duplicate key")
    for key in ("owner", "schema", "compatibility", "subject_field", "source"):
        assert found[(1, key)] == "required key is missing"
    assert found[(1, "purpose")].startswith("required key is missing: say in a sentence why")
    assert found[(4, "key_fields")] == "must be a list"
    assert found[(5, "fields")] == "must be a mapping"
    assert found[(7, "expectations[0].type")] == "required key is missing"
    assert found[(9, "expectations[1].kwargs.mostly")] == "must be a number from 0 to 1"
    assert found[(10, "sla.volume.min_rows")] == "must be zero or more"
    assert "ISO-8601" in found[(10, "sla.freshness")]
    assert "warn, fail" in found[(10, "sla.on_breach")]


def test_between_without_bounds_is_refused(tmp_path: Path) -> None:
    text = (
        (TAX / "contract.yaml")
        .read_text()
        .replace("kwargs: {column: tax_year, min_value: 2000, max_value: 2030}", "kwargs: {column: tax_year}")
    )
    problems = lint_contract(_write(tmp_path, text))
    assert [(p.line, p.field, p.message) for p in problems] == [
        (39, "expectations[4]", "min_value and max_value cannot both be null")
    ]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("id: [unclosed\n", 2, "malformed YAML"),
        ("", 1, "the file is empty"),
        ("- just\n- a list\n", 1, "must be a mapping"),
        ("id: !!python/object:os.system x\n", 1, "must be a string"),
        ("source: !!python/object:os.system x\n", 1, "must be a mapping"),
        ("source: {connector: !!python/name:os.system x}\n", 1, "must be a string"),
    ],
)
def test_unreadable_documents(tmp_path: Path, text: str, line: int, message: str) -> None:
    problems = lint_contract(_write(tmp_path, text))
    assert any(p.line == line and message in p.message for p in problems), problems


def test_a_missing_schema_file_is_reported(tmp_path: Path) -> None:
    path = _write(tmp_path, (TAX / "contract.yaml").read_text(), with_schema=False)
    assert [(p.line, p.field, p.message) for p in lint_contract(path)] == [
        (9, "schema", "the schema file does not exist")
    ]


def test_lint_checks_the_contract_against_its_own_schema(tmp_path: Path) -> None:
    text = (
        (TAX / "contract.yaml")
        .read_text()
        .replace("  postal_code: {classification: personal, tags: [quasi-identifier]}\n", "")
    )
    problems = lint_contract(_write(tmp_path, text))
    assert [(p.line, p.field, p.message) for p in problems] == [
        (18, "fields", "schema field 'postal_code' has no classification")
    ]
    with pytest.raises(BadConfiguration, match="postal_code"):
        load_contract(tmp_path / "datasets" / "tax.income" / "contract.yaml")


def test_check_against_schema_names_each_disagreement() -> None:
    contract = load_contract(TAX / "contract.yaml")
    document = json.loads((TAX / "schema" / "v1.avsc").read_text())
    fields = [f for f in document["fields"] if f["name"] != "postal_code"]
    for field in fields:
        if field["name"] == "tax_year":
            field["type"] = "string"  # numeric bounds can no longer compare
    document["fields"] = [*fields, {"name": "email", "type": ["null", "string"]}]
    problems = check_against_schema(contract, parse_schema(document))
    assert [(p.line, p.field) for p in problems] == [
        (27, "fields.postal_code"),
        (18, "fields"),
        (38, "expectations[4]"),
    ]
    assert problems[0].message == "'postal_code' is not a field of gov.tax.income.IncomeReturn"
    assert problems[1].message == "schema field 'email' has no classification"
    assert "cannot run on these column types" in problems[2].message


PURPOSE = "purpose: Lets agencies entitled by statute or consent check a person's assessed income.\n"


@pytest.mark.parametrize(
    ("purpose", "says"),
    [
        ("", "required key is missing"),
        ("purpose: ''\n", "is empty"),
        ("purpose:\n", "is empty"),
        ("purpose: '   '\n", "is empty"),
        (f"purpose: '{PURPOSE_PLACEHOLDER}'\n", "still holds the TODO placeholder"),
        ("purpose: 'TODO write it'\n", "still holds the TODO placeholder"),
    ],
    ids=["missing", "empty", "null", "blank", "placeholder", "any-todo"],
)
def test_lint_asks_for_a_purpose_saying_what_to_write(tmp_path: Path, purpose: str, says: str) -> None:
    text = (TAX / "contract.yaml").read_text().replace(PURPOSE, purpose)
    path = _write(tmp_path, text)
    [problem] = lint_contract(path)
    line = 8 if purpose else 4  # the purpose's line; when missing, the id's
    assert (problem.file, problem.line, problem.field) == (str(path), line, "purpose")
    assert problem.message.startswith(says)
    assert "why the dataset is shared and which decisions it supports" in problem.message
    with pytest.raises(BadConfiguration, match="purpose"):
        load_contract(path)


def test_a_written_purpose_passes_even_with_colons_and_hashes(tmp_path: Path) -> None:
    said = "Lets agencies check income: for benefits #42 (TODO-free)."
    text = (TAX / "contract.yaml").read_text().replace(PURPOSE, f"purpose: '{said}'\n")
    path = _write(tmp_path, text)
    assert lint_contract(path) == []
    assert load_contract(path).purpose == said


def test_a_purpose_problem_does_not_hide_the_schema_check(tmp_path: Path) -> None:
    text = (
        (TAX / "contract.yaml")
        .read_text()
        .replace(PURPOSE, f"purpose: '{PURPOSE_PLACEHOLDER}'\n")
        .replace("  postal_code: {classification: personal, tags: [quasi-identifier]}\n", "")
    )
    problems = lint_contract(_write(tmp_path, text))
    assert [(p.line, p.field) for p in problems] == [(8, "purpose"), (18, "fields")]


def test_a_purpose_that_is_not_text_is_one_problem(tmp_path: Path) -> None:
    text = (TAX / "contract.yaml").read_text().replace(PURPOSE, "purpose: [a, b]\n")
    assert [(p.line, p.field, p.message) for p in lint_contract(_write(tmp_path, text))] == [
        (8, "purpose", "must be a string")
    ]
