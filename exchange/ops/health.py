"""Liveness and readiness: is the process up, and could it do its work now?

`/healthz` answers while the process runs (a load balancer or Kubernetes restarts what
stops answering). `/readyz` checks what a step needs before it can do anything: the state
database answers, its schema is at the revision this GovBus expects (readiness never
migrates: `govbus db upgrade` is an operator's decision), and the keys are there (the
master key, and the current signing key the ledger is signed with). Readiness reads and
creates nothing: a bus opened on an empty key folder would create new keys, and a worker
that does that on a restored machine would sign with a key no auditor knows.

A check's `detail` is safe to show to an unauthenticated caller: it names the check and
the error's class, never a URL, a path or a secret.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from exchange import state
from exchange.state.settings import Settings
from govbus.errors import GovBusError

__all__ = ["Check", "Readiness", "readiness"]

_KEY_ID = re.compile(r"^[0-9a-f]{16}$")


@dataclass(frozen=True)
class Check:
    """One readiness check: its name, whether it passed, and a detail safe to show."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Readiness:
    """Every check, in order; ready when all passed."""

    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return all(c.ok for c in self.checks)

    def to_json(self) -> dict[str, object]:
        """The `/readyz` body."""
        return {
            "status": "ready" if self.ok else "not ready",
            "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in self.checks},
        }


def readiness(settings: Settings | None = None) -> Readiness:
    """Check the state database (reachable, migrations current) and the keys."""
    settings = settings or Settings.from_env()
    checks = list(_database(settings.state_url))
    checks.append(_keys(settings.keys_dir))
    return Readiness(tuple(checks))


def _database(url: str) -> list[Check]:
    if url.startswith("sqlite"):  # connecting would create an empty file
        path = sa.make_url(url).database or ""
        if path and path != ":memory:" and not Path(path).is_file():
            return [
                Check("state_database", False, "the SQLite state database file does not exist"),
                Check("migrations", False, "not checked: the state database does not answer"),
            ]
    engine = state.make_engine(url)
    try:
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except Exception as exc:
            return [
                Check("state_database", False, f"cannot connect ({type(exc).__name__})"),
                Check("migrations", False, "not checked: the state database does not answer"),
            ]
        reachable = Check("state_database", True, "answers")
        try:
            state.migrate.check(engine)
        except GovBusError:
            current = _current(engine)
            at = f"at {current}" if current else "not migrated"
            detail = f"{at}, this GovBus expects {state.migrate.head()}: run `govbus db upgrade`"
            return [reachable, Check("migrations", False, detail)]
        return [reachable, Check("migrations", True, f"at {state.migrate.head()}")]
    finally:
        engine.dispose()


def _current(engine: sa.Engine) -> str | None:
    try:
        return state.migrate.current(engine)
    except Exception:
        return None


def _keys(keys_dir: Path) -> Check:
    """The master key (environment or file) and the current signing key's file, as `KeyStore` reads them."""
    master_env = os.environ.get("GOVBUS_MASTER_KEY", "").strip()
    if not master_env and not (keys_dir / "master.key").is_file():
        return Check("keys", False, "no master key (GOVBUS_MASTER_KEY or master.key in the key folder)")
    current = keys_dir / "signing.current"
    try:
        key_id = current.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return Check("keys", False, "no current signing key (signing.current in the key folder)")
    if not _KEY_ID.match(key_id) or not (keys_dir / f"signing-{key_id}.pem").is_file():
        return Check("keys", False, "signing.current names no signing key file")
    return Check("keys", True, f"master key and signing key {key_id}")
