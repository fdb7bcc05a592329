"""The lineage transport `govbus run` sends through: chosen by settings, never failing a step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from exchange.catalog.loader import load_catalog
from exchange.ops import LineageSender, LineageSettings
from exchange.run.lineage import StepEvents
from govbus.errors import BadConfiguration
from tests.conftest import CATALOG

CAT = load_catalog(CATALOG)


def _file(path: Path) -> dict[str, str]:
    return {
        "GOVBUS_LINEAGE_TRANSPORT": json.dumps({"type": "file", "log_file_path": str(path), "append": True})
    }


def test_off_unless_a_transport_is_set() -> None:
    assert LineageSettings.from_env({}).transport is None
    assert LineageSettings.from_env({}).namespace == "default"  # the provider's default
    disabled = {
        "AIRFLOW__OPENLINEAGE__TRANSPORT": '{"type": "console"}',
        "AIRFLOW__OPENLINEAGE__DISABLED": "true",
    }
    assert LineageSettings.from_env(disabled).transport is None


def test_airflow_settings_serve_both_runners_and_ours_win() -> None:
    airflow = {
        "AIRFLOW__OPENLINEAGE__TRANSPORT": '{"type": "console"}',
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "prod",
    }
    assert LineageSettings.from_env(airflow) == LineageSettings({"type": "console"}, "prod")
    ours = {
        **airflow,
        "GOVBUS_LINEAGE_TRANSPORT": '{"type": "http", "url": "http://x"}',
        "GOVBUS_LINEAGE_NAMESPACE": "a",
    }
    assert LineageSettings.from_env(ours) == LineageSettings({"type": "http", "url": "http://x"}, "a")
    kafka = {"AIRFLOW__OPENLINEAGE__TRANSPORT": '{"type": "kafka", "topic": "t"}'}
    assert LineageSettings.from_env(kafka).transport is None  # Airflow's may name others: we send none


@pytest.mark.parametrize("text", ["file", '{"type": "kafka"}', "[1]"])
def test_a_bad_transport_names_the_variable(text: str) -> None:
    with pytest.raises(BadConfiguration) as error:
        LineageSettings.from_env({"GOVBUS_LINEAGE_TRANSPORT": text})
    assert "GOVBUS_LINEAGE_TRANSPORT" in error.value.where


def test_steps_send_start_then_complete_or_fail(tmp_path: Path) -> None:
    events = StepEvents(CAT, LineageSender(LineageSettings.from_env(_file(tmp_path / "ol.jsonl"))))
    with events.step("deliver", "tax.income", "benefits.tax-income") as seen:
        seen.update({"rows_delivered": 7, "batches": 1})
    with pytest.raises(RuntimeError), events.step("commit", "tax.income"):
        raise RuntimeError("sink down")
    sent = [json.loads(line) for line in (tmp_path / "ol.jsonl").read_text().splitlines()]
    assert [(e["job"]["name"], e["eventType"]) for e in sent] == [
        ("tax.income.deliver", "START"),
        ("tax.income.deliver", "COMPLETE"),
        ("tax.income.commit", "START"),
        ("tax.income.commit", "FAIL"),
    ]
    assert sent[0]["run"]["runId"] == sent[1]["run"]["runId"] != sent[2]["run"]["runId"]
    assert sent[1]["outputs"][0]["name"] == "tax.income/benefits"
    assert sent[1]["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] == 7
    assert "sink down" not in json.dumps(sent)


def test_a_transport_that_fails_never_fails_the_step(tmp_path: Path) -> None:
    config = {"type": "http", "url": "http://127.0.0.1:1", "timeout": 1, "retry": {"total": 0}}
    unreachable = {"GOVBUS_LINEAGE_TRANSPORT": json.dumps(config)}
    events = StepEvents(CAT, LineageSender(LineageSettings.from_env(unreachable)))
    with events.step("stage", "tax.income") as seen:
        seen["rows_read"] = 3
    assert seen == {"rows_read": 3}
