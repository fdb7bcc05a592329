"""The contracts' schema checks are kept as verdicts in the GovBus home (exchange.catalog.lint_cache).

A kept verdict must never hide a problem: a changed contract or schema file, or changed
checking code, is checked in full again; a corrupt verdict file is ignored and rewritten;
and a command that opens the bus a second time does not load pandas (the dry run of the
expectations on Arrow values is what loaded it).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import contracts.schema_check
from exchange.catalog import lint_cache, load_catalog
from exchange.catalog.lint_cache import FILE_NAME, LintCache, contract_digest
from govbus.errors import BadConfiguration
from tests.conftest import CATALOG
from tests.exchange.cli.loaded_modules import run_cli

TAX = "datasets/tax.income"


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    root = tmp_path / "catalog"
    shutil.copytree(CATALOG, root)
    return root


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def dry_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The contracts tried on an empty batch of their schema's types, by id (the checks a
    verdict skips); the checks still run."""
    seen: list[str] = []
    check = contracts.schema_check.check_against_schema

    def counted(contract: contracts.Contract, schema: object) -> list[contracts.Problem]:
        seen.append(contract.id)
        return check(contract, schema)  # type: ignore[arg-type]

    monkeypatch.setattr(contracts.schema_check, "check_against_schema", counted)
    return seen


def edit(root: Path, file: str, old: str, new: str) -> None:
    path = root / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_a_second_read_skips_the_schema_checks_and_reads_the_same_catalog(
    catalog: Path, home: Path, dry_runs: list[str]
) -> None:
    first = load_catalog(catalog, home=home)
    assert sorted(dry_runs) == sorted(first.datasets)
    kept = json.loads((home / FILE_NAME).read_text())["clean"]
    assert len(kept) == len(first.datasets)
    dry_runs.clear()
    second = load_catalog(catalog, home=home)
    assert dry_runs == []
    assert second.datasets == first.datasets
    assert second.subscriptions == first.subscriptions
    assert second.datasets == load_catalog(catalog).datasets  # and what no verdict reads


def test_a_changed_contract_is_checked_again_and_its_problem_reported(catalog: Path, home: Path) -> None:
    load_catalog(catalog, home=home)
    # Only the dry run on the schema's types finds this one: numeric bounds on a text column.
    edit(catalog, f"{TAX}/contract.yaml", "{column: tax_year, min_value", "{column: filing_status, min_value")
    for _ in range(2):  # the failing contract gets no verdict: reported every time
        with pytest.raises(BadConfiguration, match=r"expectations\[4\].*cannot run on these column types"):
            load_catalog(catalog, home=home)


def test_a_changed_schema_file_is_checked_again(catalog: Path, home: Path) -> None:
    load_catalog(catalog, home=home)
    edit(
        catalog,
        f"{TAX}/schema/v1.avsc",
        '{"name": "tax_year", "type": "int"}',
        '{"name": "tax_year", "type": "string"}',
    )
    with pytest.raises(BadConfiguration, match=r"expectations\[4\].*cannot run on these column types"):
        load_catalog(catalog, home=home)


def test_a_new_schema_version_is_checked_against_the_older_ones(catalog: Path, home: Path) -> None:
    load_catalog(catalog, home=home)
    schema = json.loads((catalog / TAX / "schema" / "v1.avsc").read_text())
    schema["fields"].append({"name": "spouse_id", "type": "string"})  # no default: breaks BACKWARD
    (catalog / TAX / "schema" / "v2.avsc").write_text(json.dumps(schema))
    with pytest.raises(BadConfiguration, match="breaks BACKWARD"):
        load_catalog(catalog, home=home)


def test_changed_checking_code_is_a_miss(
    catalog: Path, home: Path, dry_runs: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    load_catalog(catalog, home=home)
    monkeypatch.setattr(lint_cache, "_code_fingerprint", lambda: "another version of the checks")
    dry_runs.clear()
    load_catalog(catalog, home=home)
    assert len(dry_runs) == 3


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        '{"format": "govbus-contract-lint/0", "clean": {}}',
        "[]",
        '{"format": "govbus-contract-lint/1", "clean": [1]}',
    ],
)
def test_a_corrupt_verdict_file_is_ignored_and_rewritten(
    catalog: Path, home: Path, dry_runs: list[str], content: str
) -> None:
    (home / FILE_NAME).write_text(content)
    load_catalog(catalog, home=home)
    assert len(dry_runs) == 3
    kept = json.loads((home / FILE_NAME).read_text())
    assert len(kept["clean"]) == 3


def test_a_forged_or_stale_digest_is_no_verdict(catalog: Path, home: Path, dry_runs: list[str]) -> None:
    contract = catalog / TAX / "contract.yaml"
    cache = LintCache(home / FILE_NAME)
    cache.passed(contract, "0" * 64)
    cache.save()
    load_catalog(catalog, home=home)
    assert "tax.income" in dry_runs
    assert LintCache(home / FILE_NAME).is_clean(contract, contract_digest(contract))


def test_without_a_home_nothing_is_kept(catalog: Path, tmp_path: Path, dry_runs: list[str]) -> None:
    load_catalog(catalog)
    load_catalog(catalog)
    assert len(dry_runs) == 6
    assert not list(tmp_path.rglob(FILE_NAME))


def test_a_verdict_file_that_cannot_be_written_only_costs_the_checks(
    catalog: Path, home: Path, dry_runs: list[str]
) -> None:
    (home / FILE_NAME).mkdir()  # neither read nor replaced, whoever runs the tests
    load_catalog(catalog, home=home)
    load_catalog(catalog, home=home)
    assert len(dry_runs) == 6
    assert [p.name for p in home.iterdir()] == [FILE_NAME]  # no scratch file left behind


# -- through the command line -------------------------------------------------------------


def _status(catalog: Path, home: Path, out: Path) -> tuple[object, set[str], str]:
    done = run_cli([["status"]], catalog=catalog, home=home, out=out, columns=200)
    return done.code, done.modules, done.output


def test_a_second_status_does_not_load_pandas_and_a_changed_contract_is_still_refused(
    catalog: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    code, _, output = _status(catalog, home, tmp_path / "first.json")
    assert code == 0, output
    code, loaded, output = _status(catalog, home, tmp_path / "second.json")
    assert code == 0, output
    assert "pandas" not in loaded
    edit(
        catalog,
        f"{TAX}/schema/v1.avsc",
        '{"name": "tax_year", "type": "int"}',
        '{"name": "tax_year", "type": "string"}',
    )
    code, _, output = _status(catalog, home, tmp_path / "third.json")
    assert code != 0
    assert "cannot run on these column types" in output
