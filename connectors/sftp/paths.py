"""Paths on an SFTP server: POSIX strings, checked lexically, and glob matching over listings.

The server resolves links (`normalize`); these helpers only compare and match what it
answers, so they are pure and cheap.
"""

from __future__ import annotations

import fnmatch
import posixpath
import stat
from collections.abc import Callable, Iterator, Sequence
from typing import Any

Listing = Callable[[str], Sequence[Any]]
"""A folder's entries (paramiko `SFTPAttributes`: `filename`, `st_mode` of the entry itself)."""


def inside(root: str, path: str) -> bool:
    """Is the normalized POSIX path `path` the folder `root` or under it?"""
    return path == root or path.startswith(root.rstrip("/") + "/")


def glob(root: str, parts: Sequence[str], listing: Listing, skip: set[str]) -> Iterator[tuple[str, str, Any]]:
    """(name relative to `root`, full path, entry) of every entry matching the glob `parts`.

    As `pathlib.Path.glob`: `*`, `?`, `[...]` within one name (case-sensitive), `**` for
    any number of folders. Folders are descended only if they are real folders (not
    links), their name does not start with a dot, and they are not in `skip`. Each name
    is yielded once.
    """
    yielded: set[str] = set()
    yield from _glob(root, (), tuple(parts), listing, skip, yielded)


def _glob(
    folder: str,
    relative: tuple[str, ...],
    parts: tuple[str, ...],
    listing: Listing,
    skip: set[str],
    yielded: set[str],
) -> Iterator[tuple[str, str, Any]]:
    if not parts:
        return
    head, rest = parts[0], parts[1:]
    if head == "**":
        yield from _glob(folder, relative, rest, listing, skip, yielded)
    for entry in listing(folder):
        name, path = entry.filename, posixpath.join(folder, entry.filename)
        if head == "**" or (rest and fnmatch.fnmatchcase(name, head)):
            if stat.S_ISDIR(entry.st_mode or 0) and not name.startswith(".") and path not in skip:
                deeper = parts if head == "**" else rest
                yield from _glob(path, (*relative, name), deeper, listing, skip, yielded)
        elif not rest and fnmatch.fnmatchcase(name, head):
            key = "/".join((*relative, name))
            if key not in yielded:
                yielded.add(key)
                yield key, path, entry
