"""Looking at a drop folder safely: which files are there, complete, and inside the root.

Rules a caller relies on (and `DropFolderSource` documents to users):

* Every path is resolved (symlinks followed) and must stay inside the resolved root; a
  pattern that is absolute or climbs (`..`), a symlink pointing outside, or an archive
  folder outside the root is refused with `BadConfiguration`.
* A file with more than one name (a hard link, `st_nlink > 1`) may be a link to a file
  outside the root, which no path check can see: `FolderSource` refuses it unless
  `allow_hard_links` (see `connectors.files.drop_folder`).
* Temporaries are never candidates: a name (or any folder on its path) starting with a
  dot, or ending in one of `TEMPORARY_SUFFIXES`. Neither are empty (0-byte) files, which
  are almost always a writer that has not started, nor anything but regular files.
* `settle` keeps only files whose size and modification time did not change during
  `settle_seconds`: a file modified longer ago than that is taken at once; a fresher one
  is looked at again after waiting (within the same read) and skipped if it changed.

`LocalFolder` puts these together as the `FileStore` of `DropFolderSource` (the seam
that lets `connectors.sftp.folder` read a folder on an SFTP server with the same rules).
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath

from govbus.errors import BadConfiguration, TransientError

TEMPORARY_SUFFIXES = (".tmp", ".temp", ".part", ".partial", ".filepart", ".crdownload", ".swp", "~")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class FileLook:
    """One look at a file: its name relative to the root (POSIX form) and its stat.

    `path` is where the file is: a local `Path`, or its POSIX path on a server (the store
    that made the look knows which). `inode` is (0, 0) where the store has none.
    """

    name: str
    path: PurePath
    size: int
    mtime_ns: int
    inode: tuple[int, int]
    links: int = 1
    """How many names the file has (st_nlink); 1 where the store cannot tell."""

    def same_as(self, other: FileLook) -> bool:
        """Same size, modification time and inode: nothing was written in between."""
        return (self.size, self.mtime_ns, self.inode) == (other.size, other.mtime_ns, other.inode)


def resolve_root(directory: object) -> Path:
    """The resolved root folder; it must exist."""
    if not isinstance(directory, str | os.PathLike) or not str(directory):
        raise BadConfiguration("must be a directory path", where="directory")
    root = Path(directory)
    if not root.is_dir():
        raise BadConfiguration(
            "the drop folder does not exist or is not a directory",
            where="directory",
            hint="create the folder or fix the setting",
        )
    return root.resolve(strict=True)


def check_pattern(pattern: str) -> str:
    """A relative glob that does not climb out of the root."""
    parts = PurePosixPath(pattern.replace("\\", "/")).parts
    if pattern.startswith(("/", "\\")) or (len(pattern) > 1 and pattern[1] == ":") or ".." in parts:
        raise BadConfiguration(
            "must be a relative pattern inside the drop folder",
            where="pattern",
            hint="write e.g. '*.csv' or 'exports/**/*.csv'; absolute paths and '..' are refused",
        )
    return pattern


def inside(root: Path, candidate: Path, where: str) -> Path:
    """`candidate` resolved; refused unless it lies inside `root` (a resolved folder)."""
    resolved = candidate.resolve()
    if resolved != root and root not in resolved.parents:
        raise BadConfiguration(
            "resolves outside the drop folder",
            where=where,
            hint="remove the link or move the path inside the configured directory",
        )
    return resolved


def safe_join(root: Path, name: str, where: str) -> Path:
    """root / name for a relative POSIX `name` (from a cursor), refusing climbs and escapes."""
    parts = PurePosixPath(name).parts
    if not parts or name.startswith("/") or ".." in parts or "\x00" in name:
        raise BadConfiguration("the cursor names a file outside the drop folder", where=where)
    joined = root.joinpath(*parts)
    inside(root, joined.parent, where)
    return joined


def is_temporary(relative: PurePosixPath) -> bool:
    """A dot-file, a file in a dot-folder, or a name with a temporary suffix."""
    return any(part.startswith(".") for part in relative.parts) or relative.name.endswith(TEMPORARY_SUFFIXES)


def look(path: Path, name: str) -> FileLook | None:
    """The file's current look, or None if it is gone or not a regular file."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    return FileLook(name, path, info.st_size, info.st_mtime_ns, (info.st_dev, info.st_ino), info.st_nlink)


