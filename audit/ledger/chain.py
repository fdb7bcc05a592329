"""Verifying a ledger's hash chain entry by entry: shared by the database and bundle verifiers.

entry_hash = SHA-256 over (seq, at, kind, payload, prev_hash), each length-prefixed, after
the domain tag `govbus-ledger-v1`; the signature is Ed25519 over the 32 hash bytes.
Entry 1's prev_hash is 64 zeros. `ChainCheck` needs no database: feed it rows in seq order
(from `ledger` or from an exported bundle) and it names every problem by seq, collects
the RFC 6962 leaves and checks the checkpoints against them, and that the checkpoints
cover the delivery entries as every run guarantees (`audit.ledger.coverage`: a
rollback of entries together with their checkpoints).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit.ledger.checkpoints import Checkpoint, check_checkpoints
from audit.ledger.coverage import UNCOVERED_LIMIT, DeliveryTimes, coverage_problems
from audit.ledger.tiles import tile_problems
from audit.ledger.tree import LedgerTree, entry_leaf_hash
from govbus.errors import FatalError
from govbus.instants import iso_utc, utc_now

GENESIS_HASH = "0" * 64


def compute_entry_hash(seq: int, at: datetime, kind: str, payload: str, prev_hash: str) -> str:
    """SHA-256 (hex) of the length-prefixed fields of an entry."""
    digest = hashlib.sha256(b"govbus-ledger-v1")
    for part in (str(seq), iso_utc(at), kind, payload, prev_hash):
        data = part.encode("utf-8")
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


@dataclass
class VerifyReport:
    """Outcome of `Ledger.verify`: every problem names the seq it is about."""

    ok: bool
    entries: int
    problems: list[tuple[int, str]] = field(default_factory=list)
    head_seq: int | None = None
    head_hash: str | None = None
    checkpoints: int = 0
    # (checkpoint number, what is wrong); `problems` are about entries (seq, ...) and the
    # stored tiles over them (named by the first seq a tile covers).
    checkpoint_problems: list[tuple[int, str]] = field(default_factory=list)
    tree_root: str | None = None  # RFC 6962 root over every entry read
    latest_checkpoint: Checkpoint | None = None

    def raise_if_broken(self) -> None:
        """Raise FatalError if the ledger is not intact (tampering needs an operator)."""
        hint = "stop deliveries and investigate; run `govbus audit verify`"
        if self.problems:
            seq, text = self.problems[0]
            raise FatalError(
                f"ledger is not intact: {len(self.problems)} problem(s), first at seq {seq}: {text}",
                where="ledger",
                hint=hint,
            )
        if self.checkpoint_problems:
            number, text = self.checkpoint_problems[0]
            raise FatalError(
                f"ledger checkpoints do not hold: {len(self.checkpoint_problems)} "
                f"problem(s), first at checkpoint {number}: {text}",
                where="ledger_checkpoints",
                hint=hint,
            )


def signature_problem(public_keys: Mapping[str, Ed25519PublicKey], row: Any) -> str | None:
    """Why an entry's signature does not hold, or None if it does."""
    public = public_keys.get(row.key_id)
    if public is None:
        return "signed by an unknown key id"
    try:
        public.verify(bytes.fromhex(row.signature), bytes.fromhex(row.entry_hash))
    except (InvalidSignature, ValueError):
        return "signature is not valid for its entry hash"
    return None


class ChainCheck:
    """The verifier of a ledger fed entry by entry (rows from the DB or from a bundle).

    A row is any object with the ledger's columns as attributes (`at` a datetime,
    `payload` the stored canonical JSON text). It also collects the Merkle leaves.
    """

    def __init__(
        self, public_keys: Mapping[str, Ed25519PublicKey], expected_head: tuple[int, str] | None = None
    ) -> None:
        self.public_keys = public_keys
        self.expected_head = expected_head
        self.problems: list[tuple[int, str]] = []
        self.leaves: list[bytes] = []
        self.prev_seq, self.prev_hash, self.prev_at = 0, GENESIS_HASH, None
        self.seen_head: str | None = None
        self.deliveries = DeliveryTimes()

    def feed(self, row: Any) -> None:
        """Check one entry against its own content and the entry before it."""
        problems, prev_seq = self.problems, self.prev_seq
        if row.seq != prev_seq + 1:
            missing = (
                f"entry {prev_seq + 1} is missing"
                if row.seq == prev_seq + 2
                else f"entries {prev_seq + 1} to {row.seq - 1} are missing"
            )
            problems.append((prev_seq + 1, missing + " (deleted?)"))
        elif row.prev_hash != self.prev_hash:
            problems.append(
                (
                    row.seq,
                    "prev_hash does not match the previous entry (reordered, replaced or removed entries)",
                )
            )
        if compute_entry_hash(row.seq, row.at, row.kind, row.payload, row.prev_hash) != row.entry_hash:
            problems.append((row.seq, "content does not match its hash (kind, time or payload edited)"))
        bad_signature = signature_problem(self.public_keys, row)
        if bad_signature:
            problems.append((row.seq, bad_signature))
        if self.prev_at is not None and row.at < self.prev_at:
            problems.append((row.seq, "time is earlier than the previous entry (reordered?)"))
        if self.expected_head is not None and row.seq == self.expected_head[0]:
            self.seen_head = row.entry_hash
        self.leaves.append(entry_leaf_hash(row.entry_hash))
        self.deliveries.add(row.seq, row.kind, row.at)
        self.prev_seq, self.prev_hash, self.prev_at = row.seq, row.entry_hash, row.at

    def finish(
        self,
        checkpoints: Sequence[Checkpoint],
        tiles: Iterable[tuple[int, int, str]] = (),
        *,
        now: datetime | None = None,
        uncovered_limit: timedelta = UNCOVERED_LIMIT,
    ) -> VerifyReport:
        """The report: chain problems, then every checkpoint against the tree of entries.

        `tiles` (height, index, root) are the database's stored tiles
        (`audit.ledger.tiles.read_tiles`); each one that disagrees with the rebuilt tree
        becomes a problem named by the first seq it covers. Delivery entries no
        checkpoint covers are judged as of `now` (default: this instant; a bundle passes
        its export time), see `audit.ledger.coverage`.
        """
        if self.expected_head is not None:
            head_seq, head_hash = self.expected_head
            if self.seen_head is None:
                self.problems.append((head_seq, "known head entry is missing (ledger truncated?)"))
            elif self.seen_head != head_hash:
                self.problems.append((head_seq, "entry differs from the known head hash"))
        tree = LedgerTree(self.leaves)
        self.problems.extend(tile_problems(tiles, tree))
        self.problems.extend(
            coverage_problems(self.deliveries, checkpoints, now or utc_now(), uncovered_limit)
        )
        checkpoint_problems = check_checkpoints(checkpoints, tree, self.public_keys)
        count = len(self.leaves)
        return VerifyReport(
            ok=not self.problems and not checkpoint_problems,
            entries=count,
            problems=self.problems,
            head_seq=self.prev_seq if count else None,
            head_hash=self.prev_hash if count else None,
            checkpoints=len(checkpoints),
            checkpoint_problems=checkpoint_problems,
            tree_root=tree.root(),
            latest_checkpoint=checkpoints[-1] if checkpoints else None,
        )
