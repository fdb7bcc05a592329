"""Parsing the DAG file touches no database and no network (Airflow parses it every minute),
and imports none of the parts: they load when a task runs (bench/dag_parse_bench.py times it)."""

from __future__ import annotations

import json
import socket
import sys
import threading

from tests.conftest import CATALOG, REPO
from tests.dags.conftest import airflow_environ, run

# Python's audit hooks see every connection attempt of the process, whatever library makes it.
IMPORT_SCRIPT = """
import importlib.util, json, sys, time
attempts = []

def hook(event, args):
    if event in ("socket.connect", "sqlite3.connect", "sqlite3.connect/handle"):
        attempts.append(event)

sys.addaudithook(hook)
import airflow.sdk  # Airflow's own imports are not the DAG file's
before = set(sys.modules)
start = time.perf_counter()
spec = importlib.util.spec_from_file_location("govbus_datasets", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
from airflow.sdk import DAG
dags = sorted(v.dag_id for v in vars(module).values() if isinstance(v, DAG))
seconds, loaded = time.perf_counter() - start, sorted(set(sys.modules) - before)
print(json.dumps({"attempts": attempts, "seconds": seconds, "dags": dags, "loaded": loaded}))
"""

# What parsing must not import: the parts and the libraries behind the steps load when a
# task runs. The DAG file reads the catalog's YAML (exchange.orchestration.dag_catalog).
NOT_AT_PARSE = (
    "pyarrow",
    "pandas",
    "numpy",
    "fastavro",
    "sqlalchemy",
    "alembic",
    "cryptography",
    "paramiko",
    "httpx",
    "openlineage",
    "great_expectations",
    "opendp",
    "connectors",
    "schemas",
    "contracts",
    "consent",
    "audit",
    "exchange.bus",
    "exchange.run",
    "exchange.catalog.loader",
    "exchange.state.engine",
    "exchange.ops",
)


class _Listener:
    """A TCP port on 127.0.0.1 that accepts and never answers, counting who connects."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


def test_dag_file_imports_without_touching_the_state_or_metadata_database(tmp_path):
    listener = _Listener()
    try:
        env = airflow_environ(tmp_path)
        env.update(
            GOVBUS_HOME=str(tmp_path / "govbus-home"),
            GOVBUS_CATALOG=str(CATALOG),
            # Both databases point at a server that would hang any connection attempt.
            GOVBUS_STATE_URL=f"postgresql+psycopg://govbus@127.0.0.1:{listener.port}/state",
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"postgresql+psycopg://airflow@127.0.0.1:{listener.port}/af",
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC=f"postgresql+psycopg://airflow@127.0.0.1:{listener.port}/af",
        )
        done = run([sys.executable, "-c", IMPORT_SCRIPT, str(REPO / "dags" / "govbus_datasets.py")], env)
    finally:
        listener.close()
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["attempts"] == []
    assert listener.accepted == 0
    assert "tax.income" in result["dags"]
    assert "govbus_catalog_broken" not in result["dags"]
    assert result["seconds"] < 60  # imports, not connection timeouts (typically 2-5 s)
    parsed_with = [m for m in result["loaded"] for n in NOT_AT_PARSE if m == n or m.startswith(n + ".")]
    assert parsed_with == []
    # Nothing was created on disk for the state either (no SQLite file, no key store).
    assert not (tmp_path / "govbus-home" / "state.db").exists()
