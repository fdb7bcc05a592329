"""SFTP drop folders: `SftpDropFolderSource` reads each new file of a folder on a server once.

The rules are `connectors.files.drop_folder`'s (the same `FolderSource` applies them): each
file once by name, size and SHA-256; temporaries (dot-files, .tmp, .part, ...) and empty
files ignored; a file whose size or modification time changes within `settle_seconds`
left for a later run; archive (a rename on the server) only in `after_commit`,
idempotent. `SftpFolder` is the `FileStore` that does it over SFTP:

* **Inside the root.** `directory` is resolved by the server (symlinks followed); the
  pattern, every matching link and the archive folder must resolve inside it, or the
  read is refused with `BadConfiguration` naming the file or setting. A link the server
  cannot resolve is refused too (it may point outside a chroot). Links to folders are
  not followed.
* **Settling.** The server's clock is not ours and SFTP gives modification times in
  whole seconds, so every new file is looked at twice, `settle_seconds` apart (one wait
  per read that finds new files).
* **Reading.** Each file is downloaded (pipelined) into a local temporary file in the
  system temporary folder (TMPDIR), hashed on the way, parsed from there by the
  `FileFormat`, and deleted. A file that changes during the download fails the read
  with `TransientError`; one the server will not open (permission denied) fails it with
  `BadInput` naming the file; nothing of a failed read is archived.

The connection is opened by the first read or commit and kept until `close()`.
"""

from __future__ import annotations

import os
import posixpath
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import paramiko

from connectors.files.drop_folder import FileFormat, FolderSource
from connectors.files.folder_scan import FileLook, LocalCopy, archive_name_taken, is_temporary
from connectors.sftp.paths import glob, inside
from connectors.sftp.session import LOST_CONNECTION, SftpConnection, SftpSettings, read_remote
from govbus.errors import BadConfiguration, BadInput, TransientError

_OUTSIDE_HINT = "remove the link or move the path inside the configured directory"


