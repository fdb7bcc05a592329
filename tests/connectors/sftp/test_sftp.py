"""SFTP drop folders and sinks against a real SFTP server on 127.0.0.1 (asyncssh, in-process).

Reading once, archiving after commit, refusing what leaves the folder, every format, and
the sink's atomic, idempotent writes. Logins and host keys: `test_sftp_login.py`.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from connectors import (
    SOURCE_ERROR,
    SOURCE_POSITION,
    SOURCE_RAW,
    AvroSink,
    JsonLinesSink,
    ParquetSink,
    SftpDropFolderSource,
    SftpSink,
    Source,
    make_sink,
    make_source,
)
from govbus.errors import BadConfiguration, BadInput
from tests.connectors.sftp.sftp_server import PASSWORD_ENV, SftpTestServer, connector_settings

OLD = time.time() - 3600


def source_settings(server: SftpTestServer, folder: Path, **extra: Any) -> dict:
    """Source settings; files are taken at once unless the test sets settle_seconds."""
    return connector_settings(server, folder, **{"settle_seconds": 0, **extra})


def source(server: SftpTestServer, folder: Path, **extra: Any) -> Source:
    return make_source(source_settings(server, folder, **extra), key_fields=("id",), cursor_field=None)


def drop(folder: Path, name: str, rows: range | list[int], *, age: float | None = OLD) -> Path:
    """Put a CSV `name` with one `id` per row into the folder (as an agency would), aged `age`."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("id,name\n" + "".join(f"{i},n{i}\n" for i in rows))
    if age is not None:
        os.utime(path, (age, age))
    return path


def read_all(made: Source, cursor: dict | None, batch_size: int = 4) -> tuple[list[int], dict | None]:
    """Ids read after `cursor` and the last batch's cursor (through JSON, as the exchange keeps it)."""
    ids: list[int] = []
    for batch in made.read(cursor, batch_size=batch_size):
        assert batch.data.num_rows <= batch_size
        ids += [int(i) for i in batch.data["id"].to_pylist() if i is not None]
        cursor = json.loads(json.dumps(batch.cursor))
    return ids, cursor


def test_each_remote_file_is_read_once_and_a_changed_one_again(
    sftp_server: SftpTestServer, sftp_folder: Path
) -> None:
    drop(sftp_folder, "a.csv", range(0, 5))
    drop(sftp_folder, "b.csv", range(5, 12))
    made = source(sftp_server, sftp_folder)
    assert isinstance(made, SftpDropFolderSource) and isinstance(made, Source)
    ids, cursor = read_all(made, None)
    assert ids == list(range(12))
    assert cursor is not None and [f["name"] for f in cursor["files"]] == ["a.csv", "b.csv"]
    assert read_all(made, cursor) == ([], cursor)  # nothing new: no batch at all
    drop(sftp_folder, "c.csv", range(12, 15))  # a new file, and one re-sent with new content
    drop(sftp_folder, "a.csv", range(100, 102))
    ids, cursor = read_all(made, cursor)
    assert ids == [100, 101, 12, 13, 14]
    path = sftp_folder / "b.csv"
    os.utime(path, (OLD + 60, OLD + 60))  # touched, same bytes: known by its SHA-256
    assert read_all(made, cursor)[0] == []
    made.close()


def test_reading_resumes_exactly_from_every_batch_cursor(
    sftp_server: SftpTestServer, sftp_folder: Path
) -> None:
    drop(sftp_folder, "a.csv", range(0, 7))
    drop(sftp_folder, "sub/b.csv", range(7, 10))
    made = source(sftp_server, sftp_folder, pattern="**/*.csv")
    batches = [
        (b.data["id"].to_pylist(), json.loads(json.dumps(b.cursor))) for b in made.read(None, batch_size=3)
    ]
    assert [len(ids) for ids, _ in batches] == [3, 3, 1, 3]  # a batch never spans two files
    done = 0
    for ids, cursor in batches:
        done += len(ids)
        assert read_all(made, cursor, batch_size=2)[0] == list(range(done, 10))


