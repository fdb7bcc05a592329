"""Sources and sinks are confined: every local path resolves (`..`, symlinks) under an allowed root."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa

from connectors import PathRules, SqlSource, allowed_roots, check_settings, confine_settings, local_paths
from govbus.errors import BadConfiguration


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "home" / "drops").mkdir(parents=True)
    (tmp_path / "catalog").mkdir()
    (tmp_path / "outside").mkdir()
    return tmp_path / "home"


def rules(home: Path) -> PathRules:
    return PathRules.of([home], base=home.parent / "catalog")


def test_paths_inside_the_home_are_made_absolute(home: Path) -> None:
    settings = {"connector": "csv", "directory": f"{home}/drops", "archive_directory": "archive"}
    confined = confine_settings(settings, rules(home))
    assert confined["directory"] == str(home / "drops")
    assert confined["archive_directory"] == str(home / "drops" / "archive")


@pytest.mark.parametrize(
    ("settings", "setting"),
    [
        ({"connector": "csv", "directory": "{home}/../../../../../etc", "pattern": "passwd"}, "directory"),
        ({"connector": "csv", "directory": "/etc"}, "directory"),
        ({"connector": "jsonl", "directory": "../outside/rel-sink"}, "directory"),  # against the catalog
        (
            {"connector": "csv", "directory": "{home}/drops", "archive_directory": "../../outside"},
            "archive_directory",
        ),
        ({"connector": "parquet", "path": "{home}/../outside/x.parquet"}, "path"),
        ({"connector": "fixed_width", "path": "{home}/x.dat", "copybook": "/etc/passwd"}, "copybook"),
        ({"connector": "sftp_fixed_width", "directory": "/remote", "copybook": "/etc/passwd"}, "copybook"),
        ({"connector": "sql", "url": "sqlite:////etc/x.db", "table": "t"}, "url"),
        ({"connector": "sql", "url": "sqlite:///{home}/../outside/x.db", "table": "t"}, "url"),
    ],
)
def test_a_path_outside_the_allowed_roots_is_refused_naming_the_setting(
    home: Path, settings: dict[str, str], setting: str
) -> None:
    given = {key: value.replace("{home}", str(home)) for key, value in settings.items()}
    with pytest.raises(BadConfiguration, match="resolves outside the folders the bus may use") as refused:
        confine_settings(given, rules(home))
    assert refused.value.where == setting
    assert str(home) in str(refused.value.hint) and "GOVBUS_ALLOWED_ROOTS" in str(refused.value.hint)


@pytest.mark.parametrize("connector", ["fixed_width", "sftp_fixed_width"])
def test_copybook_library_folders_are_confined_too(home: Path, connector: str) -> None:
    """COPY members are read from the library folders: `/etc` there would read any file."""
    (home / "copybooks" / "members").mkdir(parents=True)
    base = {"connector": connector, "copybook": f"{home}/copybooks/rec.cpy", "path": f"{home}/x.dat"}
    confined = confine_settings({**base, "copybook_library": ["members", str(home)]}, rules(home))
    assert confined["copybook_library"] == [str(home / "copybooks" / "members"), str(home)]
    assert confine_settings({**base, "copybook_library": "members"}, rules(home))["copybook_library"] == [
        str(home / "copybooks" / "members")
    ]
    for outside in (["/etc"], ["members", "../../../outside"]):
        with pytest.raises(BadConfiguration, match="resolves outside") as refused:
            confine_settings({**base, "copybook_library": outside}, rules(home))
        assert refused.value.where == f"copybook_library[{len(outside) - 1}]"


def test_a_symlink_pointing_out_of_the_home_is_refused(home: Path) -> None:
    os.symlink(home.parent / "outside", home / "link")
    with pytest.raises(BadConfiguration, match=r"after '\.\.' and symlinks"):
        confine_settings({"connector": "parquet", "directory": f"{home}/link/inbox"}, rules(home))


def test_a_relative_path_needs_a_catalog_folder_and_never_uses_the_current_one(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(home)
    with pytest.raises(BadConfiguration, match="relative path"):
        confine_settings({"connector": "jsonl", "directory": "drops"}, PathRules.of([home]))
    inside = PathRules.of([home], base=home)
    assert confine_settings({"connector": "jsonl", "directory": "drops"}, inside)["directory"] == str(
        home / "drops"
    )


def test_an_operator_root_allows_more(home: Path) -> None:
    outside = home.parent / "outside"
    assert allowed_roots(f"{outside}{os.pathsep}") == (outside,)
    with pytest.raises(BadConfiguration, match="entry 1 is not an absolute path"):
        allowed_roots("relative/folder")
    more = PathRules.of([home, *allowed_roots(str(outside))])
    assert confine_settings({"connector": "csv", "directory": str(outside)}, more)["directory"] == str(
        outside
    )


def test_sqlite_urls_are_confined_and_rewritten_absolute(home: Path) -> None:
    settings = {"connector": "sql", "url": "sqlite:///agencies.db", "table": "t"}
    confined = confine_settings(settings, PathRules.of([home], base=home))
    assert sa.make_url(confined["url"]).database == str(home / "agencies.db")
    assert local_paths({"connector": "sql", "url": "sqlite://", "table": "t"}) == []
    assert local_paths({"connector": "sql", "url": "postgresql://h/db", "table": "t"}) == []
    with pytest.raises(BadConfiguration, match="URI file name"):
        confine_settings({"connector": "sql", "url": f"sqlite:///file:{home}/x.db?uri=true"}, rules(home))


def test_a_nul_in_a_path_is_refused(home: Path) -> None:
    with pytest.raises(BadConfiguration, match="must be a path"):
        confine_settings({"connector": "csv", "directory": f"{home}/a\x00b"}, rules(home))


@pytest.mark.parametrize(
    ("settings", "where"),
    [
        ({"connector": "sql", "url": "sqlite:///x.db", "table": "t; DROP TABLE x"}, "table"),
        ({"connector": "sql", "url": "sqlite:///x.db", "table": "a.b.c"}, "table"),
    ],
)
def test_sql_names_are_checked_without_connecting(settings: dict[str, str], where: str) -> None:
    with pytest.raises(BadConfiguration, match="table") as refused:
        check_settings(settings, role="source", key_fields=["id"])
    assert refused.value.where == where


def test_a_sql_sink_checks_every_delivered_column_name(tmp_path: Path) -> None:
    settings = {"connector": "sql", "url": f"sqlite:///{tmp_path}/nowhere/x.db", "table": "t"}
    good = pa.schema([("id", pa.int64()), ("name", pa.string())])
    check_settings(settings, role="sink", key_fields=["id"], schema=good)  # no folder needed: nothing opened
    bad = pa.schema([("id", pa.int64()), ("name; drop", pa.string())])
    with pytest.raises(BadConfiguration, match="is not a plain SQL identifier") as refused:
        check_settings(settings, role="sink", key_fields=["id"], schema=bad)
    assert refused.value.where == "schema[1]"
    with pytest.raises(BadConfiguration, match="SQLite, PostgreSQL and MariaDB"):
        check_settings({**settings, "url": "oracle://h/db"}, role="sink", key_fields=["id"], schema=good)


def test_a_sql_source_bounds_its_values(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, postal_code TEXT)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1, '1010'), (2, ?), (3, '8010')", ("9" * 5_000_000,))
    engine.dispose()
    source = SqlSource(url, "t", key_fields=["id"], cursor_fields=None)
    batches = list(source.read(None, batch_size=2))
    source.close()
    rows = [row for batch in batches for row in batch.data.to_pylist()]
    assert [row["id"] for row in rows if row.get("_govbus_source_error") is None] == [1, 3]
    errors = [row for row in rows if row.get("_govbus_source_error") is not None]
    assert [(e["_govbus_source_error"], e["_govbus_source_position"]) for e in errors] == [
        ("t row 2: postal_code: longer than max_field_bytes (1048576 bytes)", "t#2")
    ]
    assert batches[0].cursor is not None and batches[-1].cursor is not None  # cursors from the rows read
