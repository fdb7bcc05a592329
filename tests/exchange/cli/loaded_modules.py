"""Run `govbus` commands in a fresh interpreter and report which modules they loaded.

Shared by the start-up tests (tests/exchange/cli/test_startup.py) and the lint cache's
(tests/exchange/catalog/test_lint_cache.py): both judge a command by what it imported,
which only a new process shows (the test process has loaded everything already).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import REPO

_SCRIPT = """
import json, os, sys
from exchange.cli.main import app, main
runs = json.loads(sys.argv[1])
if runs == "every --help":  # every group and command of the app, as a user would ask
    runs = [[], ["--help"]]
    runs += [[g.name, "--help"] for g in app.registered_groups]
    runs += [[c.name or c.callback.__name__, "--help"] for c in app.registered_commands]
code = 0
for argv in runs:
    sys.argv = ["govbus", *argv]
    try:
        main()
    except SystemExit as exc:
        code = exc.code
    else:
        code = 0
with open(os.environ["LOADED_OUT"], "w") as out:
    json.dump({"code": code, "modules": sorted(sys.modules)}, out)
"""


@dataclass(frozen=True)
class CliRun:
    """The last command's exit code, every module loaded, and what the commands printed."""

    code: object
    modules: set[str]
    output: str


def run_cli(runs: object, *, catalog: Path, home: Path, out: Path, columns: int = 120) -> CliRun:
    """Run each argv of `runs` (or "every --help") in one new process with this catalog and home."""
    env = {
        **os.environ,
        "LOADED_OUT": str(out),
        "GOVBUS_HOME": str(home),
        "GOVBUS_CATALOG": str(catalog),
        "COLUMNS": str(columns),
    }
    env.pop("GOVBUS_STATE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, json.dumps(runs)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.is_file(), done.stderr
    found = json.loads(out.read_text())
    return CliRun(found["code"], set(found["modules"]), done.stdout + done.stderr)