def test_temporary_hidden_and_empty_files_are_ignored_until_renamed(
    sftp_server: SftpTestServer, sftp_folder: Path
) -> None:
    for name in ("x.csv.tmp", "x.csv.part", ".x.csv", ".upload/y.csv", "z.csv~", "x.csv.filepart"):
        drop(sftp_folder, name, [100])
    (sftp_folder / "empty.csv").touch()
    (sftp_folder / "folder.csv").mkdir()
    made = source(sftp_server, sftp_folder, pattern="**/*.csv*")
    ids, cursor = read_all(made, None)
    assert ids == []
    os.replace(sftp_folder / "x.csv.part", sftp_folder / "x.csv")
    assert read_all(made, cursor)[0] == [100]


def test_a_growing_file_is_skipped_then_read_once_complete(
    sftp_server: SftpTestServer, sftp_folder: Path
) -> None:
    drop(sftp_folder, "a.csv", range(3))
    growing = drop(sftp_folder, "b.csv", range(3, 5))
    stop = threading.Event()

    def writer() -> None:
        with open(growing, "a") as handle:
            while not stop.is_set():
                handle.write("9999,x\n")
                handle.flush()
                time.sleep(0.01)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        made = source(sftp_server, sftp_folder, settle_seconds=0.3)
        ids, cursor = read_all(made, None)
    finally:
        stop.set()
        thread.join()
    assert ids == [0, 1, 2]  # b.csv grew between the two looks: not read yet
    assert cursor is not None and [f["name"] for f in cursor["files"]] == ["a.csv"]
    ids, cursor = read_all(made, cursor)  # quiet now: read in full, once
    assert ids[:2] == [3, 4] and set(ids[2:]) == {9999}
    assert read_all(made, cursor)[0] == []


def test_files_are_archived_on_the_server_only_after_commit_and_idempotently(
    sftp_server: SftpTestServer, sftp_folder: Path
) -> None:
    drop(sftp_folder, "a.csv", range(3))
    drop(sftp_folder, "sub/b.csv", range(3, 5))
    made = source(sftp_server, sftp_folder, pattern="**/*.csv", archive_directory="archive")
    ids, cursor = read_all(made, None)
    assert ids == [0, 1, 2, 3, 4]
    assert (sftp_folder / "a.csv").exists() and not (sftp_folder / "archive").exists()  # read is not commit
    committing = source(sftp_server, sftp_folder, pattern="**/*.csv", archive_directory="archive")
    committing.after_commit(cursor)  # type: ignore[attr-defined]  # a new source, as the commit step does
    committing.close()
    assert not (sftp_folder / "a.csv").exists() and not (sftp_folder / "sub/b.csv").exists()
    assert (sftp_folder / "archive/a.csv").read_text().startswith("id,name\n0,")
    assert (sftp_folder / "archive/sub/b.csv").exists()
    made.after_commit(cursor)  # type: ignore[attr-defined]  # a retried commit: nothing changes
    assert sorted(p.name for p in (sftp_folder / "archive").rglob("*.csv")) == ["a.csv", "b.csv"]
    drop(sftp_folder, "c.csv", range(5, 6))  # the archive is never read; the cursor forgets it
    ids, cursor = read_all(made, cursor)
    assert ids == [5] and [f["name"] for f in cursor["files"]] == ["c.csv"]  # type: ignore[index]
    drop(sftp_folder, "a.csv", range(10, 12))  # a second a.csv: archived beside the first
    _, cursor = read_all(made, cursor)
    made.after_commit(cursor)  # type: ignore[attr-defined]
    archived = sorted(p.name for p in (sftp_folder / "archive").iterdir() if p.is_file())
    assert len(archived) == 3 and "a.csv" in archived and "c.csv" in archived
    made.close()