class SftpFolder:
    """A drop folder on an SFTP server: the `FileStore` of `SftpDropFolderSource`."""

    cursor_kind = "sftp-drop-folder"

    def __init__(self, server: SftpSettings, directory: str, archive_directory: str | None = None) -> None:
        if not isinstance(directory, str) or not directory or "\x00" in directory:
            raise BadConfiguration("must be a folder path on the server", where="directory")
        if archive_directory is not None and (
            not isinstance(archive_directory, str) or not archive_directory or "\x00" in archive_directory
        ):
            raise BadConfiguration("must be a folder path", where="archive_directory")
        self._server = server
        self._directory = directory
        self._archive_setting = archive_directory
        self.archives = archive_directory is not None
        self._connection: SftpConnection | None = None
        self._root = ""
        self._archive: str | None = None
        self._skip: set[str] = set()  # folders never listed: the archive, lexical and resolved

    # -- connection --------------------------------------------------------------------

    def _sftp(self) -> paramiko.SFTPClient:
        if self._connection is None:
            self._connection = SftpConnection(self._server)
        return self._connection.sftp

    @contextmanager
    def _guard(self, where: str) -> Iterator[None]:
        """A broken connection becomes `TransientError`, and the next call reconnects."""
        try:
            yield
        except LOST_CONNECTION as exc:
            connection = self._connection
            self.close()
            if connection is None:
                raise
            raise connection.lost(exc, where) from None

    def close(self) -> None:
        """End the connection (a later call opens a new one)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # -- the FileStore protocol ----------------------------------------------------------

    def prepare(self) -> None:
        """Resolve the folder and the archive folder on the server (connecting if needed)."""
        sftp = self._sftp()
        with self._guard("directory"):
            try:
                root = sftp.normalize(self._directory)
                mode = sftp.stat(root).st_mode
            except OSError:
                mode = None
            if mode is None or not stat.S_ISDIR(mode):
                raise BadConfiguration(
                    "the drop folder does not exist on the server or is not a directory",
                    where="directory",
                    hint="create the folder, fix the setting, or check the SFTP user may read it",
                )
            self._root, self._skip = root, set()
            self._archive = None if self._archive_setting is None else self._archive_folder(root)

    def _archive_folder(self, root: str) -> str:
        archive = posixpath.normpath(posixpath.join(root, str(self._archive_setting)))
        if not inside(root, archive) or archive == root:
            raise BadConfiguration(
                "must be a folder inside the drop folder, not the folder itself or outside it",
                where="archive_directory",
            )
        self._skip.add(archive)
        if self._lstat(archive) is not None:
            resolved = self._resolve(archive, "archive_directory")
            if resolved == root:
                raise BadConfiguration(
                    "must not resolve to the drop folder itself", where="archive_directory"
                )
            self._skip.add(resolved)
        return archive

    def files(self, pattern: str) -> dict[str, FileLook]:
        """Non-temporary, non-empty regular files matching `pattern`, by relative name."""
        found: dict[str, FileLook] = {}
        listings: dict[str, list[paramiko.SFTPAttributes]] = {}
        with self._guard("directory"):
            entries = glob(
                self._root, PurePosixPath(pattern).parts, lambda f: self._listing(f, listings), self._skip
            )
            for name, path, attrs in entries:
                seen = None if is_temporary(PurePosixPath(name)) else self._look(name, path, attrs)
                if seen is not None:
                    found[name] = seen
        return found

    def settle(self, looks: list[FileLook], settle_seconds: float) -> list[FileLook]:
        """Those of `looks` unchanged after waiting `settle_seconds` once (see the module doc)."""
        if settle_seconds <= 0 or not looks:
            return looks
        time.sleep(settle_seconds)
        by_folder: dict[str, list[FileLook]] = {}
        for item in looks:
            by_folder.setdefault(posixpath.dirname(str(item.path)), []).append(item)
        kept: set[str] = set()
        with self._guard("directory"):
            for folder, items in by_folder.items():
                now = self._looks_in(folder, items)
                kept.update(item.name for item in items if (again := now[item.name]) and again.same_as(item))
        return [item for item in looks if item.name in kept]

    def _looks_in(self, folder: str, items: list[FileLook]) -> dict[str, FileLook | None]:
        """New looks at `items`, all in `folder`: one listing rather than a request per file."""
        if len(items) == 1:
            return {items[0].name: self.look_again(items[0])}
        listed = {entry.filename: entry for entry in self._listing(folder, {})}
        looks: dict[str, FileLook | None] = {}
        for item in items:
            attrs = listed.get(posixpath.basename(str(item.path)))
            looks[item.name] = None if attrs is None else self._file_look(item.name, str(item.path), attrs)
        return looks

    def look_again(self, seen: FileLook) -> FileLook | None:
        """The file's current look (None if it is gone or is no longer a regular file)."""
        with self._guard(seen.name):
            attrs = self._lstat(str(seen.path))
        return None if attrs is None else self._file_look(seen.name, str(seen.path), attrs)

    def find(self, name: str) -> FileLook | None:
        """The file a cursor names, checked to be inside the folder (None if it is gone)."""
        parts = PurePosixPath(name).parts
        if not parts or name.startswith("/") or ".." in parts or "\x00" in name:
            raise BadConfiguration("the cursor names a file outside the drop folder", where="cursor")
        path = posixpath.join(self._root, *parts)
        with self._guard(name):
            parent = posixpath.dirname(path)
            if parent != self._root:
                try:
                    resolved = self._sftp().normalize(parent)
                except OSError:
                    return None  # its folder is gone
                if not inside(self._root, resolved):
                    raise BadConfiguration("the cursor names a file outside the drop folder", where="cursor")
            attrs = self._lstat(path)
            return None if attrs is None else self._look(name, path, attrs)

    def sha256(self, seen: FileLook) -> str:
        """The hex SHA-256 of the file's content, read from the server."""
        return self._read(seen, lambda chunk: None)[0]

    @contextmanager
    def fetch(self, seen: FileLook) -> Iterator[LocalCopy]:
        """A local temporary copy of the file, hashed while downloaded, deleted on exit."""
        handle, local = tempfile.mkstemp(prefix="govbus-sftp-", suffix=PurePosixPath(seen.name).suffix)
        path = Path(local)
        try:
            with os.fdopen(handle, "wb") as out:
                sha, size = self._read(seen, lambda chunk: _keep(out, chunk, seen.name))
            if size != seen.size:
                raise _changed(seen.name)
            yield LocalCopy(path, lambda: sha)
        finally:
            path.unlink(missing_ok=True)

    def archive(self, seen: FileLook, sha: str) -> None:
        """Rename a consumed file into the archive; an identical archived copy makes it a delete."""
        archive = self._archive
        if archive is None:
            return
        relative = PurePosixPath(seen.name)
        source = posixpath.join(self._root, *relative.parts)
        target = posixpath.join(archive, *relative.parts)
        other = posixpath.join(posixpath.dirname(target), f"{relative.stem}.{sha[:16]}{relative.suffix}")
        sftp = self._sftp()
        with self._guard(seen.name):
            for candidate in (target, other):
                existing = self._lstat(candidate)
                if existing is not None:
                    copy = self._file_look(seen.name, candidate, existing)
                    if copy is not None and copy.size == seen.size and self.sha256(copy) == sha:
                        _quietly(sftp.remove, source)
                        return
                    continue
                try:
                    self._make_folders(archive, posixpath.dirname(candidate))
                    sftp.rename(source, candidate)  # plain SFTP rename: never replaces a file
                except OSError as exc:
                    raise TransientError(
                        f"cannot move the file into the archive ({_reason(exc)})",
                        where=seen.name,
                        hint="check the SFTP user may create folders and rename files there",
                    ) from None
                return
        raise archive_name_taken(seen.name)

    # -- listing -----------------------------------------------------------------------

    def _listing(
        self, folder: str, listings: dict[str, list[paramiko.SFTPAttributes]]
    ) -> list[paramiko.SFTPAttributes]:
        if folder not in listings:
            try:
                listings[folder] = self._sftp().listdir_attr(folder)
            except OSError as exc:
                if folder == self._root:
                    problem = f"cannot list the drop folder ({_reason(exc)})"
                    raise TransientError(problem, where="directory") from None
                listings[folder] = []  # a sub-folder that vanished or may not be read
        return listings[folder]

    def _look(self, name: str, path: str, attrs: paramiko.SFTPAttributes) -> FileLook | None:
        """The look of a listed entry: a link is resolved (inside the root) and its target looked at."""
        if stat.S_ISLNK(attrs.st_mode or 0):
            path = self._resolve(path, name)
            if any(inside(folder, path) for folder in self._skip):
                return None
            target = self._lstat(path)
            if target is None:
                return None
            attrs = target
        return self._file_look(name, path, attrs)

    def _resolve(self, path: str, where: str) -> str:
        """The server's canonical path for `path`, refused unless inside the root."""
        try:
            resolved = self._sftp().normalize(path)
        except OSError:
            raise BadConfiguration(
                "is a link the server cannot resolve (dangling, or outside what the SFTP user sees)",
                where=where,
                hint=_OUTSIDE_HINT,
            ) from None
        if not inside(self._root, resolved):
            raise BadConfiguration("resolves outside the drop folder", where=where, hint=_OUTSIDE_HINT)
        return resolved

    def _lstat(self, path: str) -> paramiko.SFTPAttributes | None:
        try:
            return self._sftp().lstat(path)
        except FileNotFoundError:
            return None

    @staticmethod
    def _file_look(name: str, path: str, attrs: paramiko.SFTPAttributes) -> FileLook | None:
        """A regular, non-empty file's look; None for anything else."""
        if not stat.S_ISREG(attrs.st_mode or 0) or not attrs.st_size:
            return None
        mtime_ns = int(attrs.st_mtime or 0) * 1_000_000_000
        return FileLook(name, PurePosixPath(path), int(attrs.st_size), mtime_ns, (0, 0))

    def _make_folders(self, archive: str, folder: str) -> None:
        """Create `folder` (inside `archive`) and its parents; each must resolve inside the root."""
        missing = []
        current = folder
        while inside(archive, current) and self._lstat(current) is None:
            missing.append(current)
            current = posixpath.dirname(current)
        for path in reversed(missing):
            try:
                self._sftp().mkdir(path)
            except OSError:
                if self._lstat(path) is None:
                    raise
        resolved = self._resolve(folder, "archive_directory")
        if not any(inside(skip, resolved) for skip in self._skip):
            raise BadConfiguration("resolves outside the archive folder", where="archive_directory")

    # -- reading -----------------------------------------------------------------------

    def _read(self, seen: FileLook, consume: Callable[[bytes], None]) -> tuple[str, int]:
        """Stream the file to `consume`; return its SHA-256 and the number of bytes read."""
        with self._guard(seen.name):
            try:
                return read_remote(self._sftp(), str(seen.path), seen.size, consume)
            except FileNotFoundError:
                raise _changed(seen.name) from None
            except EOFError:  # shrank under a prefetch
                raise _changed(seen.name) from None
            except OSError as exc:
                raise BadInput(
                    f"the server will not open or read the file ({_reason(exc)})",
                    where=seen.name,
                    hint="make it readable by the SFTP user, or remove it from the folder",
                ) from None