def list_files(root: Path, pattern: str, skip_folder: Path | None) -> dict[str, FileLook]:
    """Non-temporary, non-empty regular files matching `pattern`, by relative name."""
    found: dict[str, FileLook] = {}
    try:
        matches = sorted(root.glob(pattern))
    except (ValueError, NotImplementedError):
        raise BadConfiguration("is not a usable glob pattern", where="pattern") from None
    except OSError as exc:
        problem = f"cannot list the drop folder ({type(exc).__name__})"
        raise TransientError(problem, where="directory") from None
    for match in matches:
        relative = PurePosixPath(match.relative_to(root).as_posix())
        if is_temporary(relative):
            continue
        if skip_folder is not None and (match == skip_folder or skip_folder in match.parents):
            continue
        resolved = inside(root, match, relative.as_posix())
        if skip_folder is not None and (resolved == skip_folder or skip_folder in resolved.parents):
            continue
        seen = look(resolved, relative.as_posix())
        if seen is not None and seen.size > 0:
            found[seen.name] = seen
    return found


def settle(looks: list[FileLook], settle_seconds: float) -> list[FileLook]:
    """The files unchanged for `settle_seconds` (see the module doc); order kept."""
    if settle_seconds <= 0:
        return looks
    now = time.time_ns()
    window = int(settle_seconds * 1e9)
    fresh = [item for item in looks if now - item.mtime_ns < window]
    if not fresh:
        return looks
    wait = (max(item.mtime_ns for item in fresh) + window - now) / 1e9
    time.sleep(min(settle_seconds, max(0.0, wait)))  # capped: a clock ahead must not stall us
    changed = set()
    for item in fresh:
        again = look(item.path, item.name)
        if again is None or not again.same_as(item):
            changed.add(item.name)
    return [item for item in looks if item.name not in changed]


