"""make_source / make_sink: built-ins, settings errors that name the setting, plug-ins."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from connectors import (
    ParquetSink,
    ParquetSource,
    SqlSink,
    SqlSource,
    make_sink,
    make_source,
)
from govbus.errors import BadConfiguration

SCHEMA = pa.schema([("return_id", pa.string()), ("gross_income", pa.decimal128(14, 2))])
KEYS = ["return_id"]
SFTP = "sftp_avro, sftp_csv, sftp_fixed_width, sftp_jsonl, sftp_parquet"
KNOWN = f"avro, csv, fixed_width, jsonl, parquet, rest, {SFTP}, sql"


def source(settings: dict[str, Any]) -> Any:
    return make_source(settings, key_fields=KEYS, cursor_field="updated_at")


def sink(settings: dict[str, Any]) -> Any:
    return make_sink(settings, key_fields=KEYS, schema=SCHEMA)


def test_builtin_connectors_are_built_from_their_settings(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tax.db'}"
    assert isinstance(source({"connector": "sql", "url": url, "table": "r"}), SqlSource)
    assert isinstance(source({"connector": "parquet", "path": str(tmp_path / "r.parquet")}), ParquetSource)
    assert isinstance(sink({"connector": "sql", "url": url, "table": "r"}), SqlSink)
    assert isinstance(sink({"connector": "parquet", "directory": str(tmp_path)}), ParquetSink)


@pytest.mark.parametrize(
    ("settings", "where", "listed"),
    [
        (
            {"url": "sqlite://", "table": "r"},
            "connector",
            KNOWN,
        ),
        ({"connector": "ftp"}, "connector", KNOWN),
        ({"connector": "sql", "url": "sqlite://"}, "table", "connector, url, table"),
        ({"connector": "sql", "table": "r"}, "url", "connector, url, table"),
        ({"connector": "parquet", "file": "r.parquet"}, "file", "connector, path"),
    ],
)
def test_source_settings_errors_name_the_setting_and_list_the_known_ones(
    settings: dict[str, Any], where: str, listed: str
) -> None:
    with pytest.raises(BadConfiguration) as error:
        source(settings)
    assert error.value.where == where
    assert listed in (error.value.hint or "")


def test_sink_settings_errors_name_the_setting(tmp_path: Path) -> None:
    with pytest.raises(BadConfiguration) as error:
        sink({"connector": "parquet", "path": str(tmp_path)})
    assert (error.value.where, error.value.hint) == (
        "path",
        "settings of connector parquet: connector, directory",
    )
    with pytest.raises(BadConfiguration) as error:
        sink({"connector": "parquet"})
    assert error.value.where == "directory"


def test_values_of_refused_settings_are_not_echoed() -> None:
    with pytest.raises(BadConfiguration) as error:
        source({"connector": "sql", "url": "sqlite://", "table": "r", "password": "hunter2"})
    assert error.value.where == "password"
    assert "hunter2" not in str(error.value)
    with pytest.raises(BadConfiguration) as error:
        source({"connector": "x'; rm -rf /"})
    assert "rm -rf" not in str(error.value)


@pytest.fixture
def dropbox_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Install, for this test, a distribution declaring a `dropbox` govbus.connectors entry point."""
    site = tmp_path / "site"
    dist_info = site / "govbus_dropbox-0.1.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: govbus-dropbox\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text(
        "[govbus.connectors]\ndropbox = govbus_dropbox_plugin:factory\n"
    )
    (site / "govbus_dropbox_plugin.py").write_text(
        textwrap.dedent(
            """
            from connectors import ParquetSink

            CALLS = []

            def factory(settings, **kwargs):
                CALLS.append((dict(settings), kwargs))
                if kwargs["role"] == "sink":
                    return ParquetSink(settings["folder"])
                return object()  # not a Source
            """
        )
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(__import__("sys").modules, "govbus_dropbox_plugin", raising=False)
    import govbus_dropbox_plugin  # type: ignore[import-not-found]

    return govbus_dropbox_plugin.CALLS


def test_plugins_are_discovered_by_entry_point(tmp_path: Path, dropbox_plugin: list[Any]) -> None:
    settings = {"connector": "dropbox", "folder": str(tmp_path / "drop")}
    made = sink(settings)
    assert isinstance(made, ParquetSink)
    assert made.write("b-1", pa.Table.from_pylist([], schema=SCHEMA)).rows == 0
    assert dropbox_plugin == [(settings, {"role": "sink", "key_fields": ("return_id",), "schema": SCHEMA})]
    with pytest.raises(BadConfiguration, match="did not return a Source") as error:
        source(settings)
    assert error.value.where == "connector"
    with pytest.raises(BadConfiguration) as error:
        source({"connector": "ftp"})
    assert (
        error.value.hint
        == f"known connectors: avro, csv, dropbox, fixed_width, jsonl, parquet, rest, {SFTP}, sql"
    )


def test_sqlite_url_in_a_missing_folder_names_the_folder(tmp_path):
    import pyarrow as pa

    from connectors import make_sink
    from govbus.errors import BadConfiguration

    with pytest.raises(BadConfiguration, match="does not exist") as err:
        make_sink(
            {"connector": "sql", "url": f"sqlite:///{tmp_path}/nowhere/x.db", "table": "t"},
            key_fields=("k",),
            schema=pa.schema([pa.field("k", pa.string(), nullable=False)]),
        )
    assert "nowhere" in str(err.value)
