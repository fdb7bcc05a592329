"""DropFolderSource: once-only reads, resumable cursors, complete files only, archive after commit."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from connectors import (
    SOURCE_ERROR,
    CsvFormat,
    DropFolderSource,
    JsonLinesFormat,
    ParquetSource,
    Source,
    make_source,
)
from govbus.errors import BadConfiguration, BadInput, TransientError

OLD = time.time() - 3600  # an hour ago: settled


def drop(folder: Path, name: str, rows: range | list[int], *, age: float | None = OLD) -> Path:
    """Write a CSV `name` with one `id` per row (ids as given), modified at `age`."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("id,name\n" + "".join(f"{i},n{i}\n" for i in rows))
    if age is not None:
        os.utime(path, (age, age))
    return path


def roundtrip(cursor: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(cursor))


def read_all(
    source: DropFolderSource, cursor: dict[str, Any] | None, batch_size: int = 4
) -> tuple[list[int], dict[str, Any] | None]:
    """Ids read after `cursor` and the last batch's (JSON round-tripped) cursor."""
    ids: list[int] = []
    for batch in source.read(cursor, batch_size=batch_size):
        assert batch.data.num_rows <= batch_size
        ids += [int(i) for i in batch.data["id"].to_pylist()]
        cursor = roundtrip(batch.cursor)
    return ids, cursor


def csv_source(folder: Path, **settings: Any) -> DropFolderSource:
    settings.setdefault("settle_seconds", 0)
    return DropFolderSource(CsvFormat(), folder, **settings)


def test_a_drop_folder_source_is_a_source(tmp_path: Path) -> None:
    assert isinstance(csv_source(tmp_path), Source)


def test_each_file_is_read_once_across_reads(tmp_path: Path) -> None:
    drop(tmp_path, "a.csv", range(0, 5))
    drop(tmp_path, "b.csv", range(5, 12))
    source = csv_source(tmp_path)
    ids, cursor = read_all(source, None)
    assert ids == list(range(12))
    assert [f["name"] for f in cursor["files"]] == ["a.csv", "b.csv"]
    assert read_all(source, cursor) == ([], cursor)  # nothing new: no batch at all

    drop(tmp_path, "c.csv", range(12, 15))  # a new file, and one re-sent with new content
    drop(tmp_path, "a.csv", range(100, 102))
    ids, cursor = read_all(source, cursor)
    assert ids == [100, 101, 12, 13, 14]
    assert read_all(source, cursor)[0] == []


def test_a_touched_file_with_the_same_content_is_not_read_again(tmp_path: Path) -> None:
    path = drop(tmp_path, "a.csv", range(3))
    source = csv_source(tmp_path)
    _, cursor = read_all(source, None)
    os.utime(path, (OLD + 60, OLD + 60))  # same bytes, new mtime: identified by content
    assert read_all(source, cursor)[0] == []


def test_reading_resumes_exactly_from_every_batch_cursor(tmp_path: Path) -> None:
    drop(tmp_path, "a.csv", range(0, 7))
    drop(tmp_path, "b.csv", range(7, 10))
    source = csv_source(tmp_path)
    batches = [(b.data["id"].to_pylist(), roundtrip(b.cursor)) for b in source.read(None, batch_size=3)]
    assert [len(ids) for ids, _ in batches] == [3, 3, 1, 3]  # a batch never spans two files
    done = 0
    for ids, cursor in batches:
        done += len(ids)
        assert read_all(source, cursor, batch_size=2)[0] == list(range(done, 10))


def test_temporary_and_hidden_files_are_ignored_until_renamed(tmp_path: Path) -> None:
    for name in ("x.csv.tmp", "x.csv.part", "x.csv.partial", ".x.csv", ".upload/y.csv", "z.csv~"):
        drop(tmp_path, name, range(100, 101))
    (tmp_path / "empty.csv").touch()
    (tmp_path / "folder.csv").mkdir()
    source = csv_source(tmp_path, pattern="**/*.csv*")
    ids, cursor = read_all(source, None)
    assert ids == []
    os.replace(tmp_path / "x.csv.part", tmp_path / "x.csv")
    assert read_all(source, cursor)[0] == [100]


def test_a_growing_file_is_skipped_then_read_once_complete(tmp_path: Path) -> None:
    drop(tmp_path, "a.csv", range(3))
    growing = drop(tmp_path, "b.csv", range(3, 5), age=None)
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
        source = csv_source(tmp_path, settle_seconds=0.3)
        ids, cursor = read_all(source, None)
    finally:
        stop.set()
        thread.join()
    assert ids == [0, 1, 2]  # b.csv changed between the two looks: not read yet
    assert [f["name"] for f in cursor["files"]] == ["a.csv"]
    ids, cursor = read_all(source, cursor)  # quiet now: read in full, once
    assert ids[:2] == [3, 4] and set(ids[2:]) == {9999} and len(ids) > 3
    assert read_all(source, cursor)[0] == []