def test_a_file_replaced_before_the_commit_is_not_archived(
    sftp_server: SftpTestServer, sftp_folder: Path
) -> None:
    drop(sftp_folder, "a.csv", range(2))
    made = source(sftp_server, sftp_folder, archive_directory="done")
    _, first = read_all(made, None)
    drop(sftp_folder, "a.csv", range(10, 13))  # re-sent before the commit: not the file that was read
    made.after_commit(first)  # type: ignore[attr-defined]
    assert (sftp_folder / "a.csv").exists() and not (sftp_folder / "done").exists()
    assert read_all(made, first)[0] == [10, 11, 12]


@pytest.mark.parametrize("pattern", ["../*.csv", "/etc/*", "sub/../../*.csv"])
def test_patterns_leaving_the_folder_are_refused(
    sftp_server: SftpTestServer, sftp_folder: Path, pattern: str
) -> None:
    with pytest.raises(BadConfiguration) as error:
        source(sftp_server, sftp_folder, pattern=pattern)
    assert error.value.where == "pattern"


def test_links_resolving_outside_the_folder_are_refused(
    sftp_server: SftpTestServer, sftp_folder: Path, tmp_path: Path
) -> None:
    secret = sftp_server.root / f"secret-{sftp_folder.name}.csv"  # on the server, outside the drop folder
    drop(sftp_server.root, secret.name, [1])
    (sftp_folder / "link.csv").symlink_to(f"../{secret.name}")
    with pytest.raises(BadConfiguration) as error:
        read_all(source(sftp_server, sftp_folder), None)
    assert error.value.where == "link.csv"
    (sftp_folder / "link.csv").unlink()
    drop(tmp_path, "host.csv", [2])  # outside what the server serves at all
    (sftp_folder / "escape.csv").symlink_to(tmp_path / "host.csv")
    with pytest.raises(BadConfiguration) as error:
        read_all(source(sftp_server, sftp_folder), None)
    assert error.value.where == "escape.csv"
    (sftp_folder / "escape.csv").unlink()
    drop(sftp_folder, "real.csv", [0])
    (sftp_folder / "alias.csv").symlink_to("real.csv")  # a link inside the folder is fine
    assert read_all(source(sftp_server, sftp_folder), None)[0] == [0, 0]


@pytest.mark.parametrize("archive", ["../archive", "/elsewhere", "."])
def test_archive_folders_outside_the_folder_are_refused(
    sftp_server: SftpTestServer, sftp_folder: Path, archive: str
) -> None:
    with pytest.raises(BadConfiguration) as error:
        read_all(source(sftp_server, sftp_folder, archive_directory=archive), None)
    assert error.value.where == "archive_directory"


def test_a_cursor_naming_a_file_outside_the_folder_archives_nothing(
    sftp_server: SftpTestServer, sftp_folder: Path
) -> None:
    victim = drop(sftp_server.root, f"victim-{sftp_folder.name}.csv", [1])
    forged = {
        "version": 1,
        "kind": "sftp-drop-folder",
        "format": "csv",
        "current": None,
        "files": [{"name": f"../{victim.name}", "size": 1, "mtime_ns": 1, "sha256": "0" * 64}],
    }
    with pytest.raises(BadConfiguration):
        source(sftp_server, sftp_folder, archive_directory="archive").after_commit(forged)  # type: ignore[attr-defined]
    assert victim.exists()
    local = {**forged, "kind": "drop-folder", "files": []}  # a local drop folder's cursor
    with pytest.raises(BadConfiguration) as error:
        read_all(source(sftp_server, sftp_folder), local)
    assert error.value.where == "cursor"


def test_malformed_csv_lines_become_error_rows_with_their_position(
    sftp_server: SftpTestServer, sftp_folder: Path
) -> None:
    (sftp_folder / "a.csv").write_text("id,name\n1,a\n2\n3,c\n4,d,extra\n")
    rows = [row for batch in source(sftp_server, sftp_folder).read(None) for row in batch.data.to_pylist()]
    assert [row["id"] for row in rows if row[SOURCE_ERROR] is None] == ["1", "3"]
    errors = [(row[SOURCE_ERROR], row[SOURCE_POSITION], row[SOURCE_RAW]) for row in rows if row[SOURCE_ERROR]]
    assert errors == [
        ("a.csv line 3: expected 2 fields, found 1", "a.csv:3", "2"),
        ("a.csv line 5: expected 2 fields, found 3", "a.csv:5", "4,d,extra"),
    ]


