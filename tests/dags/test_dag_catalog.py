"""The DAG file's light catalog reader gives what the full catalog says, and names what it cannot read.

`exchange.orchestration.dag_catalog` reads only YAML (parsing the DAG folder must stay
cheap); these tests hold its specs equal to those built from `load_catalog`, on the
sample catalog and on one whose schedules wait on other datasets, and check that a
catalog it cannot build DAGs from is refused naming the file and line.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from exchange.catalog.loader import load_catalog
from exchange.catalog.schedules import frequency
from exchange.orchestration.dag_catalog import DagSpec, SubscriptionSpec, dag_specs, pool_name
from govbus.errors import BadConfiguration, GovBusError
from tests.conftest import CATALOG


def _from_full_catalog(root: Path) -> list[DagSpec]:
    """The specs as the whole catalog (contracts, subscriptions, checks) says them."""
    catalog = load_catalog(root)
    specs = []
    for dataset_id in sorted(catalog.datasets):
        contract = catalog.datasets[dataset_id].contract
        subs = catalog.subscriptions_for(dataset_id)
        schedules = sorted({s.schedule for s in subs if s.schedule}, key=frequency)
        judged = contract.sla.freshness is not None and contract.cursor_field is not None
        specs.append(
            DagSpec(
                dataset=dataset_id,
                owner=contract.owner,
                schedule=schedules[0] if schedules else None,
                subscriptions=tuple(SubscriptionSpec(s.id, s.agency, s.purpose, s.basis) for s in subs),
                description=contract.description,
                pool=pool_name(contract.owner),
                freshness=contract.sla.freshness_text if judged else None,
                after=tuple(sorted({d for s in subs for d in s.after})),
            )
        )
    return specs


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    copy = tmp_path / "catalog"
    shutil.copytree(CATALOG, copy)
    return copy


def test_the_light_reader_says_what_the_full_catalog_says() -> None:
    specs = dag_specs(CATALOG)
    assert specs == _from_full_catalog(CATALOG)
    assert [s.freshness for s in specs if s.dataset == "tax.income"] == ["P2D"]


def test_schedules_after_other_datasets_read_alike(catalog: Path) -> None:
    path = catalog / "subscriptions" / "benefits.yaml"
    head, tail = path.read_text().split("dataset: tax.income", 1)
    path.write_text(
        head
        + "dataset: tax.income"
        + tail.replace('schedule: "@daily"', "schedule: {after: [registry.residents]}", 1)
    )
    specs = dag_specs(catalog)
    assert specs == _from_full_catalog(catalog)
    assert next(s for s in specs if s.dataset == "tax.income").after == ("registry.residents",)


@pytest.mark.parametrize(
    ("file", "old", "new", "says"),
    [
        (
            "subscriptions/benefits.yaml",
            "dataset: tax.income",
            "dataset: tax.incomes",
            "unknown dataset 'tax.incomes'",
        ),
        (
            "subscriptions/benefits.yaml",
            'schedule: "@daily"',
            'schedule: "@sometimes"',
            "schedule: must be an Airflow preset",
        ),
        ("datasets/tax.income/contract.yaml", "owner: tax", "owner: taxes", "unknown agency 'taxes'"),
    ],
)
def test_a_catalog_it_cannot_build_dags_from_is_refused_at_its_line(
    catalog: Path, file: str, old: str, new: str, says: str
) -> None:
    path = catalog / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(BadConfiguration, match=says) as info:
        dag_specs(catalog)
    line = 1 + text[: text.index(old)].count("\n")
    assert info.value.where == f"catalog/{file}:{line}"
    assert "govbus check" in (info.value.hint or "")


def test_a_file_that_does_not_read_is_refused(catalog: Path) -> None:
    (catalog / "purposes.yaml").write_text("purposes: [ {code: X\n")
    with pytest.raises(GovBusError, match=r"purposes\.yaml"):
        dag_specs(catalog)
