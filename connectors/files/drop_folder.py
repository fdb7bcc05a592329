"""`DropFolderSource`: every new file of a folder, read once, archived after commit.

What a user (and the exchange) can rely on:

* **Once.** A file is identified by its name (relative to `directory`), size and the
  SHA-256 of its content. A file already consumed is not read again; a file whose
  content changed under the same name is a new file and is read in full. Files are read
  in name order, each in full; a batch never mixes two files.
* **Complete files only.** Temporaries (dot-files and names ending in .tmp, .temp, .part,
  .partial, .filepart, .crdownload, .swp or ~) and empty files are ignored. A file modified
  less than `settle_seconds` ago is looked at again after that time, within the same read,
  and skipped if its size or modification time changed. A file that changes while it is
  being read fails the read with `TransientError` (nothing of it is committed; the next
  run reads it again). Writers should write under a temporary name and rename.
* **Inside the root.** The pattern, every file (symlinks resolved) and the archive
  folder must resolve inside `directory`: anything else is refused (`BadConfiguration`).
* **Files that cannot be read safely become one error row each, and are not read:** a
  hard link (a file with more than one name may be a link to a file outside the folder,
  which no path check can see; `allow_hard_links: true` accepts them) and a file whose
  name is not valid UTF-8 (it could not be named in a cursor, a message or the ledger).
  The error row names the file (bytes that are not UTF-8 as backslash escapes); the
  file counts as consumed, so it is reported once, and a renamed or copied file is read.
* **Archive after commit.** `after_commit(cursor)` moves the files the committed cursor
  lists as consumed into `archive_directory` (same relative name; a different file
  already archived under that name makes it `<stem>.<sha256 prefix><suffix>`). It is
  idempotent: a file already archived, or changed since it was read, is left alone. The
  exchange calls it after the commit step; sources without it are not asked.

The cursor (JSON) lists the consumed files still in the folder (name, size, mtime_ns,
sha256: files that were archived or deleted drop out of it, so it stays as small as the
folder) and, while a file is part-read, `current` with the number of its records
already delivered; resuming re-reads that file and skips them. A consumed file whose
size and modification time are unchanged is not hashed again.

A read of files that all hold no records ends with one batch of zero rows that only
carries the cursor (so such files get archived too).

Where the files live is a `FileStore`: `FolderSource` holds the rules above and asks
its store to list, look at, fetch and archive files. `DropFolderSource` is a
`FolderSource` on a local folder (`connectors.files.folder_scan.LocalFolder`);
`connectors.sftp.folder.SftpDropFolderSource` is one on an SFTP server.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from connectors.base import Cursor, SourceBatch
from connectors.files.folder_scan import FileLook, LocalCopy, LocalFolder, check_pattern
from connectors.rebatch import rebatch
from connectors.source_errors import ERROR_FIELDS, error_rows
from govbus.errors import BadConfiguration, BadInput, TransientError

CURSOR_VERSION = 1
_RESET_HINT = "the source's settings changed: reset the dataset's cursor to re-read the folder"


class FileFormat(Protocol):
    """How one kind of file is read into Arrow tables (see `connectors.files.csv_files` etc.)."""

    kind: str
    default_pattern: str

    def records(self, path: Path, name: str, skip: int) -> Iterator[pa.Table]:
        """The file's records after the first `skip`, in a fixed order, in bounded tables that
        carry the error columns (`connectors.source_errors`). A file that cannot be read at
        all raises `BadInput` naming `name`."""
        ...


class FileStore(Protocol):
    """Where a drop folder's files live (`LocalFolder`, `SftpFolder`): what `FolderSource` asks.

    Every name is relative to the folder, in POSIX form. Every method refuses a path that
    leaves the folder with `BadConfiguration`, and raises `TransientError` when the
    store cannot be reached.
    """

    cursor_kind: str
    """The cursor's `kind`: a cursor of another store is refused."""
    archives: bool
    """Was an archive folder configured?"""

    def prepare(self) -> None:
        """Check the folder and the archive folder (called before every read and commit)."""
        ...

    def files(self, pattern: str) -> dict[str, FileLook]:
        """The complete-looking candidates matching `pattern` (no temporaries, no empty
        files, nothing in the archive), by name."""
        ...

    def settle(self, looks: list[FileLook], settle_seconds: float) -> list[FileLook]:
        """Those of `looks` that did not change during `settle_seconds` (order kept)."""
        ...

    def look_again(self, seen: FileLook) -> FileLook | None:
        """The file's current look, or None if it is gone."""
        ...

    def find(self, name: str) -> FileLook | None:
        """The file a cursor names (checked to be inside the folder), or None if gone."""
        ...

    def sha256(self, seen: FileLook) -> str:
        """The hex SHA-256 of the file's current content."""
        ...

    def fetch(self, seen: FileLook) -> AbstractContextManager[LocalCopy]:
        """The file as a local path to parse, and its hash; released on exit. A file that
        cannot be opened raises `BadInput` naming it."""
        ...

    def archive(self, seen: FileLook, sha: str) -> None:
        """Move a consumed file into the archive folder (idempotent)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class FolderSource:
    """Reads the new files of `store` in `file_format` (see the module doc)."""

    def __init__(
        self,
        file_format: FileFormat,
        store: FileStore,
        *,
        pattern: str | None = None,
        settle_seconds: float = 1.0,
        allow_hard_links: bool = False,
    ) -> None:
        self._format = file_format
        self._store = store
        if not isinstance(allow_hard_links, bool):
            raise BadConfiguration("must be true or false", where="allow_hard_links")
        self._hard_links = allow_hard_links
        self._pattern = check_pattern(pattern or file_format.default_pattern)
        if isinstance(settle_seconds, bool) or not isinstance(settle_seconds, int | float):
            raise BadConfiguration("must be a number of seconds", where="settle_seconds")
        self._settle = float(settle_seconds)

    # -- the Source protocol -----------------------------------------------------------

    def read(self, cursor: Cursor | None, *, batch_size: int = 50_000) -> Iterator[SourceBatch]:
        """Yield batches of the files not consumed yet (settings are checked right away)."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise BadInput("must be a positive integer", where="batch_size")
        self._store.prepare()
        consumed, current = self._parse(cursor)
        return self._batches(consumed, current, batch_size)

    def close(self) -> None:
        """Release the store's connections (files are closed after each read)."""
        self._store.close()

    def after_commit(self, cursor: Cursor | None) -> None:
        """Archive the files `cursor` lists as consumed (idempotent; see the module doc)."""
        self._store.prepare()
        if not self._store.archives or cursor is None:
            return
        consumed, _ = self._parse(cursor)
        for name, entry in consumed.items():
            seen = self._store.find(name)
            if seen is None or not self._matches(seen, entry):
                continue  # archived already, deleted, or replaced by a new file
            self._store.archive(seen, entry["sha256"])

    # -- reading -----------------------------------------------------------------------

    def _batches(
        self,
        consumed: dict[str, dict[str, Any]],
        current: dict[str, Any] | None,
        batch_size: int,
    ) -> Iterator[SourceBatch]:
        present = {cursor_name(name): seen for name, seen in self._store.files(self._pattern).items()}
        kept: dict[str, dict[str, Any]] = {}
        for name, entry in consumed.items():
            seen = present.get(name)
            if seen is not None and self._matches(seen, entry):
                kept[name] = {**entry, "mtime_ns": seen.mtime_ns}
        plan: list[tuple[FileLook, int]] = []
        if current is not None:
            seen = present.get(current["name"])
            if seen is not None and (seen.size, seen.mtime_ns) == (current["size"], current["mtime_ns"]):
                plan.append((seen, current["records"]))
        new = [seen for name, seen in sorted(present.items()) if name not in kept]
        new = [seen for seen in new if not plan or seen.name != plan[0][0].name]
        plan += [(seen, 0) for seen in self._store.settle(new, self._settle)]
        state = {"unannounced": False}  # consumed files no yielded cursor mentions yet
        for seen, skip in plan:
            yield from self._file_batches(seen, skip, kept, batch_size, state)
        if state["unannounced"]:
            empty = pa.schema(ERROR_FIELDS).empty_table()
            yield SourceBatch(empty, self._cursor(kept, None))

    def _file_batches(
        self,
        seen: FileLook,
        skip: int,
        kept: dict[str, dict[str, Any]],
        batch_size: int,
        state: dict[str, bool],
    ) -> Iterator[SourceBatch]:
        """The file's batches; the last one's cursor lists the file as consumed (`kept` is
        updated then; if the file yields no batch, `state` records that no cursor says so)."""
        now = self._store.look_again(seen)
        if now is None or not now.same_as(seen):
            return  # changed between the listing and now: still being written
        refusal = self._refusal(seen)
        if refusal is not None:
            name = cursor_name(seen.name)
            kept[name] = {"name": name, "size": seen.size, "mtime_ns": seen.mtime_ns, "sha256": ""}
            state["unannounced"] = False
            error = error_rows(pa.schema([]), [f"{name}: {refusal}"], [name], [None])
            yield SourceBatch(error, self._cursor(kept, None))
            return
        delivered = skip
        with self._store.fetch(seen) as copy:
            held: pa.Table | None = None
            for table in rebatch(self._format.records(copy.path, seen.name, skip), batch_size):
                if held is not None:
                    delivered += held.num_rows
                    progress = {
                        "name": seen.name,
                        "size": seen.size,
                        "mtime_ns": seen.mtime_ns,
                        "records": delivered,
                    }
                    state["unannounced"] = False
                    yield SourceBatch(held, self._cursor(kept, progress))
                held = table
            sha = copy.sha256()
        after = self._store.look_again(seen)
        if after is None or not after.same_as(seen):
            raise TransientError(
                "the file changed while it was being read",
                where=seen.name,
                hint="write drop files under a temporary name (.tmp, .part or a leading dot) "
                "and rename them when complete; the next run reads it again",
            )
        kept[seen.name] = {"name": seen.name, "size": seen.size, "mtime_ns": seen.mtime_ns, "sha256": sha}
        if held is None:
            state["unannounced"] = True
        else:
            state["unannounced"] = False
            yield SourceBatch(held, self._cursor(kept, None))

    def _refusal(self, seen: FileLook) -> str | None:
        """Why the file is not read (see the module doc), or None to read it."""
        if cursor_name(seen.name) != seen.name:
            return "the file name is not valid UTF-8: the file was not read (rename it)"
        if seen.links > 1 and not self._hard_links:
            return (
                "the file is a hard link (it has other names, maybe outside the drop folder): "
                "not read (copy it in instead, or set allow_hard_links: true)"
            )
        return None

    def _matches(self, seen: FileLook, entry: Mapping[str, Any]) -> bool:
        """Is the file there the consumed one? Size first, then mtime, then the content."""
        if seen.size != entry["size"]:
            return False
        return seen.mtime_ns == entry["mtime_ns"] or self._store.sha256(seen) == entry["sha256"]

    # -- the cursor --------------------------------------------------------------------

    def _parse(self, cursor: Cursor | None) -> tuple[dict[str, dict[str, Any]], dict[str, Any] | None]:
        if cursor is None:
            return {}, None
        if not isinstance(cursor, Mapping) or cursor.get("version") != CURSOR_VERSION:
            raise BadInput("not a cursor made by a drop-folder source", where="cursor", hint=_RESET_HINT)
        if cursor.get("kind") != self._store.cursor_kind or cursor.get("format") != self._format.kind:
            raise BadConfiguration(
                "the cursor was made by another kind of source", where="cursor", hint=_RESET_HINT
            )
        files, current = cursor.get("files"), cursor.get("current")
        if not isinstance(files, list) or not all(_entry(item, "sha256") for item in files):
            raise BadInput("the cursor's file list is malformed", where="cursor", hint=_RESET_HINT)
        if current is not None and not _entry(current, "records"):
            raise BadInput("the cursor's current file is malformed", where="cursor", hint=_RESET_HINT)
        return {item["name"]: dict(item) for item in files}, current

    def _cursor(self, kept: dict[str, dict[str, Any]], current: dict[str, Any] | None) -> Cursor:
        files = [dict(kept[name]) for name in sorted(kept)]
        return {
            "version": CURSOR_VERSION,
            "kind": self._store.cursor_kind,
            "format": self._format.kind,
            "files": files,
            "current": current,
        }


