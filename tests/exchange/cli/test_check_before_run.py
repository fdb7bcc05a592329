"""`govbus check` refuses each hostile setting of issue 16 before a run, with a clear message.

Every case edits one setting of a copy of the sample catalog and runs `govbus check`:
paths that climb out (`..`), absolute paths elsewhere, symlinks out of the home, SQLite
files outside it, SQL names that are not plain identifiers, bounds that are not numbers.
Each must fail the check (exit 1) naming the file, the line and the setting; none may
be found only at run time. Missing variables are said (and fail with --strict).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from exchange.cli.main import app
from exchange.state import Settings
from tests.conftest import CATALOG, REPO

STATS = "subscriptions/statistics.yaml"
BENEFITS = "subscriptions/benefits.yaml"
RESIDENTS = "datasets/registry.residents/contract.yaml"
TAX = "datasets/tax.income/contract.yaml"
STATS_SINK = "directory: ${GOVBUS_HOME}/agencies/statistics/inbox/tax.income"
RESIDENTS_DIR = "directory: ${GOVBUS_HOME}/agencies/registry/export"
BENEFITS_URL = "url: sqlite:///${GOVBUS_HOME}/agencies/benefits/benefits.db\n      table: tax_income"
TAX_URL = "url: sqlite:///${GOVBUS_HOME}/agencies/tax/tax.db"

# (case, file, old text, new text, the setting named, what the message says)
HOSTILE = [
    (
        "relative sink climbing out",
        STATS,
        STATS_SINK,
        "directory: ../outside/rel-sink",
        "sink: directory",
        "resolves outside",
    ),
    (
        "sink climbing out of the home",
        STATS,
        STATS_SINK,
        "directory: ${GOVBUS_HOME}/../x",
        "sink: directory",
        "resolves outside",
    ),
    (
        "absolute sink elsewhere",
        STATS,
        STATS_SINK,
        "directory: /tmp/elsewhere",
        "sink: directory",
        "resolves outside",
    ),
    (
        "symlinked sink folder",
        STATS,
        STATS_SINK,
        "directory: ${GOVBUS_HOME}/link/inbox",
        "sink: directory",
        "symlinks",
    ),
    (
        "source climbing to /etc/passwd",
        RESIDENTS,
        RESIDENTS_DIR + '\n  pattern: "residents-*.dat"',
        "directory: ${GOVBUS_HOME}/../../../../../../../../etc\n  pattern: passwd",
        "source: directory",
        "resolves outside",
    ),
    (
        "relative source climbing out",
        RESIDENTS,
        RESIDENTS_DIR,
        "directory: ../../../etc",
        "source: directory",
        "resolves outside",
    ),
    (
        "absolute source elsewhere",
        RESIDENTS,
        RESIDENTS_DIR,
        "directory: /etc",
        "source: directory",
        "resolves outside",
    ),
    (
        "symlinked source folder",
        RESIDENTS,
        RESIDENTS_DIR,
        "directory: ${GOVBUS_HOME}/link",
        "source: directory",
        "symlinks",
    ),
    (
        "archive folder outside",
        RESIDENTS,
        "archive_directory: ${GOVBUS_HOME}/agencies/registry/export/archive",
        "archive_directory: /tmp/archive",
        "source: archive_directory",
        "resolves outside",
    ),
    (
        "copybook outside",
        RESIDENTS,
        "copybook: ${DATASET_DIR}/residents.cpy",
        "copybook: /etc/passwd",
        "source: copybook",
        "resolves outside",
    ),
    (
        "copybook climbing out of its folder",
        RESIDENTS,
        "copybook: ${DATASET_DIR}/residents.cpy",
        "copybook: ${DATASET_DIR}/../../agencies.yaml",
        "source: copybook",
        "resolves outside",
    ),
    ("SQLite source outside", TAX, TAX_URL, "url: sqlite:////etc/tax.db", "source: url", "resolves outside"),
    (
        "SQLite sink climbing out",
        BENEFITS,
        BENEFITS_URL,
        "url: sqlite:///${GOVBUS_HOME}/../benefits.db\n      table: tax_income",
        "sink: url",
        "resolves outside",
    ),
    (
        "SQLite URI file name",
        BENEFITS,
        BENEFITS_URL,
        "url: sqlite:///file:x.db?uri=true\n      table: tax_income",
        "sink: url",
        "URI file name",
    ),
    (
        "NUL in a path",
        STATS,
        STATS_SINK,
        'directory: "${GOVBUS_HOME}/a\\0b"',
        "sink: directory",
        "must be a path",
    ),
    (
        "SQL source table with a statement",
        TAX,
        "table: income_returns",
        'table: "x; DROP TABLE y"',
        "source: table",
        "not a plain SQL identifier",
    ),
    (
        "SQL source table with three parts",
        TAX,
        "table: income_returns",
        "table: a.b.c",
        "source: table",
        "not a table name",
    ),
    (
        "SQL sink table with a statement",
        BENEFITS,
        "table: tax_income",
        'table: "t --"',
        "sink: table",
        "not a plain SQL identifier",
    ),
    (
        "SQL sink of another database kind",
        BENEFITS,
        BENEFITS_URL,
        "url: oracle://db/x\n      table: tax_income",
        "sink: url",
        "SQLite, PostgreSQL and MariaDB",
    ),
    (
        "field size not a number",
        TAX,
        "table: income_returns",
        "table: income_returns\n  max_field_bytes: 5MB",
        "source: max_field_bytes",
        "positive whole number",
    ),
    (
        "unknown sink setting",
        STATS,
        STATS_SINK,
        STATS_SINK + "\n      mode: append",
        "sink: mode",
        "unknown setting",
    ),
]


@pytest.fixture
def catalog(tmp_path: Path, govbus_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    copy = tmp_path / "catalog"
    shutil.copytree(CATALOG, copy)
    monkeypatch.setenv("GOVBUS_CATALOG", str(copy))
    for name in ("GOVBUS_ALLOWED_ROOTS", "BENEFITS_DB_URL"):
        monkeypatch.delenv(name, raising=False)
    govbus_home.mkdir(parents=True, exist_ok=True)
    (tmp_path / "outside").mkdir()
    os.symlink(tmp_path / "outside", govbus_home / "link")
    return copy


def check(*args: str) -> tuple[int, str]:
    result = CliRunner(env={"COLUMNS": "300"}).invoke(app, ["check", *args], catch_exceptions=False)
    return result.exit_code, result.output


def edit(catalog: Path, file: str, old: str, new: str) -> int:
    """Replace `old` by `new` in the catalog file; the 1-based line where it starts."""
    path = catalog / file
    text = path.read_text()
    assert old in text, f"{old!r} not in {file}"
    path.write_text(text.replace(old, new, 1))
    return text[: text.index(old)].count("\n") + 1


@pytest.mark.parametrize(
    ("case", "file", "old", "new", "setting", "said"), HOSTILE, ids=[c[0] for c in HOSTILE]
)
def test_a_hostile_setting_is_refused_before_any_run(
    catalog: Path, case: str, file: str, old: str, new: str, setting: str, said: str
) -> None:
    edit(catalog, file, old, new)
    code, out = check()
    assert code == 1, out
    refused = [line for line in out.splitlines() if line.startswith("✗")]
    assert len(refused) == 1, out
    assert re.search(rf"catalog/{re.escape(file)}:\d+: .*{re.escape(setting)}: ", refused[0]), refused[0]
    assert said in refused[0], refused[0]
    assert "Traceback" not in out and "internal error" not in out


def test_the_sample_catalog_passes_and_says_what_is_missing_here(catalog: Path) -> None:
    code, out = check()
    assert code == 0, out
    assert "catalog" in out and "is consistent" in out
    assert "environment variable GOVBUS_HEALTH_API_URL is not set (missing)" in out
    assert "✗" not in out
    code, out = check("--strict")
    assert code == 1 and "✗ catalog/datasets/health.disability/contract.yaml:15: source: url:" in out


def test_a_sink_url_from_an_unset_variable_is_named_before_delivery(catalog: Path) -> None:
    line = edit(catalog, BENEFITS, BENEFITS_URL, "url: ${BENEFITS_DB_URL}\n      table: tax_income")
    code, out = check("--strict")
    assert code == 1
    assert re.search(
        r"catalog/subscriptions/benefits\.yaml:\d+: benefits\.tax-income: sink: url: "
        r"environment variable BENEFITS_DB_URL is not set \(missing\)",
        out,
    ), out
    assert line > 0


def test_an_operator_may_allow_more_folders(
    catalog: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    edit(catalog, STATS, STATS_SINK, f"directory: {tmp_path}/outside/inbox")
    assert check()[0] == 1
    monkeypatch.setenv("GOVBUS_ALLOWED_ROOTS", str(tmp_path / "outside"))
    code, out = check()
    assert code == 0 and "✗" not in out, out


def test_a_relative_allowed_root_is_refused(catalog: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "exchange.cli", "check"],
        env={**os.environ, "GOVBUS_ALLOWED_ROOTS": "relative/folder"},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 78
    assert "GOVBUS_ALLOWED_ROOTS: entry 1 is not an absolute path" in out.stderr


def test_a_home_holding_percent_2f_opens_its_own_state_database(tmp_path: Path) -> None:
    home = tmp_path / "a%2F..%2Fb"
    settings = Settings.from_env({"GOVBUS_HOME": str(home)})
    import sqlalchemy as sa

    assert sa.make_url(settings.state_url).database == str(home / "state.db")
    assert "%252F" in settings.state_url


def test_sqlite_sinks_under_a_home_holding_percent_2f_stay_in_it(
    catalog: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "h%2F..%2F..%2Fescape"
    (home / "agencies" / "benefits").mkdir(parents=True)
    monkeypatch.setenv("GOVBUS_HOME", str(home))
    code, out = check()
    assert code == 0, out
    assert "benefits.tax-income: sink: url" not in out  # quoted into the URL: its folder exists
