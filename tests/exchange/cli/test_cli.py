"""The `govbus` command line, run as a user runs it (a real subprocess where it matters)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import CATALOG, REPO

GOVBUS = [sys.executable, "-m", "exchange.cli"]


def govbus(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GOVBUS, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture
def env(govbus_home: Path) -> dict[str, str]:
    return {**os.environ, "COLUMNS": "200"}


def test_every_command_has_help(env):
    for command in (
        [],
        ["check"],
        ["run"],
        ["status"],
        ["quarantine", "list"],
        ["audit", "verify"],
        ["demo"],
    ):
        out = govbus(*command, "--help", env=env)
        assert out.returncode == 0, out.stderr
        assert "Usage" in out.stdout


def test_check_passes_on_the_sample_catalog(env):
    out = govbus("check", env=env)
    assert out.returncode == 0, out.stderr
    assert "consistent" in out.stdout


def test_check_says_when_record_hashing_runs_without_the_extension(env):
    assert "pure Python" not in govbus("check", env=env).stderr
    unbuilt = (
        "import sys; sys.modules['govbus._sha256_batch'] = None; "  # as if setup.py could not build it
        "from exchange.cli.main import main; sys.argv = ['govbus', 'check']; main()"
    )
    out = subprocess.run([sys.executable, "-c", unbuilt], env=env, cwd=REPO, capture_output=True,
                         text=True, timeout=300, check=False)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "pure Python" in out.stderr and "libssl-dev" in out.stderr
    assert "consistent" in out.stdout


def test_check_names_file_and_field_of_an_unknown_subscription_field(env, tmp_path):
    catalog = tmp_path / "catalog"
    shutil.copytree(CATALOG, catalog)
    path = catalog / "subscriptions" / "housing.yaml"
    text = path.read_text().replace("gross_income, taxable_income", "gross_income, salary, taxable_income")
    path.write_text(text)
    out = govbus("check", env={**env, "GOVBUS_CATALOG": str(catalog)})
    assert out.returncode == 1
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "salary" in t)
    assert re.search(r"subscriptions/housing\.yaml:\d+: fields: unknown field 'salary'", out.stderr), (
        out.stderr
    )
    assert f"housing.yaml:{line}" in out.stderr or "housing.yaml:" in out.stderr


def test_demo_twice_then_more_and_no_raw_identifier_in_any_output(env, govbus_home):
    first = govbus("-v", "demo", "--rows", "1500", env=env)
    assert first.returncode == 0, first.stderr
    assert "benefits.tax-income" in first.stdout and "quarantined" in first.stdout
    second = govbus("-v", "demo", env=env)
    assert second.returncode == 0, second.stderr
    more = govbus("-v", "demo", "--more", env=env)
    assert more.returncode == 0, more.stderr
    status = govbus("status", env=env)
    quarantine = govbus("quarantine", "list", "--limit", "100", env=env)
    assert quarantine.returncode == 0 and "expect_column_values" in quarantine.stdout

    engine = sa.create_engine(f"sqlite:///{govbus_home / 'agencies' / 'tax' / 'tax.db'}")
    with engine.connect() as conn:
        ids = {r for (r,) in conn.execute(sa.text("SELECT national_id FROM income_returns")) if r}
    engine.dispose()
    assert len(ids) > 500
    everything = "".join(p.stdout + p.stderr for p in (first, second, more, status, quarantine))
    leaked = [i for i in ids if i in everything]
    assert not leaked, f"{len(leaked)} national ids appear in the command output"
    # ... nor in the ledger.
    state = sa.create_engine(f"sqlite:///{govbus_home / 'state.db'}")
    with state.connect() as conn:
        ledger_text = " ".join(str(p) for (p,) in conn.execute(sa.text("SELECT payload FROM ledger")))
    state.dispose()
    assert ledger_text and not [i for i in ids if i in ledger_text]


def test_audit_verify_names_an_edited_ledger_entry(env, govbus_home):
    assert govbus("demo", "--rows", "600", env=env).returncode == 0
    ok = govbus("audit", "verify", env=env)
    assert ok.returncode == 0, ok.stderr
    assert "intact" in ok.stdout
    state = sa.create_engine(f"sqlite:///{govbus_home / 'state.db'}")
    with state.begin() as conn:
        seq, payload = conn.execute(
            sa.text("SELECT seq, payload FROM ledger WHERE kind = 'delivery' ORDER BY seq LIMIT 1 OFFSET 1")
        ).one()
        forged = payload.replace('"rows_delivered":', '"rows_delivered":1', 1)
        assert forged != payload
        conn.execute(sa.text("UPDATE ledger SET payload = :p WHERE seq = :s"), {"p": forged, "s": seq})
    state.dispose()
    bad = govbus("audit", "verify", env=env)
    assert bad.returncode != 0
    assert f"entry {seq}" in bad.stderr


def test_unknown_dataset_is_one_clear_line(env):
    out = govbus("run", "no.such.dataset", env=env)
    assert out.returncode == 78
    assert "unknown dataset 'no.such.dataset'" in out.stderr
    assert "Traceback" not in out.stderr