@pytest.mark.parametrize(
    ("connector", "sink"),
    [("sftp_jsonl", JsonLinesSink), ("sftp_avro", AvroSink), ("sftp_parquet", ParquetSink)],
)
def test_every_file_format_is_read_over_sftp(
    sftp_server: SftpTestServer, sftp_folder: Path, connector: str, sink: Any
) -> None:
    sink(sftp_folder).write("batch-1", pa.table({"id": [1, 2, 3], "name": ["a", None, "c"]}))
    made = source(sftp_server, sftp_folder, connector=connector)
    ids, cursor = read_all(made, None, batch_size=2)
    assert ids == [1, 2, 3]
    assert read_all(made, cursor)[0] == []


def test_fixed_width_files_are_read_over_sftp(
    sftp_server: SftpTestServer, sftp_folder: Path, tmp_path: Path
) -> None:
    copybook = tmp_path / "rec.cpy"
    copybook.write_text("       01  REC.\n           05  ID  PIC 9(3).\n           05  NAME  PIC X(2).\n")
    (sftp_folder / "export.dat").write_bytes("001ab002cd".encode("cp037"))
    made = source(sftp_server, sftp_folder, connector="sftp_fixed_width", copybook=str(copybook))
    rows = [row for batch in made.read(None) for row in batch.data.to_pylist()]
    assert [(row["id"], row["name"]) for row in rows] == [(1, "ab"), (2, "cd")]


def test_sftp_fixed_width_takes_every_format_setting_of_the_local_connector(
    sftp_server: SftpTestServer, sftp_folder: Path, tmp_path: Path
) -> None:
    """RDW records, a COPY member from copybook_library, a bad-value policy: read over SFTP
    exactly as the local fixed_width connector reads the same file."""
    (tmp_path / "members").mkdir()
    (tmp_path / "members" / "NAMEPART.cpy").write_text("           05  NAME  PIC X(2).\n")
    copybook = tmp_path / "rec.cpy"
    copybook.write_text("       01  REC.\n           05  ID  PIC 9(3).\n           COPY NAMEPART.\n")
    records = ["001ab", "0x2cd", "003ef"]  # the second id is not a number
    data = b"".join((len(r) + 4).to_bytes(2, "big") + b"\0\0" + r.encode("cp037") for r in records)
    (sftp_folder / "export.dat").write_bytes(data)
    local = tmp_path / "local"
    local.mkdir()
    (local / "export.dat").write_bytes(data)
    formats = {
        "copybook": str(copybook),
        "copybook_library": [str(tmp_path / "members")],
        "record_format": "rdw",
        "on_bad_value": "null",
    }
    remote = source(sftp_server, sftp_folder, connector="sftp_fixed_width", **formats)
    got = [row for batch in remote.read(None) for row in batch.data.to_pylist()]
    here = make_source(
        {"connector": "fixed_width", "directory": str(local), "settle_seconds": 0, **formats},
        key_fields=("id",),
        cursor_field=None,
    )
    expected = [row for batch in here.read(None) for row in batch.data.to_pylist()]
    assert [(r["id"], r["name"]) for r in got] == [(1, "ab"), (None, "cd"), (3, "ef")]
    assert [(r["id"], r["name"]) for r in got] == [(r["id"], r["name"]) for r in expected]


