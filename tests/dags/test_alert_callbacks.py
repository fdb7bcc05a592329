"""A task that fails for good alerts the operators (the DAG's `on_failure_callback`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from exchange.orchestration import task_failed_alert
from govbus.errors import TransientError
from tests.conftest import REPO
from tests.dags.conftest import airflow_environ, run
from tests.exchange.ops.receivers import webhook_receiver


class _FailNow(Exception):
    """Stands for AirflowFailException, raised `from` the GovBus error as the DAG file does."""


def test_a_failed_task_is_sent_with_the_govbus_message_only(monkeypatch: pytest.MonkeyPatch) -> None:
    cause = TransientError("cannot reach the sink", where="subscription benefits.tax-income")
    wrapped = _FailNow(str(cause))
    wrapped.__cause__ = cause
    with webhook_receiver() as (url, bodies):
        monkeypatch.setenv("GOVBUS_ALERT_WEBHOOK_URL", url)
        assert task_failed_alert("tax.income", "deliver", "benefits.tax-income", wrapped) == []
        assert task_failed_alert("tax.income", "stage", None, KeyError("12345678901")) == []
    first, second = bodies
    assert (first["kind"], first["dataset"], first["step"], first["subscription"]) == (
        "run_failed",
        "tax.income",
        "deliver",
        "benefits.tax-income",
    )
    assert "cannot reach the sink" in first["summary"]
    assert second["summary"] == "stage of tax.income failed: KeyError"  # not the key: it may be data


def test_a_bad_alert_setting_never_fails_the_callback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVBUS_ALERT_WEBHOOK_URL", "ftp://nowhere")
    (problem,) = task_failed_alert("tax.income", "commit", None, None)
    assert "GOVBUS_ALERT_WEBHOOK_URL" in problem


CALLBACKS = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
def names(task):
    found = task.on_failure_callback or []
    return sorted({f.__name__ for f in (found if isinstance(found, list) else [found])})
print(json.dumps({t.task_id: names(t) for t in bag.dags["tax.income"].tasks}))
"""


def test_every_task_of_the_dags_alerts_when_it_fails_for_good(tmp_path: Path, govbus_home: Path) -> None:
    env = airflow_environ(tmp_path)
    done = run([sys.executable, "-c", CALLBACKS, str(REPO / "dags")], env)
    callbacks = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(callbacks) >= {"apply_params", "stage", "deliver", "commit", "freshness"}
    assert all(names == ["_alert_failed"] for names in callbacks.values()), callbacks
