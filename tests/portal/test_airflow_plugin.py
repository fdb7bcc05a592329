"""The Airflow plugin exposes the portal through Airflow's own plugin loader.

One subprocess (Airflow configures itself on import, and importing it is slow) with a
throwaway AIRFLOW_HOME and a plugins folder holding the documented one-line file; it
loads the plugins once per scenario (tokens set, unset, malformed). No Airflow server
starts: the test mounts what `get_fastapi_plugins()` returns under its url_prefix, as
the API server does, and calls it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO
from tests.portal.conftest import CATALOG

PLUGIN_LINE = "from exchange.portal.airflow_plugin import GovBusPortalPlugin  # noqa: F401\n"
TOKEN = "auditor-token-0123456789"
SCENARIOS = {"configured": f"{TOKEN}=auditor", "unset": None, "malformed": "tiny-secret=admin"}

SCRIPT = """
import json, os, sys
from fastapi import FastAPI
from fastapi.testclient import TestClient
from airflow import plugins_manager

token = sys.argv[1]
results = {}
for name, spec in json.loads(sys.argv[2]).items():
    os.environ.pop("GOVBUS_PORTAL_TOKENS", None)
    if spec is not None:
        os.environ["GOVBUS_PORTAL_TOKENS"] = spec
    for module in [m for m in sys.modules if m == "exchange.portal.airflow_plugin" or "govbus_portal" in m]:
        del sys.modules[module]
    plugins_manager._get_plugins.cache_clear()
    plugins_manager.get_fastapi_plugins.cache_clear()
    apps, _ = plugins_manager.get_fastapi_plugins()
    mine = [a for a in apps if a.get("name") == "GovBus portal"]
    out = results[name] = {"count": len(mine), "errors": plugins_manager.get_import_errors()}
    if mine:
        host = FastAPI()
        host.mount(mine[0]["url_prefix"], mine[0]["app"])
        auth = {"Authorization": "Bearer " + token}
        with TestClient(host, follow_redirects=False) as client:
            out["prefix"] = mine[0]["url_prefix"]
            out["app"] = type(mine[0]["app"]).__name__
            out["redirect"] = client.get("/govbus/catalog").headers.get("location")
            out["me"] = client.get("/govbus/api/me", headers=auth).json()
            out["css"] = client.get("/govbus/catalog", headers=auth).text.count(
                'href="http://testserver/govbus/static/portal.css"')
print("RESULT " + json.dumps(results))
"""


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp_path = tmp_path_factory.mktemp("airflow-plugin")
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "govbus_portal.py").write_text(PLUGIN_LINE)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(plugins),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'airflow.db'}",
        "GOVBUS_HOME": str(tmp_path / "govbus-home"),
        "GOVBUS_CATALOG": str(CATALOG),
        "PYTHONPATH": str(REPO),
    }
    env.pop("GOVBUS_STATE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, TOKEN, json.dumps(SCENARIOS)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    return {**json.loads(lines[-1][len("RESULT ") :]), "stderr": done.stderr}


def test_airflow_loads_the_plugin_and_serves_the_portal_under_its_prefix(loaded):
    result = loaded["configured"]
    assert result["errors"] == {}
    assert result["count"] == 1 and result["app"] == "FastAPI" and result["prefix"] == "/govbus"
    assert result["redirect"] == "/govbus/login?next=%2Fgovbus%2Fcatalog", "links must keep the prefix"
    assert result["me"] == {"role": "auditor", "agency": None}
    assert result["css"] == 1


def test_without_tokens_airflow_records_a_plugin_error_and_mounts_nothing(loaded):
    result = loaded["unset"]
    assert result["count"] == 0
    [(source, error)] = result["errors"].items()
    assert source.endswith("govbus_portal.py")
    assert "GOVBUS_PORTAL_TOKENS" in error and "no portal tokens are configured" in error


def test_a_malformed_token_spec_is_reported_without_the_token(loaded):
    result = loaded["malformed"]
    assert result["count"] == 0
    [error] = result["errors"].values()
    assert "shorter than 16" in error
    assert "tiny-secret" not in error and "tiny-secret" not in loaded["stderr"]