class _AppendingFormat(CsvFormat):
    """A format whose reading appends to the file: a writer that did not rename."""

    def records(self, path: Path, name: str, skip: int) -> Iterator[pa.Table]:
        yield from super().records(path, name, skip)
        with open(path, "a") as handle:
            handle.write("7,late\n")


def test_a_file_changing_while_read_fails_the_read_and_is_not_consumed(tmp_path: Path) -> None:
    drop(tmp_path, "a.csv", range(3))
    source = DropFolderSource(_AppendingFormat(), tmp_path, settle_seconds=0)
    with pytest.raises(TransientError) as error:
        list(source.read(None))
    assert error.value.where == "a.csv"
    assert read_all(csv_source(tmp_path), None)[0] == [0, 1, 2, 7]  # read whole next time


def test_files_are_archived_only_by_after_commit_and_idempotently(tmp_path: Path) -> None:
    drop(tmp_path, "a.csv", range(3))
    drop(tmp_path, "sub/b.csv", range(3, 5))
    source = csv_source(tmp_path, pattern="**/*.csv", archive_directory="archive")
    ids, cursor = read_all(source, None)
    assert ids == [0, 1, 2, 3, 4]
    assert (tmp_path / "a.csv").exists() and not (tmp_path / "archive").exists()  # read ≠ commit
    source.after_commit(cursor)
    assert not (tmp_path / "a.csv").exists() and not (tmp_path / "sub/b.csv").exists()
    assert (tmp_path / "archive/a.csv").read_text().startswith("id,name\n0,")
    assert (tmp_path / "archive/sub/b.csv").exists()
    source.after_commit(cursor)  # again (a retried commit step): nothing changes
    assert sorted(p.name for p in (tmp_path / "archive").rglob("*.csv")) == ["a.csv", "b.csv"]
    # the archive is never read, and the cursor forgets archived files
    drop(tmp_path, "c.csv", range(5, 6))
    ids, cursor = read_all(source, cursor)
    assert ids == [5]
    assert [f["name"] for f in cursor["files"]] == ["c.csv"]


def test_after_commit_archives_only_files_read_to_the_end(tmp_path: Path) -> None:
    drop(tmp_path, "a.csv", range(2))
    drop(tmp_path, "b.csv", range(2, 8))
    source = csv_source(tmp_path, archive_directory="done")
    batches = [roundtrip(b.cursor) for b in source.read(None, batch_size=3)]
    source.after_commit(batches[1])  # a.csv done, b.csv part-read
    assert sorted(p.name for p in tmp_path.rglob("*.csv")) == ["a.csv", "b.csv"]
    assert (tmp_path / "done/a.csv").exists() and (tmp_path / "b.csv").exists()
    assert read_all(source, batches[1])[0] == [5, 6, 7]


def test_after_commit_leaves_a_replaced_file_alone_and_keeps_both_archived_versions(tmp_path: Path) -> None:
    drop(tmp_path, "a.csv", range(2))
    source = csv_source(tmp_path, archive_directory="archive")
    _, first = read_all(source, None)
    drop(tmp_path, "a.csv", range(10, 13))  # re-sent before the commit: not the file we read
    source.after_commit(first)
    assert (tmp_path / "a.csv").exists() and not (tmp_path / "archive").exists()
    ids, second = read_all(source, first)
    assert ids == [10, 11, 12]
    source.after_commit(second)
    archived = sorted(p.name for p in (tmp_path / "archive").iterdir())
    assert len(archived) == 1 and archived[0] == "a.csv"
    drop(tmp_path, "a.csv", range(20, 21))  # a third version under the same name
    _, third = read_all(source, second)
    source.after_commit(third)
    archived = {p.name: p.read_text() for p in (tmp_path / "archive").iterdir()}
    assert len(archived) == 2 and "10,n10" in archived.pop("a.csv")
    [(other, content)] = archived.items()
    assert other.startswith("a.") and other.endswith(".csv") and "20,n20" in content


def test_files_without_records_are_consumed_with_a_zero_row_batch(tmp_path: Path) -> None:
    drop(tmp_path, "a.csv", [])  # a header only
    source = csv_source(tmp_path, archive_directory="archive")
    batches = list(source.read(None))
    assert [b.data.num_rows for b in batches] == [0]
    cursor = roundtrip(batches[0].cursor)
    assert [f["name"] for f in cursor["files"]] == ["a.csv"]
    source.after_commit(cursor)
    assert (tmp_path / "archive/a.csv").exists()


