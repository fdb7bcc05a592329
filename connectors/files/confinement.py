"""Where a connector may read and write on the local disk: inside allowed roots only.

A catalog names folders and files (a drop folder, an archive folder, a copybook, a
SQLite database, a sink's directory). Reviewed or not, a setting must not make the bus
read `/etc/passwd` for a recipient or write a delivery outside its home. `PathRules`
holds the allowed roots (the caller chooses them: `GOVBUS_HOME`, the catalog folder for
files kept next to a contract, and the roots an operator lists in
`GOVBUS_ALLOWED_ROOTS`) and the folder relative paths resolve against (the catalog
folder, never the process's current folder). `place` resolves a path — `..` and
symlinks included, with the same `os.path.realpath` the file system will use — and
refuses it unless it lies inside a root.

Hard links cannot be seen from a path: the drop-folder source refuses files with more
than one name (`connectors.files.drop_folder`), and `ParquetSource` a linked file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from govbus.errors import BadConfiguration

ALLOWED_ROOTS_ENV = "GOVBUS_ALLOWED_ROOTS"
"""The environment variable listing extra allowed roots (absolute, `os.pathsep`-separated)."""


@dataclass(frozen=True)
class PathRules:
    """Allowed roots (resolved) and the folder relative paths resolve against (or None)."""

    roots: tuple[Path, ...]
    base: Path | None = None

    @classmethod
    def of(
        cls, roots: Iterable[str | os.PathLike[str]], base: str | os.PathLike[str] | None = None
    ) -> PathRules:
        """Rules for these roots (resolved now; empty entries ignored) and base."""
        resolved = tuple(dict.fromkeys(Path(os.path.realpath(root)) for root in roots if str(root)))
        return cls(resolved, Path(os.path.realpath(base)) if base is not None else None)

    def shown(self) -> str:
        """The roots, for a hint."""
        return ", ".join(str(root) for root in self.roots) or "none"

    def place(self, value: object, setting: str, *, relative_to: Path | None = None) -> Path:
        """The resolved path `value` names; `BadConfiguration` naming `setting` unless it
        lies inside a root. A relative path resolves against `relative_to` (default: the
        base); without one it is refused."""
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        if not isinstance(value, str) or not value.strip() or "\x00" in value:
            raise BadConfiguration("must be a path", where=setting)
        path = Path(value)
        anchor = relative_to or self.base
        if not path.is_absolute():
            if anchor is None:
                raise BadConfiguration(
                    "is a relative path, and no catalog folder is known to resolve it against",
                    where=setting,
                    hint="write it as an absolute path or under ${GOVBUS_HOME}",
                )
            path = anchor / path
        resolved = Path(os.path.realpath(path))
        if not any(resolved == root or root in resolved.parents for root in self.roots):
            raise BadConfiguration(
                "resolves outside the folders the bus may use (after '..' and symlinks)",
                where=setting,
                hint=f"keep it under one of: {self.shown()}; an operator may allow more folders "
                f"in {ALLOWED_ROOTS_ENV}",
            )
        return resolved


def allowed_roots(text: str | None, where: str = ALLOWED_ROOTS_ENV) -> tuple[Path, ...]:
    """The roots listed in `text` (`os.pathsep`-separated); each must be an absolute path."""
    roots = []
    for i, item in enumerate((text or "").split(os.pathsep)):
        item = item.strip()
        if not item:
            continue
        if not Path(item).is_absolute() or "\x00" in item:
            raise BadConfiguration(
                f"entry {i + 1} is not an absolute path",
                where=where,
                hint=f"list absolute folders separated by '{os.pathsep}'",
            )
        roots.append(Path(item))
    return tuple(roots)
