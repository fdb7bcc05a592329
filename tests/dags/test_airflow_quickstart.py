"""docs/airflow.md's "On a fresh machine" commands, run as documented.

The quick start block is read from the page, so the commands tested are the commands
printed. Each test runs them with the documented environment (`AIRFLOW_HOME`, the venv
on `PATH`, `AIRFLOW__API__HOST=127.0.0.1`) and only what isolates a test on top: the
metadata database, logs and GovBus home under tmp, fast retries.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.dags.conftest import AIRFLOW, GOVBUS, run

DOC = REPO / "docs" / "airflow.md"
VENV_BIN = Path(sys.executable).parent
DATASETS = {"health.disability", "registry.residents", "tax.income"}


def quickstart() -> list[str]:
    """The commands of the page's quick start block, comments and blank lines left out."""
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"<!-- quickstart -->\n```sh\n(.*?)```", text, re.DOTALL)
    assert block, "docs/airflow.md lost its quick start block"
    lines = (line.split("  #", 1)[0].strip() for line in block.group(1).splitlines())
    return [line for line in lines if line]


def documented_env(env: dict[str, str]) -> dict[str, str]:
    """What the block exports: the venv first on PATH (AIRFLOW_HOME and AIRFLOW_CONFIG are set)."""
    return {**env, "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"}


def test_the_quick_start_says_what_a_fresh_machine_needs() -> None:
    commands = quickstart()
    assert commands[:2] == ["make demo", "make airflow"]
    assert "export AIRFLOW_HOME=$PWD AIRFLOW_CONFIG=$PWD/airflow.cfg" in commands
    assert "export PATH=$PWD/.venv/bin:$PATH" in commands
    assert "airflow dags list --local" in commands
    assert "airflow dags unpause tax.income" in commands
    assert commands[-1] == "AIRFLOW__API__HOST=127.0.0.1 airflow standalone"
    text = DOC.read_text(encoding="utf-8")
    for fact in (
        "No data found",
        "dags_are_paused_at_creation = True",
        "$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated",
        "`0.0.0.0`",
        "FileNotFoundError: [Errno 2] No such file or directory: 'airflow'",
    ):
        assert fact in text, fact


def _airflow(command: str, env: dict[str, str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    """One documented `airflow ...` line, through PATH as the shell would find it."""
    args = command.split()
    assert args[0] == "airflow"
    found = shutil.which("airflow", path=env["PATH"])
    assert found == AIRFLOW, f"PATH finds {found}, not the venv's airflow"
    return run([found, *args[1:]], env, check=check)


def _dags(env: dict[str, str]) -> dict[str, bool]:
    listed = json.loads(_airflow("airflow dags list -o json", env).stdout.strip().splitlines()[-1])
    return {d["dag_id"]: d["is_paused"] in (True, "True") for d in listed}


@pytest.mark.slow
def test_the_documented_commands_list_test_and_unpause_the_dags(airflow_db: dict[str, str]) -> None:
    env = documented_env({**airflow_db, "PYTHONWARNINGS": "ignore:Could not import graphviz"})
    commands = quickstart()
    # `make demo` and `make airflow` (the metadata DB is the fixture's, migrated already):
    run([GOVBUS, "demo"], env)  # what `make demo` runs
    before = _airflow("airflow dags list", env)
    assert "No data found" in before.stdout + before.stderr  # not parsed yet: what the page warns of
    run([GOVBUS, "airflow", "pools"], env)
    _airflow("airflow dags reserialize", env)

    listed = _airflow(next(c for c in commands if c.startswith("airflow dags list")), env).stdout
    assert DATASETS <= set(re.findall(r"^(\S+)\s", listed, re.MULTILINE)), listed
    assert all(paused for dag, paused in _dags(env).items() if dag in DATASETS), "DAGs start paused"

    tested = _airflow(next(c for c in commands if c.startswith("airflow dags test")), env, check=False)
    assert tested.returncode == 0 and "state=success" in tested.stdout + tested.stderr, tested.stderr[-3000:]

    _airflow(next(c for c in commands if c.startswith("airflow dags unpause")), env)
    paused = _dags(env)
    assert paused["tax.income"] is False and paused["registry.residents"] is True


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_standalone_runs_on_loopback_with_the_documented_password_file(
    tmp_path: Path, airflow_db: dict[str, str]
) -> None:
    """`AIRFLOW__API__HOST=127.0.0.1 airflow standalone` with the venv on PATH: the API
    answers on 127.0.0.1 only, and `admin` signs in with the password of the file the page
    names (AIRFLOW_HOME is a copy of the repository's layout, so the file lands in tmp)."""
    home = tmp_path / "airflow-home"
    home.mkdir()
    shutil.copy(REPO / "airflow.cfg", home / "airflow.cfg")
    (home / "dags").symlink_to(REPO / "dags")
    port = _free_port()
    env = documented_env(airflow_db)
    env.update(AIRFLOW_HOME=str(home), AIRFLOW_CONFIG=str(home / "airflow.cfg"), AIRFLOW__API__PORT=str(port))
    command = quickstart()[-1].split()
    assert command[0] == "AIRFLOW__API__HOST=127.0.0.1"
    env["AIRFLOW__API__HOST"] = "127.0.0.1"
    log = (tmp_path / "standalone.log").open("w")
    process = subprocess.Popen(
        [shutil.which("airflow", path=env["PATH"]) or "airflow", *command[2:]],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        health = _wait_for(f"http://127.0.0.1:{port}/api/v2/monitor/health", process, timeout=180)
        assert health == 200
        output = (tmp_path / "standalone.log").read_text()
        assert "FileNotFoundError" not in output, output[-3000:]
        assert f"Uvicorn running on http://127.0.0.1:{port}" in output, output[-3000:]
        passwords = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())
        token = _post_json(
            f"http://127.0.0.1:{port}/auth/token", {"username": "admin", "password": passwords["admin"]}
        )
        assert token.get("access_token")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        log.close()


def _wait_for(url: str, process: subprocess.Popen[bytes], *, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "airflow standalone exited"
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                return int(answer.status)
        except OSError:
            time.sleep(2)
    pytest.fail(f"{url} did not answer within {timeout:.0f} s")


def _post_json(url: str, body: dict[str, str]) -> dict[str, str]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        loaded: dict[str, str] = json.loads(answer.read())
    return loaded


@pytest.mark.slow
def test_make_airflow_is_quiet(tmp_path: Path, govbus_home: Path) -> None:
    """`make airflow` prints a line per step, the pools and the next command: no Airflow log."""
    env = {
        **os.environ,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(tmp_path / "logs"),
        "AIRFLOW__LOGGING__DAG_PROCESSOR_CHILD_PROCESS_LOG_DIRECTORY": str(tmp_path / "logs" / "dp"),
        "COLUMNS": "100",
    }
    # -o: the venv is installed already; never reinstall it from a test.
    done = run(["make", "-s", "-C", str(REPO), "-o", ".venv/.installed", "airflow"], env)
    lines = done.stdout.strip().splitlines()
    assert len(lines) <= 20, done.stdout
    assert "[info" not in done.stdout + done.stderr and "graphviz" not in done.stderr, done.stderr
    assert "govbus_tax" in done.stdout
    assert lines[-1].startswith("Next (docs/airflow.md): PATH=") and "airflow standalone" in lines[-1]
