"""Airflow as the DAG tests run it: the repo's airflow.cfg, a metadata DB and logs in tmp."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CATALOG, REPO

AIRFLOW = str(Path(sys.executable).with_name("airflow"))
GOVBUS = str(Path(sys.executable).with_name("govbus"))


def airflow_environ(tmp: Path) -> dict[str, str]:
    """Airflow with the repo's airflow.cfg, but a fresh metadata DB and logs under `tmp`.

    Retries wait one second here, so a test that meets a retry does not sleep for minutes.
    OpenLineage is off unless a test configures a transport.
    """
    return {
        **os.environ,
        "AIRFLOW_HOME": str(REPO),
        "AIRFLOW_CONFIG": str(REPO / "airflow.cfg"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(tmp / "logs"),
        "AIRFLOW__LOGGING__DAG_PROCESSOR_CHILD_PROCESS_LOG_DIRECTORY": str(tmp / "logs" / "dp"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__OPENLINEAGE__DISABLED": "True",
        "GOVBUS_TASK_RETRY_DELAY": "1",
    }


@pytest.fixture
def airflow_env(tmp_path: Path, govbus_home: Path) -> dict[str, str]:
    """`airflow_environ` for one test, with the test's own GovBus home."""
    return airflow_environ(tmp_path)


@pytest.fixture(scope="module")
def sample_bag(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The repo's DAG folder on the sample catalog, loaded once per module."""
    tmp = tmp_path_factory.mktemp("dagbag")
    env = airflow_environ(tmp)
    env.update(GOVBUS_HOME=str(tmp / "govbus-home"), GOVBUS_CATALOG=str(CATALOG))
    for name in ("GOVBUS_TASK_RETRIES", "GOVBUS_TASK_RETRY_DELAY", "GOVBUS_TASK_MAX_RETRY_DELAY"):
        env.pop(name, None)
    return dagbag(env)


@pytest.fixture(scope="session")
def _migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One `airflow db migrate` per session; tests get a copy (migrating takes ~10-30 s)."""
    folder = tmp_path_factory.mktemp("airflow-template")
    db = folder / "airflow.db"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(REPO),
        "AIRFLOW_CONFIG": str(REPO / "airflow.cfg"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{db}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(folder / "logs"),
    }
    run([AIRFLOW, "db", "migrate"], env)
    return db


@pytest.fixture
def airflow_db(airflow_env: dict[str, str], _migrated_template: Path) -> dict[str, str]:
    """`airflow_env` whose metadata DB is already migrated."""
    target = airflow_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].removeprefix("sqlite:///")
    shutil.copyfile(_migrated_template, target)
    return airflow_env


def run(args: list[str], env: dict[str, str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command (Airflow's or GovBus's), failing the test with its output's tail."""
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600, check=False)
    if check:
        assert done.returncode == 0, (done.stdout + done.stderr)[-5000:]
    return done


DAGBAG_SCRIPT = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])

def outlets(task):
    return [getattr(a, "uri", None) or "alias:" + a.name for a in task.outlets]

def uris(condition):
    if condition is None:
        return []
    if hasattr(condition, "uri"):
        return [str(condition.uri)]
    return [u for part in getattr(condition, "objects", ()) for u in uris(part)]

def about(task):
    return {
        "type": type(task).__name__,
        "mapped": task.is_mapped,
        "pool": task.pool,
        "retries": task.retries,
        "retry_delay": task.retry_delay.total_seconds(),
        "backoff": task.retry_exponential_backoff,
        "max_retry_delay": task.max_retry_delay.total_seconds() if task.max_retry_delay else None,
        "trigger_rule": str(task.trigger_rule.value),
        "upstream": sorted(task.upstream_task_ids),
        "outlets": outlets(task),
        "expand": expansion(task) if task.is_mapped else None,
    }

def expansion(task):
    value = task.expand_input.value
    if isinstance(value, list):  # mapped over a list known at parse time
        return [dict(k) for k in value]
    return "xcom:" + value.operator.task_id  # mapped over an upstream task's output

print(json.dumps({
    "errors": {k: str(v) for k, v in bag.import_errors.items()},
    "params": {d.dag_id: {k: d.params.get_param(k).dump() for k in d.params} for d in bag.dags.values()},
    "dags": {d.dag_id: {t.task_id: about(t) for t in d.tasks} for d in bag.dags.values()},
    "schedules": {d.dag_id: str(d.schedule) for d in bag.dags.values()},
    "timetables": {d.dag_id: type(d.timetable).__name__ for d in bag.dags.values()},
    "after": {d.dag_id: sorted(uris(getattr(d.timetable, "asset_condition", None)))
              for d in bag.dags.values()},
}))
"""


def dagbag(env: dict[str, str], dags_folder: Path = REPO / "dags") -> dict:
    """Load the DAG folder with Airflow's DagBag in a fresh process; its DAGs as JSON."""
    done = run([sys.executable, "-c", DAGBAG_SCRIPT, str(dags_folder)], env)
    return json.loads(done.stdout.strip().splitlines()[-1])
