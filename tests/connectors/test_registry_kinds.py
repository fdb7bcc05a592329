"""The registry imports a connector's module when that kind is made, not all of them up front.

`connectors.registry` names the built-in kinds itself (so that importing it loads no
file reader, HTTP or SFTP client); these tests keep those names equal to the kinds'
own modules, and check that making one kind loads none of the others' libraries.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from connectors import registry
from connectors.files import kinds as file_kinds
from connectors.sftp import kinds as sftp_kinds
from tests.conftest import REPO


def test_the_registry_names_the_kinds_their_modules_serve() -> None:
    assert registry.FILE_KINDS == file_kinds.FILE_CONNECTORS
    assert registry.SFTP_SOURCE_KINDS == sftp_kinds.SFTP_SOURCES
    assert registry.SFTP_SINK_KINDS == sftp_kinds.SFTP_SINKS


@pytest.mark.parametrize(
    "settings",
    [
        {"connector": "csv", "directory": "in"},
        {"connector": "jsonl", "directory": "in"},
        {"connector": "avro", "directory": "in"},
        {"connector": "parquet", "directory": "in"},
        {"connector": "parquet", "path": "r.parquet"},
        {"connector": "parquet", "path": "r.parquet", "directory": "in"},
        {"connector": "sql", "url": "sqlite://", "table": "t"},
        {"connector": "sftp_csv", "directory": "in"},
    ],
)
def test_the_registry_tells_drop_folders_as_the_file_kinds_do(settings: dict[str, str]) -> None:
    assert registry._is_drop_folder(settings) == file_kinds.is_drop_folder(settings)


MAKE_SQL = """
import json, sys
from connectors import make_sink, make_source
import pyarrow as pa
settings = {"connector": "sql", "url": "sqlite://", "table": "t"}
source = make_source(settings, key_fields=["id"], cursor_field=None)
sink = make_sink(settings, key_fields=["id"], schema=pa.schema([("id", pa.string())]))
print(json.dumps(sorted(sys.modules)))
"""


def test_making_a_sql_connector_loads_no_other_kind() -> None:
    done = subprocess.run(
        [sys.executable, "-c", MAKE_SQL], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout))
    assert "connectors.sql.source" in loaded and "connectors.sql.sink" in loaded
    others = ("connectors.sftp", "connectors.rest", "connectors.mainframe", "paramiko", "httpx", "fastavro")
    assert sorted(m for m in loaded if m.split(".")[0] in others or m.startswith(others)) == []
