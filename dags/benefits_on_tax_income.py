"""A subscriber-side DAG: the Social Benefits Agency reacts when tax income lands.

This is what an agency writes in its own Airflow: a DAG scheduled on the Asset that
GovBus updates for every delivery of `tax.income` to `benefits`, instead of polling.
Here it just counts the rows it now holds; a real agency would recompute entitlements.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pendulum
from airflow.sdk import DAG, Asset, task

_HOME = Path(os.environ.get("GOVBUS_HOME", Path(__file__).resolve().parent.parent / ".govbus"))

with DAG(
    dag_id="benefits.recompute_entitlements",
    description="Runs when GovBus delivers tax.income to the Social Benefits Agency.",
    schedule=[Asset("govbus://tax.income/benefits")],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["sample", "subscriber:benefits"],
):

    @task
    def count_income_rows() -> int:
        db = _HOME / "agencies" / "benefits" / "benefits.db"
        with sqlite3.connect(db) as conn:
            (rows,) = conn.execute("SELECT count(*) FROM tax_income").fetchone()
        return int(rows)

    count_income_rows()