def sha256_file(path: PurePath) -> str:
    """The hex SHA-256 of the file's content."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


class BackgroundDigest:
    """Hashes a file in a thread while the caller parses it (hashlib releases the GIL).

    `result()` waits and returns the hex digest together with the look of the file taken
    when the hash started, or raises the OSError the thread met.
    """

    def __init__(self, seen: FileLook) -> None:
        self._seen = seen
        self._stop = threading.Event()
        self._digest: str | None = None
        self._error: OSError | None = None
        self._thread = threading.Thread(target=self._run, name="govbus-digest", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        digest = hashlib.sha256()
        try:
            with open(self._seen.path, "rb") as handle:
                for chunk in iter(lambda: handle.read(_CHUNK), b""):
                    if self._stop.is_set():
                        return
                    digest.update(chunk)
            self._digest = digest.hexdigest()
        except OSError as exc:
            self._error = exc

    def result(self) -> str:
        """Wait for the hash and return its hex digest.

        `TransientError` if the file could not be read (naming only the OSError's type) or
        the hash was cancelled before it finished.
        """
        self._thread.join()
        if self._error is not None or self._digest is None:
            raise TransientError(
                f"cannot read the file ({type(self._error).__name__})", where=self._seen.name
            )
        return self._digest

    def cancel(self) -> None:
        """Stop hashing at the next chunk and wait for the thread; harmless after `result`."""
        self._stop.set()
        self._thread.join()


@dataclass(frozen=True)
class LocalCopy:
    """A file being read: a local path a `FileFormat` can open, and its content's SHA-256.

    `sha256()` may block until the hash is done (it is computed while the file is parsed).
    """

    path: Path
    sha256: Callable[[], str]


class LocalFolder:
    """A drop folder on the local disk: the `FileStore` of `DropFolderSource`.

    `directory` must exist; `archive_directory` (relative to it, or None for no archive)
    must resolve inside it. Both are checked by `prepare`, at every read and commit.
    """

    cursor_kind = "drop-folder"

    def __init__(self, directory: object, archive_directory: object = None) -> None:
        self._directory = directory
        self._archive_setting = archive_directory
        self.archives = archive_directory is not None
        self._folders: tuple[Path, Path | None] | None = None

    def prepare(self) -> None:
        """Check the folder and the archive folder (`BadConfiguration` naming the setting)."""
        root = resolve_root(self._directory)
        if self._archive_setting is None:
            self._folders = (root, None)
            return
        if not isinstance(self._archive_setting, str | os.PathLike) or not str(self._archive_setting):
            raise BadConfiguration("must be a folder path", where="archive_directory")
        archive = inside(root, root / self._archive_setting, "archive_directory")
        if archive == root:
            raise BadConfiguration(
                "must be a folder inside the drop folder, not the folder itself", where="archive_directory"
            )
        self._folders = (root, archive)

    def _prepared(self) -> tuple[Path, Path | None]:
        if self._folders is None:
            self.prepare()
        assert self._folders is not None
        return self._folders

    def files(self, pattern: str) -> dict[str, FileLook]:
        """The candidate files (see `list_files`), by relative name."""
        root, archive = self._prepared()
        return list_files(root, pattern, archive)

    def settle(self, looks: list[FileLook], settle_seconds: float) -> list[FileLook]:
        """The files unchanged for `settle_seconds` (see `settle`)."""
        return settle(looks, settle_seconds)

    def look_again(self, seen: FileLook) -> FileLook | None:
        """The file's current look (None if it is gone)."""
        return look(Path(seen.path), seen.name)

    def find(self, name: str) -> FileLook | None:
        """The file a cursor names, checked to be inside the folder (None if it is gone)."""
        root, _ = self._prepared()
        return look(safe_join(root, name, "cursor"), name)

    def sha256(self, seen: FileLook) -> str:
        """The hex SHA-256 of the file's current content."""
        return sha256_file(seen.path)

    @contextmanager
    def fetch(self, seen: FileLook) -> Iterator[LocalCopy]:
        """The file itself, hashed in a thread while the caller parses it."""
        digest = BackgroundDigest(seen)
        try:
            yield LocalCopy(Path(seen.path), digest.result)
        finally:
            digest.cancel()

    def archive(self, seen: FileLook, sha: str) -> None:
        """Move a consumed file into the archive; an identical archived copy makes it a delete."""
        _, archive = self._prepared()
        if archive is None:
            return
        relative = Path(seen.name)
        source = Path(seen.path)
        target = inside(archive, archive / relative, "archive_directory")
        for candidate in (target, target.with_name(f"{relative.stem}.{sha[:16]}{relative.suffix}")):
            existing = look(candidate, seen.name)
            if existing is not None and existing.size == seen.size and sha256_file(candidate) == sha:
                source.unlink(missing_ok=True)
                return
            if existing is None and not candidate.exists():
                try:
                    candidate.parent.mkdir(parents=True, exist_ok=True)
                    inside(archive, candidate.parent, "archive_directory")
                    os.replace(source, candidate)
                except OSError as exc:
                    raise TransientError(
                        f"cannot move the file into the archive ({type(exc).__name__})",
                        where=seen.name,
                        hint="check the archive folder is writable and on the same file system",
                    ) from None
                return
        raise archive_name_taken(seen.name)

    def close(self) -> None:
        """Nothing to release."""


def archive_name_taken(name: str) -> TransientError:
    """The error when every archive name for `name` holds a different file.

    Local and SFTP folders archive by different means but must report this clash alike.
    """
    return TransientError(
        "two different archived files already use this name",
        where=name,
        hint="clean up the archive folder",
    )
