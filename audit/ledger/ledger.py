"""The tamper-evident ledger: a signed hash chain of what left the bus, to whom and why.

What a caller must know:

* `append(conn, kind, payload)` (and `append_entry(conn, record)` for the typed records
  of `audit.entries`) writes inside the caller's transaction, so an entry
  commits together with the checkpoint it describes (or not at all).
* Payloads are stored as canonical JSON and are readable by auditors and, through
  receipts, by citizens: callers must put no raw identifier, personal value or secret in
  them — only ids of batches/consents, audit pseudonyms, counts, field names, Merkle roots.
* entry_hash = SHA-256 over (seq, at, kind, payload, prev_hash), each length-prefixed;
  the signature is Ed25519 over the 32 hash bytes. Entry 1's prev_hash is 64 zeros.
* Two writers never fork the chain: `seq` is the primary key, and on PostgreSQL appends
  serialize on a transaction-scoped advisory lock (MySQL/MariaDB: SELECT ... FOR UPDATE).
  On SQLite a racing writer gets a TransientError (retry its transaction).
* Deleting the newest entries leaves a valid shorter chain: signed checkpoints
  (`checkpoint(conn)`, RFC 6962 tree heads, see `audit.ledger.checkpoints`) catch it, and so
  does a head recorded elsewhere (`expected_head=(seq, entry_hash)`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from audit.entries import EntryPayload
from audit.ledger.chain import (
    GENESIS_HASH,
    ChainCheck,
    VerifyReport,
    compute_entry_hash,
    signature_problem,
)
from audit.ledger.checkpoints import DEFAULT_NOTE_ORIGIN, Checkpoint, read_checkpoints, write_checkpoint
from audit.ledger.tiles import read_tiles
from audit.signatures import KeySource, canonical_json, key_id_of
from audit.tables import ledger as ledger_table
from govbus.errors import BadConfiguration, BadInput, FatalError, TransientError
from govbus.instants import utc_now

_KIND = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
_LOCK_ID = int.from_bytes(hashlib.sha256(b"govbus.consent.ledger").digest()[:8], "big", signed=True)
_PAGE = 1000


@dataclass(frozen=True)
class LedgerEntry:
    """One ledger entry as stored (payload parsed back to a dict)."""

    seq: int
    at: datetime
    kind: str
    payload: dict[str, Any]
    prev_hash: str
    entry_hash: str
    key_id: str
    signature: str


def _entry(row: Any) -> LedgerEntry:
    return LedgerEntry(
        seq=row.seq,
        at=row.at,
        kind=row.kind,
        payload=json.loads(row.payload),
        prev_hash=row.prev_hash,
        entry_hash=row.entry_hash,
        key_id=row.key_id,
        signature=row.signature,
    )


def stored_rows(conn: sa.Connection, after_seq: int = 0) -> Iterator[Any]:
    """All rows in seq order, in pages (keyset pagination works on every database).

    A row the database driver cannot even decode (say, a timestamp overwritten with
    garbage) is tampering too: FatalError, not a bare ValueError.
    """
    last = after_seq
    while True:
        try:
            page = conn.execute(
                sa.select(ledger_table)
                .where(ledger_table.c.seq > last)
                .order_by(ledger_table.c.seq)
                .limit(_PAGE)
            ).all()
        except (ValueError, TypeError) as exc:
            raise FatalError(
                f"ledger rows after seq {last} cannot be read (corrupted?)",
                where="ledger",
                hint="restore the ledger from a backup and investigate",
            ) from exc
        yield from page
        if len(page) < _PAGE:
            return
        last = page[-1].seq


class Ledger:
    """Append to and verify the `ledger` table. Without a signing key it only verifies."""

    def __init__(
        self,
        signing_key: Ed25519PrivateKey | None,
        key_id: str | None,
        public_keys: Mapping[str, Ed25519PublicKey],
        origin: str = DEFAULT_NOTE_ORIGIN,
    ) -> None:
        self._public = dict(public_keys)
        self.origin = origin  # the origin line (and key name) of the checkpoints' signed notes
        if signing_key is not None:
            if key_id != key_id_of(signing_key.public_key()):
                raise BadConfiguration(
                    "key_id does not belong to the signing key",
                    where="Ledger(key_id)",
                    hint="pass both parts of KeyStore.signing_key()",
                )
            self._public.setdefault(key_id, signing_key.public_key())
        self._signing = signing_key
        self._key_id = key_id

    def __repr__(self) -> str:
        return f"Ledger(key_id={self._key_id!r}, public_keys={sorted(self._public)!r})"

    @classmethod
    def from_keystore(cls, keystore: KeySource) -> Ledger:
        """A ledger signing with the keystore's current key, verifying with all of its keys."""
        key, key_id = keystore.signing_key()
        return cls(key, key_id, keystore.public_keys())

    def _lock_and_read_head(self, conn: sa.Connection) -> Any:
        dialect = conn.dialect.name
        query = (
            sa.select(ledger_table.c.seq, ledger_table.c.at, ledger_table.c.entry_hash)
            .order_by(ledger_table.c.seq.desc())
            .limit(1)
        )
        if dialect == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:lock_id)"), {"lock_id": _LOCK_ID})
        elif dialect in ("mysql", "mariadb"):
            query = query.with_for_update()
        return conn.execute(query).first()

    def append(self, conn: sa.Connection, kind: str, payload: Mapping[str, Any]) -> LedgerEntry:
        """Append one signed entry in the caller's transaction and return it."""
        if self._signing is None or self._key_id is None:
            raise BadConfiguration(
                "this ledger has no signing key",
                where="Ledger.append",
                hint="build it with Ledger.from_keystore to write",
            )
        if not isinstance(kind, str) or not _KIND.match(kind):
            raise BadInput(
                "ledger entry kind is malformed",
                where="ledger kind",
                hint=f"use a name matching {_KIND.pattern}",
            )
        if not isinstance(payload, Mapping):
            raise BadInput("ledger payload must be a mapping", where=f"ledger payload ({kind})")
        try:
            text = canonical_json(payload)
        except (TypeError, ValueError) as exc:
            raise BadInput(
                "ledger payload is not plain JSON (str, int, float, bool, None, list, dict; no NaN)",
                where=f"ledger payload ({kind})",
                hint="convert datetimes to ISO text and bytes to hex first",
            ) from exc
        head = self._lock_and_read_head(conn)
        seq = head.seq + 1 if head is not None else 1
        prev_hash = head.entry_hash if head is not None else GENESIS_HASH
        at = utc_now()
        if head is not None and at < head.at:
            at = head.at  # a clock that stepped back must not reorder the chain
        entry_hash = compute_entry_hash(seq, at, kind, text, prev_hash)
        signature = self._signing.sign(bytes.fromhex(entry_hash)).hex()
        try:
            conn.execute(
                ledger_table.insert().values(
                    seq=seq,
                    at=at,
                    kind=kind,
                    payload=text,
                    prev_hash=prev_hash,
                    entry_hash=entry_hash,
                    key_id=self._key_id,
                    signature=signature,
                )
            )
        except sa.exc.IntegrityError as exc:
            raise TransientError(
                "another writer appended to the ledger at the same time",
                where="ledger",
                hint="roll back and retry the transaction",
            ) from exc
        return LedgerEntry(
            seq=seq,
            at=at,
            kind=kind,
            payload=json.loads(text),
            prev_hash=prev_hash,
            entry_hash=entry_hash,
            key_id=self._key_id,
            signature=signature,
        )

    def append_entry(self, conn: sa.Connection, entry: EntryPayload) -> LedgerEntry:
        """Append a typed record (`audit.DeliveryEntry`, ...) under its own kind; see `append`.

        The stored payload is `entry.to_payload()`, byte for byte what the untyped
        payloads of that kind always were.
        """
        return self.append(conn, entry.KIND, entry.to_payload())

    def head(self, conn: sa.Connection) -> LedgerEntry | None:
        """The newest entry, or None for an empty ledger."""
        row = conn.execute(sa.select(ledger_table).order_by(ledger_table.c.seq.desc()).limit(1)).first()
        return None if row is None else _entry(row)

    def entries(
        self, conn: sa.Connection, *, after_seq: int = 0, kind: str | None = None, limit: int | None = None
    ) -> list[LedgerEntry]:
        """Entries after `after_seq` in order, optionally of one kind (not verified)."""
        query = sa.select(ledger_table).where(ledger_table.c.seq > after_seq)
        if kind is not None:
            query = query.where(ledger_table.c.kind == kind)
        query = query.order_by(ledger_table.c.seq)
        if limit is not None:
            query = query.limit(limit)
        return [_entry(row) for row in conn.execute(query)]

    def _check_signature(self, row: Any) -> str | None:
        return signature_problem(self._public, row)

    def checkpoint(self, conn: sa.Connection) -> Checkpoint:
        """Sign and store the current tree head (size, root, time) in the caller's transaction.

        Serializes with appends (same lock), so the head it signs is a real prefix.
        """
        if self._signing is None or self._key_id is None:
            raise BadConfiguration(
                "this ledger has no signing key",
                where="Ledger.checkpoint",
                hint="build it with Ledger.from_keystore to write",
            )
        self._lock_and_read_head(conn)
        return write_checkpoint(conn, self._signing, self._key_id, self.origin)

    def verify(
        self,
        conn: sa.Connection,
        *,
        expected_head: tuple[int, str] | None = None,
        now: datetime | None = None,
    ) -> VerifyReport:
        """Check the whole chain (hashes, links, order, signatures, key ids) and checkpoints.

        Detects an edited kind/time/payload (hash mismatch), a deleted entry (seq gap),
        reordering (broken links, time going back), forged or foreign signatures; every
        checkpoint's signature, root and consistency with the one before (which catches
        entries removed from the end); with `expected_head`, truncation or rewriting up
        to that known head. The tree is rebuilt from the entries, never read from the
        stored tiles; a tile that disagrees with it is a problem too (proofs built from it
        would fail). Delivery entries no checkpoint covers, where every run signs one, are
        problems too (`audit.ledger.coverage`), judged as of `now` (default: this instant).
        """
        chain = ChainCheck(self._public, expected_head)
        for row in stored_rows(conn):
            chain.feed(row)
        return chain.finish(read_checkpoints(conn), read_tiles(conn), now=now)
