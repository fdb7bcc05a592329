"""`govbus airflow pools`: one Airflow pool per source agency, in Airflow's own metadata DB."""

from __future__ import annotations

import json
import shutil

import pytest
import sqlalchemy as sa

from tests.conftest import CATALOG
from tests.dags.conftest import AIRFLOW, GOVBUS, run


def _pools(env: dict[str, str]) -> dict[str, int]:
    engine = sa.create_engine(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    try:
        with engine.connect() as conn:
            return dict(conn.execute(sa.text("SELECT pool, slots FROM slot_pool")).all())
    finally:
        engine.dispose()


@pytest.mark.slow
def test_pools_are_created_updated_and_pruned(airflow_db, tmp_path):
    done = run([GOVBUS, "airflow", "pools"], airflow_db)
    pools = _pools(airflow_db)
    assert pools["govbus_tax"] == 2
    assert pools["govbus_registry"] == 1
    assert pools["default_pool"] == 128  # Airflow's own pool is left alone
    assert "govbus_tax" in done.stdout

    # The agency allows more reads, and a pool of a former source agency lingers.
    catalog = tmp_path / "catalog"
    shutil.copytree(CATALOG, catalog)
    agencies = catalog / "agencies.yaml"
    agencies.write_text(agencies.read_text().replace("max_concurrent_reads: 2", "max_concurrent_reads: 5"))
    run([AIRFLOW, "pools", "set", "govbus_gone", "1", "an agency that left"], airflow_db)
    env = {**airflow_db, "GOVBUS_CATALOG": str(catalog)}
    done = run([GOVBUS, "airflow", "pools"], env)
    assert _pools(env)["govbus_tax"] == 5
    assert "govbus_gone" in _pools(env)
    assert "pool govbus_gone left in place" in done.stdout
    run([GOVBUS, "airflow", "pools", "--prune"], env)
    assert "govbus_gone" not in _pools(env)
    assert _pools(env)["govbus_tax"] == 5


@pytest.mark.slow
def test_pools_file_is_what_airflow_pools_import_reads(airflow_db, tmp_path):
    target = tmp_path / "pools.json"
    run([GOVBUS, "airflow", "pools", "--json", str(target)], airflow_db)
    written = json.loads(target.read_text())
    assert written["govbus_tax"]["slots"] == 2
    assert _pools(airflow_db).get("govbus_tax") is None  # written, not applied
    run([AIRFLOW, "pools", "import", str(target)], airflow_db)
    assert _pools(airflow_db)["govbus_tax"] == 2


def test_pools_without_airflow_tables_say_to_migrate_first(airflow_env):
    done = run([GOVBUS, "airflow", "pools"], airflow_env, check=False)
    assert done.returncode == 78, done.stdout + done.stderr
    assert "run `airflow db migrate` first" in done.stdout + done.stderr
