"""`govbus run` sends the same OpenLineage events as the DAG's tasks under Airflow.

Two GovBus homes seeded alike: one exchanged by `airflow dags test tax.income` (the
provider sends what the operators describe), the other by `govbus run tax.income` (the
runner sends it itself through the transport the same setting names). Every step's
START and COMPLETE event is compared with what Airflow alone adds left out: run ids,
times, the producer, Airflow's own facets, and the random part of stage ids.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest

from exchange import Bus
from exchange.demo import deployment as demo
from exchange.state.settings import Settings
from tests.dags.conftest import AIRFLOW, GOVBUS, run

STEPS = ("stage", "deliver", "commit", "freshness")


def _seed(home: Path) -> None:
    settings = dataclasses.replace(Settings.from_env(), home=home, state_url=f"sqlite:///{home / 'state.db'}")
    bus = Bus.open(settings)
    try:
        demo.seed(bus, rows=600)
    finally:
        bus.close()


def _steps(path: Path) -> list[dict[str, Any]]:
    """The steps' events, normalized: what both runners must agree on."""
    found = []
    for line in path.read_text().splitlines():
        event = json.loads(line)
        job = event["job"]["name"]
        if job.rsplit(".", 1)[-1] not in STEPS:
            continue  # apply_params, requested: Airflow's tasks around the steps move no data
        facet = dict(event["run"]["facets"]["govbus"])
        facet.pop("_producer", None)
        facet.pop("_schemaURL", None)
        facet["counts"] = {k: _unrandom(v) for k, v in facet.get("counts", {}).items() if k != "stage_id"}
        found.append(
            {
                "job": (event["job"]["namespace"], job),
                "type": event["eventType"],
                "inputs": [_dataset(d) for d in event.get("inputs", [])],
                "outputs": [_dataset(d) for d in event.get("outputs", [])],
                "govbus": facet,
            }
        )
    return sorted(found, key=lambda e: json.dumps(e, sort_keys=True))


def _unrandom(value: Any) -> Any:
    """Stage ids end in a random part (`tax.income.000001.3c7c01`): keep the dataset and sequence."""
    if isinstance(value, list):
        return [re.sub(r"\.[0-9a-f]{6}$", ".*", v) if isinstance(v, str) else v for v in value]
    return value


def _dataset(d: dict[str, Any]) -> dict[str, Any]:
    def strip(facets: dict[str, Any]) -> dict[str, Any]:
        return {k: {n: v for n, v in f.items() if not n.startswith("_")} for k, f in facets.items()}

    return {
        "namespace": d["namespace"],
        "name": d["name"],
        "facets": strip(d.get("facets", {})),
        "inputFacets": strip(d.get("inputFacets", {})),
        "outputFacets": strip(d.get("outputFacets", {})),
    }


@pytest.mark.slow
def test_govbus_run_and_the_dag_send_the_same_lineage(airflow_db, govbus_home, tmp_path):
    transport = lambda path: json.dumps({"type": "file", "log_file_path": str(path), "append": True})  # noqa: E731
    dag_home, run_home = tmp_path / "dag-home", tmp_path / "run-home"
    _seed(dag_home)
    _seed(run_home)
    under_airflow, local = tmp_path / "airflow.jsonl", tmp_path / "govbus-run.jsonl"
    lineage = {"AIRFLOW__OPENLINEAGE__NAMESPACE": "govbus-test", "GOVBUS_LINEAGE_NAMESPACE": "govbus-test"}
    run(
        [AIRFLOW, "dags", "test", "tax.income"],
        {
            **airflow_db,
            **lineage,
            "GOVBUS_HOME": str(dag_home),
            "AIRFLOW__OPENLINEAGE__DISABLED": "False",
            "AIRFLOW__OPENLINEAGE__TRANSPORT": transport(under_airflow),
        },
    )
    run(
        [GOVBUS, "run", "tax.income"],
        {**airflow_db, **lineage, "GOVBUS_HOME": str(run_home), "GOVBUS_LINEAGE_TRANSPORT": transport(local)},
    )
    dag, runner = _steps(under_airflow), _steps(local)
    jobs = {e["job"][1] for e in runner}
    assert jobs == {f"tax.income.{s}" for s in STEPS}
    assert [e["type"] for e in runner].count("START") == 6  # stage, 3 deliveries, commit, freshness
    assert runner == dag
    # The runner's events hold no data value either: no national id, no path of its home.
    text = local.read_text()
    assert str(run_home) not in text
