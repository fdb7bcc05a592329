"""Which contracts last passed the schema checks, by digest, so `Bus.open` need not re-run them.

Every command that opens the bus reads the catalog, and reading a contract checks it
against its Avro schema: each expectation is tried on an empty batch of the schema's
column types and the newest schema version is checked against the older ones. Building
the Arrow values of that trial makes pyarrow import pandas, about a second of a
command's start-up, for a verdict that only changes when the contract, its schemas or
GovBus itself changes. So the bus keeps the verdict: a small JSON file in its home
(`catalog-lint.json`) holds, per contract file, the digest of the last inputs that
passed. What a caller must know:

* only a clean verdict is kept. A contract whose checks found anything is checked again
  at every read, so its problems are always reported;
* the digest (`contract_digest`) covers every input of the skipped checks: the contract
  file, each `schema/v*.avsc` beside it, and the code and libraries that judge them
  (the sources of `contracts`, `schemas` and the kernel, this room's reader, and the
  versions of Python, pyarrow, fastavro and avro). Any change is a miss, and the
  contract is checked in full;
* the structural lint of the contract, its references to other datasets and the
  catalog's own rules run at every read whatever the cache says (they are cheap, and
  the references read other contracts, which the digest does not cover);
* a missing, unreadable or malformed file is an empty cache (the checks run, and a
  good file is written); the file is replaced atomically, so concurrent commands at
  worst each check and write the same verdicts;
* anyone who can write the GovBus home can make the bus skip these checks: the home
  also holds the state database and the signing keys, so it must be private anyway.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

import contracts
import govbus
import schemas

log = logging.getLogger("govbus.exchange")

__all__ = ["FILE_NAME", "LintCache", "contract_digest"]

FILE_NAME = "catalog-lint.json"
_FORMAT = "govbus-contract-lint/1"


class LintCache:
    """The clean verdicts kept in one JSON file; `save` writes them back when they changed.

    `LintCache(None)` keeps nothing: every contract is checked (what `govbus check`
    and a catalog read without a GovBus home get).
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._clean: dict[str, str] = _read(path) if path is not None else {}
        self._changed = False

    def is_clean(self, contract_path: Path, digest: str) -> bool:
        """Whether the contract at `contract_path` passed the checks with these very inputs."""
        return self.path is not None and self._clean.get(_key(contract_path)) == digest

    def passed(self, contract_path: Path, digest: str) -> None:
        """Record that the contract passed the checks with the inputs of `digest`."""
        key = _key(contract_path)
        if self.path is not None and self._clean.get(key) != digest:
            self._clean[key] = digest
            self._changed = True

    def save(self) -> None:
        """Write the verdicts if any changed; a home that cannot be written is only logged."""
        if self.path is None or not self._changed:
            return
        text = json.dumps({"format": _FORMAT, "clean": dict(sorted(self._clean.items()))}, indent=1)
        scratch: Path | None = None
        try:
            handle, name = tempfile.mkstemp(prefix=f".{FILE_NAME}.", dir=self.path.parent)
            scratch = Path(name)
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text + "\n")
            os.replace(scratch, self.path)
        except OSError as exc:  # the verdicts are an optimization: the next read checks again
            log.warning("could not keep the contract lint verdicts in %s: %s", self.path, exc.strerror)
            if scratch is not None:
                scratch.unlink(missing_ok=True)
            return
        self._changed = False


def contract_digest(contract_path: Path) -> str:
    """SHA-256 of what the schema checks of the contract at `contract_path` read.

    The contract file, each `schema/v*.avsc` of its folder (name and bytes) and the
    judging code's fingerprint. A file that cannot be read gives a digest no verdict
    holds (its checks then run and report it).
    """
    digest = hashlib.sha256(_code_fingerprint().encode())
    schema_files = sorted(contract_path.parent.glob("schema/v*.avsc"))
    for path in (contract_path, *schema_files):
        try:
            content = path.read_bytes()
        except OSError:
            return "unreadable"
        name = path.name if path == contract_path else f"schema/{path.name}"
        digest.update(f"\0{name}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()


@functools.cache
def _code_fingerprint() -> str:
    """What judges a contract: the sources of the packages behind the checks and the
    versions of the libraries they call (a changed rule must not keep an old verdict)."""
    import avro
    import fastavro
    import pyarrow

    digest = hashlib.sha256(_FORMAT.encode())
    versions = (sys.version, pyarrow.__version__, fastavro.__version__, getattr(avro, "__version__", "?"))
    digest.update("\0".join(versions).encode())
    here = Path(__file__).parent
    sources = [here / "loader.py", Path(__file__)]
    for package in (contracts, schemas, govbus):
        folder = Path(package.__file__).parent
        sources += sorted(p for p in folder.rglob("*") if p.suffix in (".py", ".json", ".c"))
    for path in sources:
        digest.update(f"\0{path.name}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _key(contract_path: Path) -> str:
    return str(contract_path.resolve())


def _read(path: Path) -> dict[str, str]:
    """The verdicts in `path`; anything but a well-formed file of this format is none."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    if not isinstance(document, dict) or document.get("format") != _FORMAT:
        return {}
    clean = document.get("clean")
    if not isinstance(clean, dict):
        return {}
    return {k: v for k, v in clean.items() if isinstance(k, str) and isinstance(v, str)}
