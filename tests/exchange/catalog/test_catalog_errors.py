"""Catalog errors where they belong (issue 20, issue 16): line numbers, one problem per root
cause, every missing key at once, wrong types named with the type expected; and
connector settings expanded with their paths confined, relative to the catalog folder."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from exchange.catalog import CatalogSettings, check_catalog, expand_settings, load_catalog
from govbus.errors import BadConfiguration
from tests.conftest import CATALOG


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    root = tmp_path / "catalog"
    shutil.copytree(CATALOG, root)
    return root


def edit(root: Path, file: str, old: str, new: str) -> int:
    path = root / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return text[: text.index(old)].count("\n") + 1


def problems(root: Path) -> list[str]:
    return [str(problem) for problem in check_catalog(root)]


def test_an_indentation_typo_in_agencies_yaml_is_one_problem_at_its_line(catalog: Path) -> None:
    line = edit(catalog, "agencies.yaml", "  - id: registry\n    name:", "  - id: registry\n     name:")
    found = problems(catalog)
    assert found == [
        f"catalog/agencies.yaml:{line + 1}: invalid YAML: mapping values are not allowed here "
        "(fix the YAML syntax)"
    ]


def test_a_syntax_error_in_purposes_yaml_has_its_line_and_no_follow_on(catalog: Path) -> None:
    edit(catalog, "purposes.yaml", "    description: Producing", "   description: Producing")
    found = problems(catalog)
    assert len(found) == 1 and found[0].startswith("catalog/purposes.yaml:") and "invalid YAML" in found[0]
    assert re.search(r"purposes\.yaml:\d+: ", found[0])


def test_a_broken_contract_does_not_make_every_subscription_of_it_unknown(catalog: Path) -> None:
    edit(catalog, "datasets/tax.income/contract.yaml", "owner: tax", "owner: [tax")
    found = problems(catalog)
    assert all("tax.income/contract.yaml" in problem for problem in found), found
    assert not any("unknown dataset" in problem for problem in found)


def test_yaml_nested_5000_deep_is_one_problem_naming_file_and_line(catalog: Path) -> None:
    (catalog / "agencies.yaml").write_text("members: " + "[" * 5000 + "]" * 5000 + "\n")
    assert problems(catalog) == [
        "catalog/agencies.yaml:1: nests deeper than 100 levels (a declaration file needs a few levels; "
        "check the indentation and brackets)"
    ]


def test_wrong_types_are_named_with_the_type_expected(catalog: Path) -> None:
    purpose = edit(catalog, "subscriptions/housing.yaml", "purpose: HOUSING_ALLOWANCE", "purpose: [A, B]")
    dataset = edit(catalog, "subscriptions/housing.yaml", "dataset: tax.income", "dataset: {id: tax.income}")
    name = edit(catalog, "agencies.yaml", "name: Civil Registry", "name: [Civil, Registry]")
    recipient = edit(catalog, "legal-bases.yaml", "recipient: statistics", "recipient: {id: statistics}")
    found = problems(catalog)
    assert (
        f"catalog/subscriptions/housing.yaml:{purpose}: purpose: must be one purpose id (a text), not a list"
        in found
    )
    wrong_dataset = "dataset: must be one dataset id (a text), not a mapping"
    assert f"catalog/subscriptions/housing.yaml:{dataset}: {wrong_dataset}" in found
    assert f"catalog/agencies.yaml:{name}: members[1].name: must be a text, not a list" in found
    assert (
        f"catalog/legal-bases.yaml:{recipient}: statutes[1].recipient: must be a text, not a mapping" in found
    )
    assert not any("TypeError" in problem for problem in found)


def test_every_missing_key_of_a_file_is_reported_at_once(catalog: Path) -> None:
    text = (catalog / "legal-bases.yaml").read_text()
    (catalog / "legal-bases.yaml").write_text(text.replace("    purpose: BENEFIT_ELIGIBILITY\n", ""))
    found = problems(catalog)
    missing = [problem for problem in found if "missing purpose" in problem]
    assert len(missing) == text.count("    purpose: BENEFIT_ELIGIBILITY\n") >= 2, found
    edit(catalog, "subscriptions/housing.yaml", "    purpose: HOUSING_ALLOWANCE\n", "")
    edit(catalog, "subscriptions/housing.yaml", "    basis: consent\n", "")
    found = problems(catalog)
    assert any("housing.yaml:3: purpose: missing" in p for p in found), found
    assert any("housing.yaml:3: basis: missing" in p for p in found), found


def test_a_subscription_file_whose_agency_is_a_list_is_one_problem(catalog: Path) -> None:
    line = edit(catalog, "subscriptions/housing.yaml", "agency: housing", "agency: [housing]")
    assert problems(catalog) == [
        f"catalog/subscriptions/housing.yaml:{line}: agency: must be one agency id (a text), not a list"
    ]


def test_a_relative_sink_resolves_against_the_catalog_never_the_current_folder(
    catalog: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    edit(
        catalog,
        "subscriptions/statistics.yaml",
        "directory: ${GOVBUS_HOME}/agencies/statistics/inbox/tax.income",
        "directory: ../outside/rel-sink",
    )
    sink = load_catalog(catalog).subscriptions["statistics.tax-income"].sink
    assert isinstance(sink, CatalogSettings) and sink.folder == catalog
    assert sink == {"connector": "parquet", "directory": "../outside/rel-sink"}  # as declared
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    home = {"GOVBUS_HOME": str(tmp_path / "home")}
    with pytest.raises(BadConfiguration, match=r"statistics\.yaml: sink: directory: resolves outside"):
        expand_settings(sink, env=home, where="statistics.yaml: sink")
    allowed = {**home, "GOVBUS_ALLOWED_ROOTS": str(tmp_path / "outside")}
    expanded = expand_settings(sink, env=allowed, where="statistics.yaml: sink")
    assert expanded["directory"] == str(tmp_path / "outside" / "rel-sink")


def test_a_source_may_read_next_to_its_contract_and_in_the_home_only(catalog: Path, tmp_path: Path) -> None:
    dataset_dir = catalog / "datasets" / "registry.residents"
    env = {"GOVBUS_HOME": str(tmp_path / "home"), "DATASET_DIR": str(dataset_dir)}
    source = {
        "connector": "fixed_width",
        "directory": "${GOVBUS_HOME}/in",
        "copybook": "${DATASET_DIR}/residents.cpy",
    }
    expanded = expand_settings(source, env=env, where="contract.yaml: source")
    assert expanded["copybook"] == str(dataset_dir / "residents.cpy")
    for escape in ("${DATASET_DIR}/../../agencies.yaml", "/etc/passwd", "datasets/../../x"):
        with pytest.raises(BadConfiguration, match="copybook: resolves outside"):
            expand_settings({**source, "copybook": escape}, env=env, where="contract.yaml: source")


def test_a_home_holding_percent_2f_stays_one_path_in_a_sqlite_url(tmp_path: Path) -> None:
    home = tmp_path / "h%2F..%2F..%2Fx"
    home.mkdir()
    sink = {"connector": "sql", "url": "sqlite:///${GOVBUS_HOME}/b.db", "table": "t"}
    expanded = expand_settings(sink, env={"GOVBUS_HOME": str(home)})
    assert sa.make_url(expanded["url"]).database == str(home / "b.db")