class SftpDropFolderSource(FolderSource):
    """Reads the new files of a folder on an SFTP server in `file_format` (see the module doc)."""

    def __init__(
        self,
        file_format: FileFormat,
        server: SftpSettings,
        directory: str,
        *,
        pattern: str | None = None,
        archive_directory: str | None = None,
        settle_seconds: float = 1.0,
    ) -> None:
        super().__init__(
            file_format,
            SftpFolder(server, directory, archive_directory),
            pattern=pattern,
            settle_seconds=settle_seconds,
        )


def _keep(out: BinaryIO, chunk: bytes, name: str) -> None:
    try:
        out.write(chunk)
    except OSError as exc:
        raise TransientError(
            f"cannot keep a local copy of the file ({type(exc).__name__})",
            where=name,
            hint="check the free space of the temporary folder (TMPDIR)",
        ) from None


def _changed(name: str) -> TransientError:
    return TransientError(
        "the file changed while it was being read",
        where=name,
        hint="upload drop files under a temporary name (.tmp, .part or a leading dot) and rename "
        "them when complete; the next run reads it again",
    )


def _reason(exc: OSError) -> str:
    """A short, value-free reason for a server's refusal."""
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    return type(exc).__name__


def _quietly(action: Callable[[str], object], path: str) -> None:
    try:
        action(path)
    except FileNotFoundError:
        pass
