"""The tamper-evident ledger: a signed hash chain of what left the bus, to whom and why.

What a caller must know:

* `append(conn, kind, payload)` writes inside the caller's transaction, so an entry
  commits together with the checkpoint it describes (or not at all).
* Payloads are stored as canonical JSON and are readable by auditors and, through
  receipts, by citizens: callers must put no raw identifier, personal value or secret in
  them — only ids of batches/consents, audit pseudonyms, counts, field names, Merkle roots.
* entry_hash = SHA-256 over (seq, at, kind, payload, prev_hash), each length-prefixed;
  the signature is Ed25519 over the 32 hash bytes. Entry 1's prev_hash is 64 zeros.
* Two writers never fork the chain: `seq` is the primary key, and on PostgreSQL appends
  serialize on a transaction-scoped advisory lock (MySQL/MariaDB: SELECT ... FOR UPDATE).
  On SQLite a racing writer gets a TransientError (retry its transaction).
* Deleting the newest entries leaves a valid shorter chain; pass a head recorded
  elsewhere (`expected_head=(seq, entry_hash)`, e.g. a published checkpoint) to catch it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from consent.instants import iso_utc, utc_now
from consent.keys import key_id_of
from consent.tables import ledger as ledger_table
from govbus.errors import BadConfiguration, BadInput, FatalError, TransientError

if TYPE_CHECKING:
    from consent.keys import KeyStore

GENESIS_HASH = "0" * 64
_KIND = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
_LOCK_ID = int.from_bytes(hashlib.sha256(b"govbus.consent.ledger").digest()[:8], "big",
                          signed=True)
_PAGE = 1000


def canonical_json(payload: Mapping[str, Any]) -> str:
    """The one JSON text of a payload: sorted keys, no spaces, UTF-8, no NaN."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def compute_entry_hash(seq: int, at: datetime, kind: str, payload: str, prev_hash: str) -> str:
    """SHA-256 (hex) of the length-prefixed fields of an entry."""
    digest = hashlib.sha256(b"govbus-ledger-v1")
    for part in (str(seq), iso_utc(at), kind, payload, prev_hash):
        data = part.encode("utf-8")
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


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


@dataclass
class VerifyReport:
    """Outcome of `Ledger.verify`: every problem names the seq it is about."""

    ok: bool
    entries: int
    problems: list[tuple[int, str]] = field(default_factory=list)
    head_seq: int | None = None
    head_hash: str | None = None

    def raise_if_broken(self) -> None:
        """Raise FatalError if the ledger is not intact (tampering needs an operator)."""
        if not self.ok:
            seq, text = self.problems[0]
            raise FatalError(f"ledger is not intact: {len(self.problems)} problem(s), first at "
                             f"seq {seq}: {text}", where="ledger",
                             hint="stop deliveries and investigate; run `govbus audit verify`")


def _entry(row: Any) -> LedgerEntry:
    return LedgerEntry(seq=row.seq, at=row.at, kind=row.kind, payload=json.loads(row.payload),
                       prev_hash=row.prev_hash, entry_hash=row.entry_hash, key_id=row.key_id,
                       signature=row.signature)


def _rows(conn: sa.Connection, after_seq: int = 0) -> Iterator[Any]:
    """All rows in seq order, in pages (keyset pagination works on every database).

    A row the database driver cannot even decode (say, a timestamp overwritten with
    garbage) is tampering too: FatalError, not a bare ValueError.
    """
    last = after_seq
    while True:
        try:
            page = conn.execute(sa.select(ledger_table).where(ledger_table.c.seq > last)
                                .order_by(ledger_table.c.seq).limit(_PAGE)).all()
        except (ValueError, TypeError) as exc:
            raise FatalError(f"ledger rows after seq {last} cannot be read (corrupted?)",
                             where="ledger", hint="restore the ledger from a backup and "
                                                  "investigate") from exc
        yield from page
        if len(page) < _PAGE:
            return
        last = page[-1].seq


