"""A subscription's `schedule`: a preset, a cron, or `after: [datasets]`; checked with file:line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from exchange.catalog.loader import check_catalog, load_catalog
from exchange.catalog.schedules import parse_schedule
from tests.conftest import CATALOG

KNOWN = {"tax.income", "registry.residents"}


def _parse(value: object) -> tuple[object, list[tuple[str, str]]]:
    problems: list[tuple[str, str]] = []
    result = parse_schedule(value, KNOWN, lambda field, message: problems.append((field, message)))
    return result, problems


@pytest.mark.parametrize("value", ["@daily", "@hourly", "0 6 * * 1-5", "*/15 * * * *"])
def test_presets_and_cron_expressions_are_time_schedules(value: str) -> None:
    assert _parse(value) == ((value, ()), [])


def test_after_lists_datasets_once_each_and_accepts_a_single_id() -> None:
    assert _parse({"after": ["tax.income", "tax.income"]}) == ((None, ("tax.income",)), [])
    assert _parse({"after": "registry.residents"}) == ((None, ("registry.residents",)), [])
    assert _parse(None) == ((None, ()), [])


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("daily", "preset"),
        ("0 6 * *", "5-field cron"),
        ({"after": []}, "must list dataset ids"),
        ({"after": ["tax.incom"]}, "unknown dataset(s) tax.incom"),
        ({"when": ["tax.income"]}, "a mapping `after:"),
        (7, "a mapping `after:"),
    ],
)
def test_bad_schedules_are_refused_with_what_to_write(value: object, says: str) -> None:
    (schedule, after), problems = _parse(value)
    assert (schedule, after) == (None, ())
    assert [field for field, _ in problems] == ["schedule"]
    assert says in problems[0][1]


def _catalog_with(tmp_path: Path, old: str, new: str) -> Path:
    catalog = tmp_path / "catalog"
    shutil.copytree(CATALOG, catalog)
    path = catalog / "subscriptions" / "statistics.yaml"
    path.write_text(path.read_text().replace(old, new, 1))
    return catalog


def test_the_catalog_check_names_file_line_and_field(tmp_path: Path) -> None:
    catalog = _catalog_with(tmp_path, 'schedule: "@weekly"', "schedule: {after: [no.such]}")
    lines = (catalog / "subscriptions" / "statistics.yaml").read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if "no.such" in text)
    shown = [str(p) for p in check_catalog(catalog)]
    assert any(f"statistics.yaml:{line}: schedule: after: unknown dataset(s) no.such" in s for s in shown)


def test_a_dataset_cannot_wait_for_itself(tmp_path: Path) -> None:
    catalog = _catalog_with(tmp_path, 'schedule: "@weekly"', "schedule: {after: [tax.income]}")
    assert any("cannot wait for itself" in str(p) for p in check_catalog(catalog))


def test_after_reaches_the_subscription(tmp_path: Path) -> None:
    catalog = _catalog_with(tmp_path, 'schedule: "@weekly"', "schedule: {after: [registry.residents]}")
    sub = load_catalog(catalog).subscriptions["statistics.tax-income"]
    assert (sub.schedule, sub.after) == (None, ("registry.residents",))
