"""`govbus discover`, run as a user runs it: the sample Tax Authority's income_returns table
drafted into a contract that lints (once its owner writes the purpose) and a schema that
reads the table through SqlSource."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import fastavro
import numpy as np
import pytest
import sqlalchemy as sa
import yaml

from connectors import SqlSource
from contracts import PURPOSE_PLACEHOLDER, lint_contract, load_contract, validate
from exchange.cli.main import main
from exchange.demo import deployment as demo
from schemas import conform, load_schema
from tests.conftest import REPO, postgres_url

GOVBUS = [sys.executable, "-m", "exchange.cli"]
RETURNS = 300
SECRET = "S3cret-Pw!"
PURPOSE = "Lets agencies entitled by statute check a person's assessed income."


def govbus(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`govbus ARGS` in a real process (slow to start: `run` below serves the other tests)."""
    return subprocess.run(
        [*GOVBUS, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=300, check=False
    )


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment, with the catalog pointed at an empty folder (never the repository's)."""
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    values = {"COLUMNS": "300", "GOVBUS_CATALOG": str(catalog), "GOVBUS_HOME": str(tmp_path / "home")}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return {**os.environ, **values}


@pytest.fixture
def run(
    env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Done]:
    """`govbus discover ARGS` in this process, through the console entry point."""

    def invoke(*args: str) -> Done:
        monkeypatch.setattr(sys, "argv", ["govbus", "discover", *args])
        capsys.readouterr()
        root = logging.getLogger()
        handlers, level = root.handlers[:], root.level
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        finally:
            root.handlers[:], root.level = handlers, level  # the CLI installs its Rich handler
        out = capsys.readouterr()
        return Done(code, out.out, out.err)

    return invoke


@pytest.fixture
def tax_db(tmp_path: Path) -> str:
    """The sample Tax Authority's income_returns table (1 % of its rows broken on purpose)."""
    url = f"sqlite:///{tmp_path / 'tax.db'}"
    engine = sa.create_engine(url)
    demo.income_returns.create(engine)
    rng = np.random.default_rng(2026)
    people = rng.integers(10**10, 10**11 - 1, size=RETURNS // 2, dtype=np.int64)
    rows = demo._returns(rng, 0, RETURNS, people, demo.base_time())
    demo._break(rows, rng)
    with engine.begin() as conn:
        conn.execute(sa.insert(demo.income_returns), rows)
    engine.dispose()
    return url


def test_the_sample_tax_table_drafts_a_contract_that_lints_and_reads_the_table(
    tax_db: str, env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "tax.income"
    done = govbus(
        "discover",
        tax_db,
        "income_returns",
        "--owner",
        "tax",
        "--dataset",
        "tax.income",
        "--out",
        str(out),
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert f"drafted {out / 'contract.yaml'}" in done.stdout
    assert "review: national_id: the name looks personal" in done.stderr
    assert "review: updated_at: the cursor column is nullable" in done.stderr
    assert "review: purpose: say why the dataset is shared and which decisions it supports" in done.stderr
    assert "Next: write the purpose" in done.stdout

    contract_file = out / "contract.yaml"
    text = contract_file.read_text(encoding="utf-8")
    assert yaml.safe_load(text)["purpose"] == PURPOSE_PLACEHOLDER
    line = text.splitlines().index(f"purpose: '{PURPOSE_PLACEHOLDER}'") + 1
    assert "why the dataset is shared" in text.splitlines()[line - 3]  # the comment above says what to write
    refused = govbus("contract", "lint", str(out), env=env)
    assert refused.returncode == 1
    assert f"{contract_file}:{line}: purpose: still holds the TODO placeholder" in refused.stderr
    assert "1 problem(s)" in refused.stderr  # the purpose only: the rest of the draft lints

    contract_file.write_text(text.replace(f"'{PURPOSE_PLACEHOLDER}'", PURPOSE), encoding="utf-8")
    lint = govbus("contract", "lint", str(out), env=env)
    assert lint.returncode == 0, lint.stderr
    assert "1 contract(s) clean" in lint.stdout

    fastavro.parse_schema(json.loads((out / "schema/v1.avsc").read_text(encoding="utf-8")))
    contract = load_contract(out / "contract.yaml")
    assert (contract.id, contract.owner, contract.key_fields) == ("tax.income", "tax", ("return_id",))
    assert contract.purpose == PURPOSE
    assert (contract.subject_field, contract.cursor_field) == ("national_id", "updated_at")
    assert contract.fields["national_id"].classification == "personal"
    assert contract.fields["tax_year"].classification == "internal"
    assert dict(contract.source) == {"connector": "sql", "url": tax_db, "table": "income_returns"}
    kinds = {(e.type, tuple(sorted(e.kwargs.items()))) for e in contract.expectations}
    assert ("expect_column_values_to_be_unique", (("column", "return_id"),)) in kinds
    assert ("expect_column_values_to_not_be_null", (("column", "return_id"),)) in kinds
    lengths = ("expect_column_value_lengths_to_be_between", (("column", "national_id"), ("max_value", 11)))
    assert lengths in kinds

    schema = load_schema(contract.schema_path)
    assert schema.field_type("updated_at") == [
        "null",
        {"type": "long", "logicalType": "local-timestamp-micros"},
    ]
    source = SqlSource(tax_db, "income_returns", key_fields=["return_id"], cursor_fields=["updated_at"])
    read = 0
    try:
        for batch in source.read(None, batch_size=128):
            result = conform(batch.data, schema)
            assert result.issues.num_rows == 0
            assert validate(result.table, contract).num_rows == 0
            assert result.table.column("return_id").to_pylist() == batch.data.column("return_id").to_pylist()
            read += batch.data.num_rows
    finally:
        source.close()
    assert read == RETURNS


@pytest.mark.parametrize(
    ("purpose", "description"),
    [
        (PURPOSE, None),
        ("Benefits: checks a claimant's income # per year, 'as assessed'", 'One return: as filed # "final"'),
        ("- yes: null #", "%TAG ~"),
    ],
    ids=["plain", "colons-and-hashes", "yaml-lookalikes"],
)
def test_the_purpose_and_description_given_are_written_as_given_and_lint(
    tax_db: str, run: Callable[..., Done], tmp_path: Path, purpose: str, description: str | None
) -> None:
    out = tmp_path / "tax.income"
    args = ["--owner", "tax", "--out", str(out), "--purpose", purpose]
    done = run(tax_db, "income_returns", *args, *(["--description", description] if description else []))
    assert done.returncode == 0, done.stderr
    assert "review: purpose" not in done.stderr and "Next: review" in done.stdout
    text = (out / "contract.yaml").read_text(encoding="utf-8")
    assert "TODO" not in text
    document = yaml.safe_load(text)
    assert document["purpose"] == purpose
    assert document["description"] == (description or "Rows of the table income_returns.")
    assert lint_contract(out / "contract.yaml") == []
    assert load_contract(out / "contract.yaml").purpose == purpose


def test_existing_files_are_kept_unless_forced_and_stdout_writes_nothing(
    tax_db: str, env: dict[str, str], run: Callable[..., Done], tmp_path: Path
) -> None:
    first = run(tax_db, "income_returns")  # the catalog's datasets/<id>
    folder = Path(env["GOVBUS_CATALOG"]) / "datasets" / "income_returns"
    assert first.returncode == 0, first.stderr
    assert yaml.safe_load((folder / "contract.yaml").read_text(encoding="utf-8"))["owner"] == "unknown"
    assert "review: owner: set the publishing agency's id (--owner)" in first.stderr
    (folder / "contract.yaml").write_text("# reviewed by hand\n", encoding="utf-8")
    again = run(tax_db, "income_returns")
    assert again.returncode == 65
    assert "contract.yaml: exists already" in again.stderr and "--force" in again.stderr
    assert (folder / "contract.yaml").read_text(encoding="utf-8") == "# reviewed by hand\n"
    forced = run(tax_db, "income_returns", "--force")
    assert forced.returncode == 0, forced.stderr
    assert (folder / "contract.yaml").read_text(encoding="utf-8").startswith("# Drafted by `govbus discover`")

    printed = run(tax_db, "income_returns", "--stdout", "--out", str(tmp_path / "none"))
    assert printed.returncode == 0, printed.stderr
    contract_text, schema_text = printed.stdout.split("==> schema/v1.avsc <==\n")
    assert contract_text.startswith("==> contract.yaml <==\n")
    assert yaml.safe_load(contract_text.split("\n", 1)[1])["key_fields"] == ["return_id"]
    assert json.loads(schema_text)["name"] == "IncomeReturns"
    assert not (tmp_path / "none").exists()


def test_a_password_never_shows_and_never_reaches_the_contract(
    run: Callable[..., Done], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = postgres_url()
    if not base:
        pytest.skip("GOVBUS_TEST_POSTGRES_URL is not set")
    table = f"t_discover_{os.getpid()}"
    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE {table} (id BIGINT PRIMARY KEY, email VARCHAR(80) NOT NULL)"))
    try:
        url = sa.make_url(base).set(password=SECRET).render_as_string(hide_password=False)
        out = tmp_path / "people"
        done = run(url, table, "--owner", "tax", "--out", str(out))
        assert done.returncode == 0, done.stderr
        text = (out / "contract.yaml").read_text(encoding="utf-8")
        source = yaml.safe_load(text)["source"]
        variable = f"TAX_{table.upper()}_DB_PASSWORD"
        assert source == {
            "connector": "sql",
            "url": base,  # the URL without its password
            "password_env": variable,
            "table": table,
        }
        assert f"export {variable}" in done.stderr
        missing = run(url, f"{table}_nope", "--stdout")
        assert missing.returncode == 78
        assert "does not exist" in missing.stderr and table in missing.stderr
        for output in (done.stdout, done.stderr, text, missing.stdout, missing.stderr):
            assert SECRET not in output
        monkeypatch.setenv("GOVBUS_TEST_TAX_URL", url)
        env_url = run("--url-env", "GOVBUS_TEST_TAX_URL", table, "--stdout")
        assert env_url.returncode == 0, env_url.stderr
        assert "  url_env: GOVBUS_TEST_TAX_URL\n" in env_url.stdout and SECRET not in env_url.stdout
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
        engine.dispose()


def test_an_airflow_connection_names_the_database(
    tax_db: str, run: Callable[..., Done], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = sa.make_url(tax_db).database
    monkeypatch.setenv("AIRFLOW_CONN_TAX_DB", json.dumps({"conn_type": "sqlite", "host": path}))
    done = run("--conn-id", "tax_db", "income_returns", "--stdout")
    assert done.returncode == 0, done.stderr
    assert "  conn_id: tax_db\n" in done.stdout and path not in done.stdout
    assert done.stdout.startswith("==> contract.yaml <==")  # Airflow's logging stays off stdout


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["not a url://S3cret", "t"], 78, "url: is not a valid SQLAlchemy URL"),
        (["only-a-table"], 65, "expects URL TABLE"),
        (["--url-env", "X", "--conn-id", "y", "t"], 65, "not both"),
        (["sqlite://", "t", "--dataset", "Bad Id"], 65, "--dataset: must be lowercase"),
        (["sqlite://", "t", "--purpose", "TODO: later"], 65, "--purpose: still holds the TODO placeholder"),
        (["sqlite://", "t", "--purpose", " "], 65, "--purpose: is empty: say in a sentence why"),
    ],
)
def test_bad_arguments_get_one_clear_line(
    run: Callable[..., Done], args: list[str], code: int, says: str
) -> None:
    done = run(*args)
    assert done.returncode == code
    assert says in done.stderr and "S3cret" not in done.stderr


def test_a_missing_sqlite_table_lists_the_tables(tax_db: str, run: Callable[..., Done]) -> None:
    done = run(tax_db, "returns", "--stdout")
    assert done.returncode == 78
    assert "table returns does not exist" in done.stderr
    assert "tables and views there: income_returns" in done.stderr
