"""Connector settings from the catalog, made ready for a run: `${VARS}` expanded, paths confined.

A catalog never holds a secret: connector settings reference `${ENV_VARS}`, expanded
when a connector is built (`expand_settings`). A missing variable is an error naming the
setting, never a silent empty string (which would, say, point a sink at the filesystem
root).

Then every local path the connector will read or write (`connectors.local_paths`: drop
folders, archive folders, files, copybooks, SQLite databases) is resolved — `..` and
symlinks included — and must lie under an allowed root (`connectors.confine_settings`):

* `GOVBUS_HOME` (as the bus sets it in the environment it expands from);
* for a dataset's source, its own folder in the catalog (`${DATASET_DIR}`: files kept
  next to the contract, such as a copybook);
* the folders an operator lists in `GOVBUS_ALLOWED_ROOTS` (absolute, `os.pathsep`).

A relative path resolves against the catalog folder, never the process's current one:
a subscription's sink remembers the folder its file was read from (`CatalogSettings`),
a source resolves against the catalog holding `${DATASET_DIR}`. `${GOVBUS_HOME}` and
`${DATASET_DIR}` put into a SQLite URL are percent-quoted, so a folder name holding `%2F`
cannot make the URL name another file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import connectors
from govbus.errors import BadConfiguration

__all__ = ["CatalogSettings", "expand_settings", "path_rules"]

VAR = re.compile(r"\$\{([^}]*)\}")
_PATH_VARIABLES = ("GOVBUS_HOME", "DATASET_DIR")


class CatalogSettings(dict[str, Any]):
    """Connector settings as a catalog file declares them, remembering `folder`: the
    catalog folder their relative paths resolve against, and `lines`: the line of each
    setting (for messages). Compares and hashes as the plain mapping (where it was read
    is not what it says)."""

    folder: Path | None
    lines: dict[str, int]

    def __init__(self, values: Mapping[str, Any], folder: Path | None) -> None:
        super().__init__(values)
        self.folder = folder
        self.lines = dict(getattr(values, "lines", {}))


def expand_settings(
    settings: Mapping[str, Any],
    *,
    env: Mapping[str, str] | None = None,
    where: str = "settings",
    rules: connectors.PathRules | None = None,
) -> dict[str, Any]:
    """`settings` with `${NAME}` replaced by the environment variable NAME and every local
    path confined (see the module doc); `BadConfiguration` naming `where` and the setting.

    `rules` default to `path_rules(env)`, with the settings' own catalog folder (a
    `CatalogSettings`) as the base of relative paths.
    """
    env = os.environ if env is None else env
    out: dict[str, Any] = {}
    for key, value in settings.items():
        out[key] = _expanded(value, key, env, where, sqlite=key == "url") if isinstance(value, str) else value
    if rules is None:
        rules = path_rules(env, base=getattr(settings, "folder", None))
    try:
        return connectors.confine_settings(out, rules)
    except BadConfiguration as exc:
        raise BadConfiguration(exc.message, where=f"{where}: {exc.where}", hint=exc.hint) from None


def _expanded(value: str, key: str, env: Mapping[str, str], where: str, *, sqlite: bool) -> str:
    quoting = sqlite and value.startswith("sqlite")

    def repl(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise BadConfiguration(
                f"environment variable {name} is not set",
                where=f"{where}: {key}",
                hint=f"export {name}=... before running",
            )
        found = env[name]
        return quote(found, safe="/:\\") if quoting and name in _PATH_VARIABLES else found

    return VAR.sub(repl, value)


def path_rules(
    env: Mapping[str, str], *, base: Path | None = None, extra: tuple[Path, ...] = ()
) -> connectors.PathRules:
    """The allowed roots an environment gives (module doc), plus `extra`; relative paths
    resolve against `base`, else against the catalog holding `DATASET_DIR` (if set)."""
    roots: list[str | Path] = [*extra]
    if env.get("GOVBUS_HOME"):
        roots.append(env["GOVBUS_HOME"])
    roots += connectors.allowed_roots(env.get(connectors.ALLOWED_ROOTS_ENV))
    dataset_dir = env.get("DATASET_DIR")
    if dataset_dir:
        roots.append(dataset_dir)
        folder = Path(dataset_dir)
        if base is None and folder.parent.name == "datasets":
            base = folder.parent.parent
    return connectors.PathRules.of(roots, base)
