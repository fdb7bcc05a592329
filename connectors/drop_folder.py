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
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from connectors.base import Cursor, SourceBatch
from connectors.folder_scan import (
    BackgroundDigest,
    FileLook,
    check_pattern,
    inside,
    list_files,
    look,
    resolve_root,
    safe_join,
    settle,
    sha256_file,
)
from connectors.rebatch import rebatch
from connectors.source_errors import ERROR_FIELDS
from govbus.errors import BadConfiguration, BadInput, TransientError

CURSOR_VERSION = 1
_RESET_HINT = "the source's settings changed: reset the dataset's cursor to re-read the folder"


class FileFormat(Protocol):
    """How one kind of file is read into Arrow tables (see `connectors.csv_files` etc.)."""

    kind: str
    default_pattern: str

    def records(self, path: Path, name: str, skip: int) -> Iterator[pa.Table]:
        """The file's records after the first `skip`, in a fixed order, in bounded tables that
        carry the error columns (`connectors.source_errors`). A file that cannot be read at
        all raises `BadInput` naming `name`."""
        ...


class DropFolderSource:
    """Reads the new files of a drop folder in `file_format` (see the module doc)."""

    def __init__(
        self,
        file_format: FileFormat,
        directory: str | os.PathLike[str],
        *,
        pattern: str | None = None,
        archive_directory: str | os.PathLike[str] | None = None,
        settle_seconds: float = 1.0,
    ) -> None:
        self._format = file_format
        self._directory = directory
        self._pattern = check_pattern(pattern or file_format.default_pattern)
        self._archive_setting = archive_directory
        if isinstance(settle_seconds, bool) or not isinstance(settle_seconds, int | float):
            raise BadConfiguration("must be a number of seconds", where="settle_seconds")
        self._settle = float(settle_seconds)

    # -- the Source protocol -----------------------------------------------------------

    def read(self, cursor: Cursor | None, *, batch_size: int = 50_000) -> Iterator[SourceBatch]:
        """Yield batches of the files not consumed yet (settings are checked right away)."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise BadInput("must be a positive integer", where="batch_size")
        root, archive = self._folders()
        consumed, current = self._parse(cursor)
        return self._batches(root, archive, consumed, current, batch_size)

    def close(self) -> None:
        """Nothing to release: files are closed after each read."""

    def after_commit(self, cursor: Cursor | None) -> None:
        """Archive the files `cursor` lists as consumed (idempotent; see the module doc)."""
        root, archive = self._folders()
        if archive is None or cursor is None:
            return
        consumed, _ = self._parse(cursor)
        for name, entry in consumed.items():
            path = safe_join(root, name, "cursor")
            seen = look(path, name)
            if seen is None or not _matches(seen, entry):
                continue  # archived already, deleted, or replaced by a new file
            _archive(seen, entry["sha256"], archive)

    # -- reading -----------------------------------------------------------------------

    def _folders(self) -> tuple[Path, Path | None]:
        root = resolve_root(self._directory)
        if self._archive_setting is None:
            return root, None
        if not isinstance(self._archive_setting, str | os.PathLike) or not str(self._archive_setting):
            raise BadConfiguration("must be a folder path", where="archive_directory")
        archive = inside(root, root / self._archive_setting, "archive_directory")
        if archive == root:
            raise BadConfiguration(
                "must be a folder inside the drop folder, not the folder itself", where="archive_directory"
            )
        return root, archive

    def _batches(
        self,
        root: Path,
        archive: Path | None,
        consumed: dict[str, dict[str, Any]],
        current: dict[str, Any] | None,
        batch_size: int,
    ) -> Iterator[SourceBatch]:
        present = list_files(root, self._pattern, archive)
        kept: dict[str, dict[str, Any]] = {}
        for name, entry in consumed.items():
            seen = present.get(name)
            if seen is not None and _matches(seen, entry):
                kept[name] = {**entry, "mtime_ns": seen.mtime_ns}
        plan: list[tuple[FileLook, int]] = []
        if current is not None:
            seen = present.get(current["name"])
            if seen is not None and (seen.size, seen.mtime_ns) == (current["size"], current["mtime_ns"]):
                plan.append((seen, current["records"]))
        new = [seen for name, seen in sorted(present.items()) if name not in kept]
        new = [seen for seen in new if not plan or seen.name != plan[0][0].name]
        plan += [(seen, 0) for seen in settle(new, self._settle)]
        state = {"unannounced": False}  # consumed files no yielded cursor mentions yet
        for seen, skip in plan:
            yield from self._file_batches(seen, skip, kept, batch_size, state)
        if state["unannounced"]:
            empty = pa.schema(ERROR_FIELDS).empty_table()
            yield SourceBatch(empty, _cursor(self._format.kind, kept, None))

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
        now = look(seen.path, seen.name)
        if now is None or not now.same_as(seen):
            return  # changed between the listing and now: still being written
        digest = BackgroundDigest(seen)
        delivered = skip
        try:
            held: pa.Table | None = None
            for table in rebatch(self._format.records(seen.path, seen.name, skip), batch_size):
                if held is not None:
                    delivered += held.num_rows
                    progress = {
                        "name": seen.name,
                        "size": seen.size,
                        "mtime_ns": seen.mtime_ns,
                        "records": delivered,
                    }
                    state["unannounced"] = False
                    yield SourceBatch(held, _cursor(self._format.kind, kept, progress))
                held = table
            sha = digest.result()
        finally:
            digest.cancel()
        after = look(seen.path, seen.name)
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
            yield SourceBatch(held, _cursor(self._format.kind, kept, None))

    # -- the cursor --------------------------------------------------------------------

    def _parse(self, cursor: Cursor | None) -> tuple[dict[str, dict[str, Any]], dict[str, Any] | None]:
        if cursor is None:
            return {}, None
        if not isinstance(cursor, Mapping) or cursor.get("version") != CURSOR_VERSION:
            raise BadInput("not a cursor made by a drop-folder source", where="cursor", hint=_RESET_HINT)
        if cursor.get("kind") != "drop-folder" or cursor.get("format") != self._format.kind:
            raise BadConfiguration(
                "the cursor was made by another kind of source", where="cursor", hint=_RESET_HINT
            )
        files, current = cursor.get("files"), cursor.get("current")
        if not isinstance(files, list) or not all(_entry(item, "sha256") for item in files):
            raise BadInput("the cursor's file list is malformed", where="cursor", hint=_RESET_HINT)
        if current is not None and not _entry(current, "records"):
            raise BadInput("the cursor's current file is malformed", where="cursor", hint=_RESET_HINT)
        return {item["name"]: dict(item) for item in files}, current


def _entry(item: object, extra: str) -> bool:
    """A well-formed cursor entry: name, size, mtime_ns and `extra` (sha256 or records)."""
    if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
        return False
    numbers = ["size", "mtime_ns"] + (["records"] if extra == "records" else [])
    if not all(isinstance(item.get(key), int) and not isinstance(item.get(key), bool) for key in numbers):
        return False
    return extra == "records" or isinstance(item.get("sha256"), str)


def _cursor(kind: str, kept: dict[str, dict[str, Any]], current: dict[str, Any] | None) -> Cursor:
    files = [dict(kept[name]) for name in sorted(kept)]
    return {
        "version": CURSOR_VERSION,
        "kind": "drop-folder",
        "format": kind,
        "files": files,
        "current": current,
    }


def _matches(seen: FileLook, entry: Mapping[str, Any]) -> bool:
    """Is the file on disk the consumed one? Size first, then mtime, then the content."""
    if seen.size != entry["size"]:
        return False
    return seen.mtime_ns == entry["mtime_ns"] or sha256_file(seen.path) == entry["sha256"]


def _archive(seen: FileLook, sha: str, archive: Path) -> None:
    """Move a consumed file into the archive; an identical archived copy makes it a delete."""
    relative = Path(seen.name)
    target = inside(archive, archive / relative, "archive_directory")
    for candidate in (target, target.with_name(f"{relative.stem}.{sha[:16]}{relative.suffix}")):
        existing = look(candidate, seen.name)
        if existing is not None and existing.size == seen.size and sha256_file(candidate) == sha:
            seen.path.unlink(missing_ok=True)
            return
        if existing is None and not candidate.exists():
            try:
                candidate.parent.mkdir(parents=True, exist_ok=True)
                inside(archive, candidate.parent, "archive_directory")
                os.replace(seen.path, candidate)
            except OSError as exc:
                raise TransientError(
                    f"cannot move the file into the archive ({type(exc).__name__})",
                    where=seen.name,
                    hint="check the archive folder is writable and on the same file system",
                ) from None
            return
    raise TransientError(
        "two different archived files already use this name",
        where=seen.name,
        hint="clean up the archive folder",
    )
