"""The DAG folder, as Airflow itself loads and runs it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CATALOG, REPO

AIRFLOW = str(Path(sys.executable).with_name("airflow"))


@pytest.fixture
def airflow_env(tmp_path: Path, govbus_home: Path) -> dict[str, str]:
    """Airflow with the repo's airflow.cfg, but a fresh metadata DB and logs in tmp."""
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(REPO),
        "AIRFLOW_CONFIG": str(REPO / "airflow.cfg"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(tmp_path / "logs"),
        "AIRFLOW__LOGGING__DAG_PROCESSOR_CHILD_PROCESS_LOG_DIRECTORY": str(tmp_path / "logs" / "dp"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    return env


def _dagbag(env: dict[str, str], dags_folder: Path) -> subprocess.CompletedProcess[str]:
    script = (
        "import json\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(dags_folder)!r})\n"
        "print(json.dumps({'errors': {k: str(v) for k, v in bag.import_errors.items()},"
        " 'dags': {d: sorted(bag.dags[d].task_ids) for d in bag.dags},"
        " 'outlets': {t.task_id: [a.uri for a in t.outlets] for d in bag.dags.values() for t in d.tasks"
        " if d.dag_id == 'tax.income'}}))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_dag_folder_imports_with_one_dag_per_dataset(airflow_env):
    import json

    out = _dagbag(airflow_env, REPO / "dags")
    assert out.returncode == 0, out.stderr[-3000:]
    bag = json.loads(out.stdout.strip().splitlines()[-1])
    assert bag["errors"] == {}
    assert bag["dags"]["benefits.recompute_entitlements"] == ["count_income_rows"]
    assert bag["dags"]["tax.income"] == [
        "commit",
        "deliver_benefits_tax_income",
        "deliver_housing_tax_income",
        "deliver_statistics_tax_income",
        "stage",
    ]
    assert bag["outlets"]["deliver_benefits_tax_income"] == ["govbus://tax.income/benefits"]
    assert bag["outlets"]["stage"] == []


def test_broken_catalog_shows_one_failing_dag_instead_of_none(airflow_env, tmp_path):
    import json

    catalog = tmp_path / "catalog"
    shutil.copytree(CATALOG, catalog)
    (catalog / "purposes.yaml").write_text("purposes: [ {code: X\n")
    out = _dagbag({**airflow_env, "GOVBUS_CATALOG": str(catalog)}, REPO / "dags")
    assert out.returncode == 0, out.stderr[-3000:]
    bag = json.loads(out.stdout.strip().splitlines()[-1])
    assert bag["errors"] == {}
    assert "tax.income" not in bag["dags"]
    assert "govbus_catalog_broken" in bag["dags"]


@pytest.mark.slow
def test_airflow_dags_test_runs_tax_income_to_success(airflow_env, govbus_home):
    from exchange import Bus, demo

    bus = Bus.open()
    demo.seed(bus, rows=800)
    bus.close()
    migrate = subprocess.run(
        [AIRFLOW, "db", "migrate"], env=airflow_env, capture_output=True, text=True, timeout=600, check=False
    )
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    run = subprocess.run(
        [AIRFLOW, "dags", "test", "tax.income", "2026-11-01"],
        env=airflow_env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-5000:]
    # The run really moved data: every subscriber got its rows, and the stage committed.
    from tests.e2e.helpers import benefits_rows, statistics_files

    assert len(benefits_rows(govbus_home)) > 700
    assert statistics_files(govbus_home)
    import sqlalchemy as sa

    bus = Bus.open()
    with bus.engine.connect() as conn:
        statuses = conn.execute(sa.text("SELECT status FROM stages")).scalars().all()
    bus.close()
    assert statuses == ["committed"]
    # Each delivery emitted its Asset event, which subscriber DAGs are scheduled on.
    airflow_db = sa.create_engine(airflow_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    with airflow_db.connect() as conn:
        uris = (
            conn.execute(sa.text("SELECT a.uri FROM asset_event e JOIN asset a ON a.id = e.asset_id"))
            .scalars()
            .all()
        )
    airflow_db.dispose()
    assert sorted(set(uris)) == [
        "govbus://tax.income/benefits",
        "govbus://tax.income/housing",
        "govbus://tax.income/statistics",
    ]