class DropFolderSource(FolderSource):
    """Reads the new files of a local drop folder in `file_format` (see the module doc)."""

    def __init__(
        self,
        file_format: FileFormat,
        directory: str | os.PathLike[str],
        *,
        pattern: str | None = None,
        archive_directory: str | os.PathLike[str] | None = None,
        settle_seconds: float = 1.0,
        allow_hard_links: bool = False,
    ) -> None:
        super().__init__(
            file_format,
            LocalFolder(directory, archive_directory),
            pattern=pattern,
            settle_seconds=settle_seconds,
            allow_hard_links=allow_hard_links,
        )


def cursor_name(name: str) -> str:
    """`name` as a cursor, a message and the ledger can hold it: a name read from a file
    system that is not valid UTF-8 (Python keeps such bytes as surrogates) gets them as
    backslash escapes."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        try:
            raw = name.encode("utf-8", errors="surrogateescape")
        except UnicodeEncodeError:  # surrogates that stand for no byte
            return name.encode("utf-8", errors="backslashreplace").decode("utf-8")
        return raw.decode("utf-8", errors="backslashreplace")


def _entry(item: object, extra: str) -> bool:
    """A well-formed cursor entry: name, size, mtime_ns and `extra` (sha256 or records)."""
    if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
        return False
    numbers = ["size", "mtime_ns"] + (["records"] if extra == "records" else [])
    if not all(isinstance(item.get(key), int) and not isinstance(item.get(key), bool) for key in numbers):
        return False
    return extra == "records" or isinstance(item.get("sha256"), str)