@pytest.mark.parametrize("pattern", ["../*.csv", "/etc/*", "sub/../../*.csv", "..\\*.csv"])
def test_patterns_leaving_the_folder_are_refused(tmp_path: Path, pattern: str) -> None:
    with pytest.raises(BadConfiguration) as error:
        DropFolderSource(CsvFormat(), tmp_path, pattern=pattern)
    assert error.value.where == "pattern"


def test_a_symlink_to_a_file_outside_the_folder_is_refused(tmp_path: Path) -> None:
    inside, outside = tmp_path / "inside", tmp_path / "secret.csv"
    inside.mkdir()
    outside.write_text("id\n1\n")
    (inside / "link.csv").symlink_to(outside)
    with pytest.raises(BadConfiguration) as error:
        list(csv_source(inside).read(None))
    assert error.value.where == "link.csv"
    (inside / "link.csv").unlink()
    drop(tmp_path, "inside/real.csv", range(1))
    (inside / "alias.csv").symlink_to(inside / "real.csv")  # a link inside the folder is fine
    assert sorted(read_all(csv_source(inside), None)[0]) == [0, 0]


@pytest.mark.parametrize("archive", ["../archive", "/tmp", "."])
def test_archive_folders_outside_the_folder_are_refused(tmp_path: Path, archive: str) -> None:
    (tmp_path / "drop").mkdir()
    with pytest.raises(BadConfiguration) as error:
        list(csv_source(tmp_path / "drop", archive_directory=archive).read(None))
    assert error.value.where == "archive_directory"


def test_an_archive_symlinked_outside_the_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "drop").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "drop/archive").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(BadConfiguration) as error:
        csv_source(tmp_path / "drop", archive_directory="archive").after_commit(None)
    assert error.value.where == "archive_directory"


def test_a_cursor_naming_a_path_outside_the_folder_archives_nothing(tmp_path: Path) -> None:
    (tmp_path / "drop").mkdir()
    victim = drop(tmp_path, "victim.csv", range(1))
    forged = {
        "version": 1,
        "kind": "drop-folder",
        "format": "csv",
        "current": None,
        "files": [{"name": "../victim.csv", "size": 1, "mtime_ns": 1, "sha256": "0" * 64}],
    }
    with pytest.raises(BadConfiguration):
        csv_source(tmp_path / "drop", archive_directory="archive").after_commit(forged)
    assert victim.exists()


def test_cursors_of_another_format_or_malformed_are_refused(tmp_path: Path) -> None:
    drop(tmp_path, "a.csv", range(2))
    _, cursor = read_all(csv_source(tmp_path), None)
    with pytest.raises(BadConfiguration):
        list(DropFolderSource(JsonLinesFormat(), tmp_path).read(cursor))
    with pytest.raises(BadInput):
        list(csv_source(tmp_path).read({"version": 1, "kind": "drop-folder", "format": "csv", "files": 3}))


def test_a_missing_folder_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(BadConfiguration) as error:
        list(csv_source(tmp_path / "absent").read(None))
    assert error.value.where == "directory"


def test_error_rows_keep_the_cursor_count_exact(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id,name\n1,a\n2\n3,c\n4,d,extra\n5,e\n")
    os.utime(tmp_path / "a.csv", (OLD, OLD))
    source = csv_source(tmp_path)
    batches = list(source.read(None, batch_size=2))
    errors = [e for b in batches for e in b.data[SOURCE_ERROR].to_pylist() if e]
    assert len(errors) == 2
    for i, batch in enumerate(batches):  # resuming after any batch yields exactly the rest
        rest = list(source.read(roundtrip(batch.cursor), batch_size=2))
        assert sum(b.data.num_rows for b in rest) == sum(b.data.num_rows for b in batches[i + 1 :])


def test_file_sources_are_built_from_settings(tmp_path: Path) -> None:
    def source(settings: dict[str, Any]) -> Any:
        return make_source(settings, key_fields=("id",), cursor_field="updated_at")

    for connector in ("csv", "jsonl", "avro", "parquet"):
        made = source({"connector": connector, "directory": str(tmp_path), "archive_directory": "done"})
        assert isinstance(made, DropFolderSource) and callable(made.after_commit)
    assert isinstance(source({"connector": "parquet", "path": str(tmp_path / "a.parquet")}), ParquetSource)
    drop(tmp_path, "a.csv", range(2))
    made = source({"connector": "csv", "directory": str(tmp_path), "pattern": "a.*", "settle_seconds": 0})
    assert read_all(made, None)[0] == [0, 1]
    with pytest.raises(BadConfiguration) as error:
        source({"connector": "jsonl", "directory": str(tmp_path), "delimiter": ";"})
    assert error.value.where == "delimiter" and "settle_seconds" in (error.value.hint or "")
    with pytest.raises(BadConfiguration) as error:
        source({"connector": "avro"})
    assert error.value.where == "directory"
