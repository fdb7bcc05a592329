"""One output layer: `--format table|json|csv` on every listing command, tables never cut.

The commands run as a user pipes them (a subprocess whose stdout is not a terminal) on a
sample deployment seeded once per module, and their JSON and CSV are checked against the
shapes docs/cli-output.md documents.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from exchange.cli.output import csv_text, print_table
from exchange.views.consents import CONSENT_CSV_COLUMNS
from exchange.views.quarantine_rows import LIST_CSV_COLUMNS, SHOW_CSV_COLUMNS
from exchange.views.run_summary import RUN_CSV_COLUMNS
from exchange.views.status import STATUS_CSV_COLUMNS
from tests.conftest import CATALOG, REPO

SUBJECT_COLUMNS = ["ledger_seq", "at", "dataset", "recipient", "purpose", "basis", "fields", "batch_id"]
DATASETS = ["health.disability", "registry.residents", "tax.income"]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sample deployment after one demo run (small), shared by the module's tests."""
    folder = tmp_path_factory.mktemp("output") / "govbus-home"
    done = _govbus("demo", home=folder)  # the sample as shipped: its approvals need its size
    assert done.returncode == 0, done.stderr
    return folder


def _govbus(
    *args: str, home: Path, columns: str | None = "80", **extra: str
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GOVBUS_HOME": str(home), "GOVBUS_CATALOG": str(CATALOG), **extra}
    env.pop("GOVBUS_STATE_URL", None)
    if columns is None:
        env.pop("COLUMNS", None)
    else:
        env["COLUMNS"] = columns
    return subprocess.run(
        [sys.executable, "-m", "exchange.cli", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def govbus(*args: str, home: Path, code: int = 0, **extra: str) -> subprocess.CompletedProcess[str]:
    done = _govbus(*args, home=home, **extra)
    assert done.returncode == code, done.stderr
    return done


def rows_of(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    return list(reader.fieldnames or []), list(reader)


def a_tax_national_id(home: Path) -> str:
    engine = sa.create_engine(f"sqlite:///{home / 'agencies' / 'tax' / 'tax.db'}")
    try:
        with engine.connect() as conn:
            return str(conn.execute(sa.text("SELECT national_id FROM income_returns LIMIT 1")).scalar_one())
    finally:
        engine.dispose()


# -- run ---------------------------------------------------------------------------------


def test_run_as_json_and_csv_on_stdout_progress_on_stderr(home: Path) -> None:
    shaped = json.loads(govbus("run", "--format", "json", home=home, GOVBUS_PROGRESS_SECONDS="0").stdout)
    assert list(shaped) == ["ok", "datasets", "subscriptions"] and shaped["ok"] is True
    assert [d["dataset"] for d in shaped["datasets"]] == DATASETS
    assert list(shaped["datasets"][0]) == [
        "dataset", "status", "rows_read", "rows_quarantined", "stages_committed", "failure", "sla_breaches",
    ]  # fmt: skip
    housing = next(s for s in shaped["subscriptions"] if s["subscription"] == "housing.tax-income")
    assert list(housing) == [
        "subscription", "dataset", "status", "rows_delivered", "rows_denied", "denied_because",
        "initial_load_rows", "failure",
    ]  # fmt: skip
    assert housing["dataset"] == "tax.income" and housing["status"] == "ok"

    done = govbus("run", "tax.income", "--format", "csv", home=home, GOVBUS_PROGRESS_SECONDS="0")
    header, rows = rows_of(done.stdout)
    assert tuple(header) == RUN_CSV_COLUMNS
    assert {r["subscription"] for r in rows} >= {"housing.tax-income", "benefits.tax-income"}
    assert {r["dataset"] for r in rows} == {"tax.income"}
    assert "progress: tax.income" in done.stderr  # GOVBUS_PROGRESS_SECONDS=0: a line per batch


def test_the_run_summary_is_not_cut_when_piped(home: Path) -> None:
    govbus("demo", "--more", home=home)
    out = govbus("run", home=home, columns="80").stdout
    assert "…" not in out
    for text in (
        "health.disability",
        "registry.residents",
        "statistics.regional-income",
        "benefits.disability",
    ):
        assert text in out, text
    lines = [line for line in out.splitlines() if "housing.tax-income" in line]
    assert len(lines) == 1 and "tax.income" in lines[0]  # one line per row: grep finds it whole


# -- status ------------------------------------------------------------------------------


def test_status_as_json_and_csv(home: Path) -> None:
    shaped = json.loads(govbus("status", "--format", "json", home=home).stdout)
    assert [d["dataset"] for d in shaped["datasets"]] == DATASETS
    tax = shaped["datasets"][2]
    assert tax["committed_at"].endswith("+00:00") and tax["last_run_status"] == "ok"
    subs = {s["subscription"]: s for s in shaped["subscriptions"]}
    assert subs["statistics.regional-income"]["origin"] == "request"
    assert subs["benefits.tax-income"]["state"] == "active" and subs["benefits.tax-income"]["batches"] >= 1
    header, rows = rows_of(govbus("status", "--format", "csv", home=home).stdout)
    assert tuple(header) == STATUS_CSV_COLUMNS
    assert {r["subscription"] for r in rows} == set(subs)


# -- quarantine --------------------------------------------------------------------------


def test_quarantine_list_as_json_and_csv_and_whole_reasons_when_piped(home: Path) -> None:
    shaped = json.loads(govbus("quarantine", "list", "--limit", "5", "--format", "json", home=home).stdout)
    assert list(shaped) == ["open", "shown", "rows"] and shaped["shown"] == 5 and shaped["open"] > 5
    assert list(shaped["rows"][0]) == ["id", "dataset", "stage_id", "key", "position", "reasons"]
    residents = json.loads(
        govbus("quarantine", "list", "--dataset", "registry.residents", "--format", "json", home=home).stdout
    )
    keys = {row["key"] for row in residents["rows"] if row["position"] is None}
    assert keys <= {"•••"}  # national_id, a personal key, is masked

    header, rows = rows_of(govbus("quarantine", "list", "--limit", "5", "--format", "csv", home=home).stdout)
    assert tuple(header) == LIST_CSV_COLUMNS and len(rows) == 5

    table = govbus("quarantine", "list", "--limit", "200", home=home, columns="80").stdout
    assert "…" not in table
    for row in shaped["rows"]:
        for reason in row["reasons"]:
            assert reason in table, reason


def test_quarantine_show_as_json_and_csv_masks_values(home: Path) -> None:
    done = govbus(
        "quarantine", "show", "--dataset", "tax.income", "--limit", "2", "--format", "json", home=home
    )
    shaped = json.loads(done.stdout)
    assert shaped["revealed"] is False and shaped["ledger_seq"] is None and len(shaped["rows"]) == 2
    fields = {f["name"]: f for f in shaped["rows"][0]["fields"]}
    assert fields["national_id"] == {"name": "national_id", "classification": "personal", "value": "•••"}
    assert "masked" in done.stderr  # the notice goes with a table; here to stderr
    header, rows = rows_of(
        govbus(
            "quarantine", "show", "--dataset", "tax.income", "--limit", "2", "--format", "csv", home=home
        ).stdout
    )
    assert tuple(header) == SHOW_CSV_COLUMNS
    assert {r["field"] for r in rows} >= {"national_id", "gross_income"}
    assert all(
        r["value"] == "•••" for r in rows if r["classification"] == "personal" and r["value"] != "null"
    )


# -- audit subject -----------------------------------------------------------------------


def test_audit_subject_csv_has_every_column_with_no_delivery(home: Path) -> None:
    header, rows = rows_of(govbus("audit", "subject", "00000000000", "--format", "csv", home=home).stdout)
    assert header == SUBJECT_COLUMNS and rows == []
    person = a_tax_national_id(home)
    done = govbus("audit", "subject", person, "--format", "csv", home=home)
    header, rows = rows_of(done.stdout)
    assert header == SUBJECT_COLUMNS and rows and person not in done.stdout
    table = govbus("audit", "subject", person, home=home, columns="80").stdout
    assert "…" not in table and "statute:SBA-12" in table


# -- consent show ------------------------------------------------------------------------


def test_consent_show_as_json_and_csv(home: Path) -> None:
    person = "12345678903"
    govbus(
        "consent", "grant", person, "--recipient", "housing", "--dataset", "tax.income",
        "--purpose", "HOUSING_ALLOWANCE", "--fields", "national_id,gross_income", home=home,
    )  # fmt: skip
    shaped = json.loads(govbus("consent", "show", person, "--format", "json", home=home).stdout)
    [consent] = shaped["consents"]
    assert consent["recipient"] == "housing" and consent["fields"] == ["gross_income", "national_id"]
    assert consent["history"] is None and consent["status"] == "ACTIVE"
    assert person not in json.dumps(shaped)
    with_history = json.loads(
        govbus("consent", "show", person, "--history", "--format", "json", home=home).stdout
    )
    assert [e["event"] for e in with_history["consents"][0]["history"]] == ["given"]
    header, rows = rows_of(
        govbus("consent", "show", person, "--history", "--format", "csv", home=home).stdout
    )
    assert tuple(header) == CONSENT_CSV_COLUMNS and rows[0]["event"] == "given"
    header, rows = rows_of(govbus("consent", "show", "99999999999", "--format", "csv", home=home).stdout)
    assert tuple(header) == CONSENT_CSV_COLUMNS and rows == []


# -- subscription and catalog ------------------------------------------------------------


def test_subscription_list_and_show_as_csv(home: Path) -> None:
    header, rows = rows_of(govbus("subscription", "list", "--format", "csv", home=home).stdout)
    assert header == ["id", "agency", "dataset", "purpose", "basis", "origin", "state", "since"]
    assert "statistics.regional-income" in {r["id"] for r in rows}
    header, rows = rows_of(
        govbus("subscription", "show", "housing.tax-income", "--format", "csv", home=home).stdout
    )
    shown = {r["field"]: r["value"] for r in rows}
    assert header == ["field", "value"] and shown["dataset"] == "tax.income" and shown["state"] == "active"
    listed = json.loads(govbus("subscription", "list", "--format", "json", home=home).stdout)
    assert {r["id"] for r in listed} == {
        r["id"] for r in rows_of(govbus("subscription", "list", "--format", "csv", home=home).stdout)[1]
    }


def test_catalog_show_as_csv_is_one_row_per_field(home: Path) -> None:
    header, rows = rows_of(govbus("catalog", "show", "tax.income", "--format", "csv", home=home).stdout)
    assert header[:3] == ["dataset", "field", "type"]
    assert [r["field"] for r in rows][:2] == ["return_id", "national_id"]
    assert next(r for r in rows if r["field"] == "gross_income")["type"] == "decimal(14,2)"


def test_an_unknown_format_is_refused(home: Path) -> None:
    done = govbus("status", "--format", "xml", home=home, code=2)
    assert "xml" in done.stderr and "table" in done.stderr


# -- the layer itself --------------------------------------------------------------------


def test_a_narrow_terminal_wraps_cells_instead_of_cutting_them() -> None:
    out = io.StringIO()
    terminal = Console(file=out, force_terminal=True, width=40, color_system=None)
    table = Table("subscription", "denied because")
    table.add_row("statistics.regional-income", "consent expired 15; consent paused 16; no consent 16")
    print_table(table, terminal)
    text = out.getvalue()
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= 40
    cells = [line.split("│")[1:-1] for line in text.splitlines() if line.startswith("│")]
    first, second = ("".join(row[i].strip() for row in cells) for i in (0, 1))
    assert len(cells) > 1 and first == "statistics.regional-income"
    assert second.replace(" ", "") == "consentexpired15;consentpaused16;noconsent16"


def test_csv_cells() -> None:
    text = csv_text(
        ("a", "b", "c", "d", "e"), [{"a": None, "b": ["x", "y"], "c": True, "d": {"k": 1}, "e": [{"k": 1}]}]
    )
    assert text == 'a,b,c,d,e\n,x;y,true,"{""k"":1}","[{""k"":1}]"\n'
    assert csv_text(("a",), []) == "a\n"
