"""Where GovBus keeps its state, and how an operator moves it.

Everything a run writes lives under one home folder (`.govbus/` in the working
directory by default, `GOVBUS_HOME` to move it). The state database defaults to a
SQLite file in that home; `GOVBUS_STATE_URL` points it at PostgreSQL in production.
The home's path is percent-quoted into that URL (SQLAlchemy unquotes URLs: a home
holding `%2F` must not open another file). Connectors read and write only under the
home, the catalog folder (files kept next to a contract) and the folders an operator
lists in `GOVBUS_ALLOWED_ROOTS` (absolute, separated by `os.pathsep`).
The catalog is read from `GOVBUS_CATALOG`, else `./catalog`, else the catalog that
ships next to this package (the sample deployment).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from govbus.errors import BadConfiguration

_PACKAGED_CATALOG = Path(__file__).resolve().parents[2] / "catalog"  # the repository's catalog/


@dataclass(frozen=True)
class Settings:
    """Resolved locations; build with `Settings.from_env()` unless a test needs others."""

    home: Path
    state_url: str
    catalog_dir: Path
    batch_size: int = 50_000
    lock_timeout: float = 600.0  # seconds a step waits for another worker running the same step
    staging_url: str = ""  # GOVBUS_STAGING_URL: an fsspec location for stages; "" = staging_dir
    allowed_roots: tuple[Path, ...] = ()  # GOVBUS_ALLOWED_ROOTS: more folders connectors may use

    @property
    def staging_dir(self) -> Path:
        """Where staged segments are kept when GOVBUS_STAGING_URL is not set."""
        return self.home / "staging"

    @property
    def keys_dir(self) -> Path:
        """The keystore's folder (master key file, signing keys, derived key ids)."""
        return self.home / "keys"

    @property
    def agencies_dir(self) -> Path:
        """Where the sample deployment's agency systems (SQLite files, folders) live."""
        return self.home / "agencies"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Settings from GOVBUS_HOME, _STATE_URL, _CATALOG, _BATCH_SIZE and _STAGING_URL (checked)."""
        env = dict(os.environ if env is None else env)
        home = Path(env.get("GOVBUS_HOME") or ".govbus").expanduser().resolve()
        state_url = env.get("GOVBUS_STATE_URL") or sqlite_url(home / "state.db")
        if env.get("GOVBUS_CATALOG"):
            catalog_dir = Path(env["GOVBUS_CATALOG"]).expanduser().resolve()
        elif (Path.cwd() / "catalog" / "agencies.yaml").is_file():
            catalog_dir = (Path.cwd() / "catalog").resolve()
        else:
            catalog_dir = _PACKAGED_CATALOG
        raw_batch = env.get("GOVBUS_BATCH_SIZE", "50000")
        try:
            batch_size = int(raw_batch)
            if batch_size <= 0:
                raise ValueError
        except ValueError:
            raise BadConfiguration(
                "must be a positive whole number of rows",
                where="environment variable GOVBUS_BATCH_SIZE",
                hint="unset it to use 50000",
            ) from None
        return cls(
            home=home,
            state_url=state_url,
            catalog_dir=catalog_dir,
            batch_size=batch_size,
            staging_url=env.get("GOVBUS_STAGING_URL", "").strip(),
            allowed_roots=_allowed_roots(env.get("GOVBUS_ALLOWED_ROOTS")),
        )

    def ensure_dirs(self) -> None:
        """Create GOVBUS_HOME's folders (the keystore's with mode 0700)."""
        for path in (self.home, self.staging_dir, self.agencies_dir):
            path.mkdir(parents=True, exist_ok=True)
        self.keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of the SQLite file at `path`, its characters percent-quoted.

    SQLAlchemy unquotes the database part of a URL, so `%2F` in a folder name would
    otherwise name another path (and `?` or `#` cut it short).
    """
    if "\x00" in str(path):
        raise BadConfiguration("holds a NUL character", where="environment variable GOVBUS_HOME")
    return "sqlite:///" + quote(str(path), safe="/:\\")


def _allowed_roots(text: str | None) -> tuple[Path, ...]:
    """GOVBUS_ALLOWED_ROOTS: absolute folders separated by os.pathsep."""
    roots = []
    for i, item in enumerate((text or "").split(os.pathsep)):
        item = item.strip()
        if not item:
            continue
        if not Path(item).is_absolute():
            raise BadConfiguration(
                f"entry {i + 1} is not an absolute path",
                where="environment variable GOVBUS_ALLOWED_ROOTS",
                hint=f"list absolute folders separated by '{os.pathsep}'",
            )
        roots.append(Path(item))
    return tuple(roots)