def test_a_file_the_server_will_not_open_fails_the_read_and_nothing_is_archived(
    sftp_server: SftpTestServer, sftp_folder: Path
) -> None:
    drop(sftp_folder, "a.csv", range(2))
    drop(sftp_folder, "denied.csv", range(2, 4))  # the server refuses to open it
    made = source(sftp_server, sftp_folder, archive_directory="archive")
    with pytest.raises(BadInput) as error:
        read_all(made, None)
    assert error.value.where == "denied.csv"
    (sftp_folder / "broken.parquet").write_bytes(b"PAR1 this is not parquet")
    parquet = source(sftp_server, sftp_folder, connector="sftp_parquet", archive_directory="archive")
    with pytest.raises(BadInput) as error:
        read_all(parquet, None)
    assert error.value.where == "broken.parquet"
    assert not (sftp_folder / "archive").exists()
    assert sorted(p.name for p in sftp_folder.iterdir()) == ["a.csv", "broken.parquet", "denied.csv"]


@pytest.mark.parametrize("connector", ["sftp_csv", "sftp_jsonl", "sftp_avro", "sftp_parquet"])
def test_the_sink_writes_atomically_and_a_retry_never_duplicates(
    sftp_server: SftpTestServer, sftp_folder: Path, connector: str
) -> None:
    out = connector_settings(sftp_server, sftp_folder / "out", connector)  # the sink creates it
    sink = make_sink(out, key_fields=("id",), schema=pa.schema([]))
    assert isinstance(sink, SftpSink)
    data = pa.table({"id": [1, 2], "name": ["a", "b,c"]})
    first = sink.write("2024-05-01.b1", data)
    suffix = connector.removeprefix("sftp_")
    path = sftp_folder / "out" / f"2024-05-01.b1.{suffix}"
    assert first.files == ((path.name, hashlib.sha256(path.read_bytes()).hexdigest()),)
    assert first.rows == 2 and first.location.endswith(f"/{sftp_folder.name}/out/{path.name}")
    assert PASSWORD_ENV not in first.location and sftp_server.password not in first.location
    before = path.stat()
    again = sink.write("2024-05-01.b1", data)  # a retry
    assert sorted(p.name for p in (sftp_folder / "out").iterdir()) == [path.name]  # one file, no temporary
    if connector != "sftp_avro":  # Avro files carry a random sync marker: replaced, not kept
        assert again == first and path.stat().st_mtime_ns == before.st_mtime_ns  # a no-op
    sink.write("2024-05-01.b1", pa.table({"id": [3], "name": ["d"]}))  # new content: replaced
    assert sorted(p.name for p in (sftp_folder / "out").iterdir()) == [path.name]
    assert hashlib.sha256(path.read_bytes()).hexdigest() != first.files[0][1]
    sink.close()


def test_the_sinks_first_write_sweeps_temporaries_a_dropped_connection_left(
    sftp_server: SftpTestServer, sftp_folder: Path
) -> None:
    out = sftp_folder / "out"
    out.mkdir()
    stale = out / ".b0.parquet.tmp-0123456789abcdef"  # an upload the connection dropped, 2 h ago
    live = out / ".b9.parquet.tmp-fedcba9876543210"  # another writer's upload, going on now
    other = out / ".notes.tmp"  # not this sink's naming: never touched
    for path in (stale, live, other):
        path.write_bytes(b"PAR1 half")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    os.utime(other, (time.time() - 7200, time.time() - 7200))
    sink = make_sink(
        connector_settings(sftp_server, out, "sftp_parquet"), key_fields=(), schema=pa.schema([])
    )
    sink.write("b1", pa.table({"id": [1]}))
    sink.close()
    assert sorted(p.name for p in out.iterdir()) == sorted(["b1.parquet", live.name, other.name])


def test_the_sink_replaces_files_on_servers_without_posix_rename(tmp_path: Path, monkeypatch: Any) -> None:
    with SftpTestServer(tmp_path, posix_rename=False) as plain:
        monkeypatch.setenv(PASSWORD_ENV, plain.password)
        sink = make_sink(
            connector_settings(plain, tmp_path / "out", "sftp_jsonl"), key_fields=(), schema=pa.schema([])
        )
        sink.write("b1", pa.table({"id": [1]}))
        sink.write("b1", pa.table({"id": [2]}))
        sink.close()
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["b1.jsonl"]
    assert (tmp_path / "out/b1.jsonl").read_text() == '{"id":2}\n'