class Ledger:
    """Append to and verify the `ledger` table. Without a signing key it only verifies."""

    def __init__(self, signing_key: Ed25519PrivateKey | None, key_id: str | None,
                 public_keys: Mapping[str, Ed25519PublicKey]) -> None:
        self._public = dict(public_keys)
        if signing_key is not None:
            if key_id != key_id_of(signing_key.public_key()):
                raise BadConfiguration("key_id does not belong to the signing key",
                                       where="Ledger(key_id)",
                                       hint="pass both parts of KeyStore.signing_key()")
            self._public.setdefault(key_id, signing_key.public_key())
        self._signing = signing_key
        self._key_id = key_id

    def __repr__(self) -> str:
        return f"Ledger(key_id={self._key_id!r}, public_keys={sorted(self._public)!r})"

    @classmethod
    def from_keystore(cls, keystore: KeyStore) -> Ledger:
        """A ledger signing with the keystore's current key, verifying with all of its keys."""
        key, key_id = keystore.signing_key()
        return cls(key, key_id, keystore.public_keys())

    def _lock_and_read_head(self, conn: sa.Connection) -> Any:
        dialect = conn.dialect.name
        query = sa.select(ledger_table.c.seq, ledger_table.c.at, ledger_table.c.entry_hash) \
            .order_by(ledger_table.c.seq.desc()).limit(1)
        if dialect == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:lock_id)"), {"lock_id": _LOCK_ID})
        elif dialect in ("mysql", "mariadb"):
            query = query.with_for_update()
        return conn.execute(query).first()

    def append(self, conn: sa.Connection, kind: str, payload: Mapping[str, Any]) -> LedgerEntry:
        """Append one signed entry in the caller's transaction and return it."""
        if self._signing is None or self._key_id is None:
            raise BadConfiguration("this ledger has no signing key", where="Ledger.append",
                                   hint="build it with Ledger.from_keystore to write")
        if not isinstance(kind, str) or not _KIND.match(kind):
            raise BadInput("ledger entry kind is malformed", where="ledger kind",
                           hint=f"use a name matching {_KIND.pattern}")
        if not isinstance(payload, Mapping):
            raise BadInput("ledger payload must be a mapping", where=f"ledger payload ({kind})")
        try:
            text = canonical_json(payload)
        except (TypeError, ValueError) as exc:
            raise BadInput("ledger payload is not plain JSON (str, int, float, bool, None, "
                           "list, dict; no NaN)", where=f"ledger payload ({kind})",
                           hint="convert datetimes to ISO text and bytes to hex first") from exc
        head = self._lock_and_read_head(conn)
        seq = head.seq + 1 if head is not None else 1
        prev_hash = head.entry_hash if head is not None else GENESIS_HASH
        at = utc_now()
        if head is not None and at < head.at:
            at = head.at  # a clock that stepped back must not reorder the chain
        entry_hash = compute_entry_hash(seq, at, kind, text, prev_hash)
        signature = self._signing.sign(bytes.fromhex(entry_hash)).hex()
        try:
            conn.execute(ledger_table.insert().values(
                seq=seq, at=at, kind=kind, payload=text, prev_hash=prev_hash,
                entry_hash=entry_hash, key_id=self._key_id, signature=signature))
        except sa.exc.IntegrityError as exc:
            raise TransientError("another writer appended to the ledger at the same time",
                                 where="ledger", hint="roll back and retry the transaction") \
                from exc
        return LedgerEntry(seq=seq, at=at, kind=kind, payload=json.loads(text),
                           prev_hash=prev_hash, entry_hash=entry_hash, key_id=self._key_id,
                           signature=signature)

    def head(self, conn: sa.Connection) -> LedgerEntry | None:
        """The newest entry, or None for an empty ledger."""
        row = conn.execute(sa.select(ledger_table).order_by(ledger_table.c.seq.desc())
                           .limit(1)).first()
        return None if row is None else _entry(row)

    def entries(self, conn: sa.Connection, *, after_seq: int = 0, kind: str | None = None,
                limit: int | None = None) -> list[LedgerEntry]:
        """Entries after `after_seq` in order, optionally of one kind (not verified)."""
        query = sa.select(ledger_table).where(ledger_table.c.seq > after_seq)
        if kind is not None:
            query = query.where(ledger_table.c.kind == kind)
        query = query.order_by(ledger_table.c.seq)
        if limit is not None:
            query = query.limit(limit)
        return [_entry(row) for row in conn.execute(query)]

    def _check_signature(self, row: Any) -> str | None:
        public = self._public.get(row.key_id)
        if public is None:
            return "signed by an unknown key id"
        try:
            public.verify(bytes.fromhex(row.signature), bytes.fromhex(row.entry_hash))
        except (InvalidSignature, ValueError):
            return "signature is not valid for its entry hash"
        return None

    def verify(self, conn: sa.Connection, *,
               expected_head: tuple[int, str] | None = None) -> VerifyReport:
        """Check the whole chain: hashes, links, order, signatures, key ids.

        Detects an edited kind/time/payload (hash mismatch), a deleted entry (seq gap),
        reordering (broken links, time going back), forged or foreign signatures, and,
        with `expected_head`, truncation or rewriting up to that known head.
        """
        problems: list[tuple[int, str]] = []
        count, prev_seq, prev_hash, prev_at = 0, 0, GENESIS_HASH, None
        seen_head: str | None = None
        for row in _rows(conn):
            count += 1
            if row.seq != prev_seq + 1:
                missing = (f"entry {prev_seq + 1} is missing" if row.seq == prev_seq + 2 else
                           f"entries {prev_seq + 1} to {row.seq - 1} are missing")
                problems.append((prev_seq + 1, missing + " (deleted?)"))
            elif row.prev_hash != prev_hash:
                problems.append((row.seq, "prev_hash does not match the previous entry "
                                          "(reordered, replaced or removed entries)"))
            if compute_entry_hash(row.seq, row.at, row.kind, row.payload,
                                  row.prev_hash) != row.entry_hash:
                problems.append((row.seq, "content does not match its hash "
                                          "(kind, time or payload edited)"))
            bad_signature = self._check_signature(row)
            if bad_signature:
                problems.append((row.seq, bad_signature))
            if prev_at is not None and row.at < prev_at:
                problems.append((row.seq, "time is earlier than the previous entry (reordered?)"))
            if expected_head is not None and row.seq == expected_head[0]:
                seen_head = row.entry_hash
            prev_seq, prev_hash, prev_at = row.seq, row.entry_hash, row.at
        if expected_head is not None:
            if seen_head is None:
                problems.append((expected_head[0], "known head entry is missing "
                                                   "(ledger truncated?)"))
            elif seen_head != expected_head[1]:
                problems.append((expected_head[0], "entry differs from the known head hash"))
        return VerifyReport(ok=not problems, entries=count, problems=problems,
                            head_seq=prev_seq if count else None,
                            head_hash=prev_hash if count else None)
