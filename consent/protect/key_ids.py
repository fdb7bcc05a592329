"""Current key ids of derived keys (pseudonym, linkage, reversible-field keys).

Derived keys are not stored: a key is HKDF(master, label, context..., key id), so a key
id is all that must be remembered. `<keys dir>/derived-keys.json` maps a scope such as
`pseudonym/statistics/OFFICIAL_STATISTICS` to its current id (`k1` when absent).

Rotating a derived key is an explicit act (`govbus keys rotate --pseudonyms RECIPIENT
PURPOSE`) because it *breaks linkage*: after it, the same person gets a new pseudonym
for that recipient, who can no longer join new deliveries to old ones. Pseudonyms are
therefore stable across runs and across rotations of the *signing* key; they change
only when their own key id is bumped. Old ids stay derivable (the master key is the
same), so the bus can still recompute an old pseudonym for an auditor.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

from govbus.errors import BadConfiguration

FILE = "derived-keys.json"
FIRST = "k1"
_ID = re.compile(r"^k([1-9][0-9]{0,5})$")
_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def scope_name(label: str, *context: str) -> str:
    """`label/context/...`, every part checked (they are also HKDF inputs)."""
    for part in (label, *context):
        if not isinstance(part, str) or not _PART.match(part):
            raise BadConfiguration(
                "a key scope part is malformed",
                where="derived key scope",
                hint=f"use names matching {_PART.pattern}",
            )
    return "/".join((label, *context))


class DerivedKeyIds:
    """Read and bump the current ids in `<directory>/derived-keys.json`."""

    def __init__(self, directory: Path) -> None:
        self._path = Path(directory) / FILE

    def all(self) -> dict[str, str]:
        """Every scope whose id was rotated at least once, with its current id."""
        if not self._path.exists():
            return {}
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None
        if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and _ID.match(v) for k, v in data.items()
        ):
            raise BadConfiguration(
                "derived key ids file is malformed",
                where=str(self._path),
                hint='it maps scopes to ids like "k2"; restore it from backup',
            )
        return data

    def current(self, scope: str) -> str:
        """The id in use for `scope` (k1 until rotated)."""
        return self.all().get(scope, FIRST)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self._path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(self._path.parent / f".{FILE}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def rotate(self, scope: str) -> str:
        """Bump `scope` to its next id (k1 → k2 ...) and return it."""
        with self._locked():
            ids = self.all()
            match = _ID.match(ids.get(scope, FIRST))
            assert match is not None
            ids[scope] = f"k{int(match.group(1)) + 1}"
            fd, tmp = tempfile.mkstemp(prefix=f".{FILE}.", dir=self._path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(ids, handle, sort_keys=True, indent=1)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self._path)
            return ids[scope]
