"""Signed checkpoints of the ledger: (number, tree size, RFC 6962 root, time), signed with Ed25519.

What a caller must know:

* The signed message is the UTF-8 text
  `govbus-ledger\\n<size>\\n<root hex>\\n<time>\\ncheckpoint <number>\\n` (time as
  fixed-width ISO 8601 UTC with microseconds, `govbus.instants.iso_utc`), so anyone can
  check a checkpoint with OpenSSL and the bus's public key. The last line is version 2
  (a signed-note extension line, as C2SP checkpoints carry them): before it, the
  number was not signed, so a copy of checkpoint 1 stored as checkpoint 2 verified.
  Version 1 checkpoints (no number line) still verify; the row does not say which
  version it is, the signature does (`signed_version` tries 2, then 1). A version 1
  checkpoint after a version 2 one, or two checkpoints with the same signed head, are
  problems: the bus signs only version 2 now, and never the same head twice.
* A checkpoint fixes the first `size` entries: deleting entries from the end of the
  ledger (which leaves a valid shorter chain), editing, removing or reordering any entry
  it covers, all change the recomputed root. `check_checkpoints` names the checkpoint
  (its `number`) and says what is wrong.
* Write them with `Ledger.checkpoint(conn)` (it serializes with appends); writing one also
  stores the ledger's new tiles (`audit.ledger.tiles`). The functions here that take no
  connection are pure and used by the offline bundle verifier too: `check_checkpoints`
  trusts no tile, only the tree rebuilt from the entries.
* Every checkpoint written now also carries a C2SP `tlog-checkpoint` signed note
  (`note`, see `audit.notes`): body `<origin>\\n<size>\\n<base64 root>\\ncheckpoint
  <number>\\ntime <at>\\n`, signed by the bus's key under the key name `<origin>`. Only
  the origin and the note's signature line are stored (`ledger_checkpoints.origin`,
  `note_signature`): the note is rebuilt from the row, so it cannot disagree with it.
  Checkpoints taken before notes existed have none (`note is None`).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from audit.ledger.tiles import fill_tiles
from audit.ledger.tree import LedgerTree, verify_consistency
from audit.notes import (
    DASH,
    ED25519_TYPE,
    NoteKey,
    NoteSignature,
    check_key_name,
    checkpoint_body,
    parse_note,
    sign_note,
    verify_note_signature,
)
from audit.tables import ledger_checkpoints
from govbus.errors import GovBusError, TransientError
from govbus.instants import iso_utc, utc_now

ORIGIN = "govbus-ledger"
DEFAULT_NOTE_ORIGIN = "govbus.local/govbus-ledger"  # a deployment names its own (catalog/ledger.yaml)
CHECKPOINT_VERSION = 2  # the message version the bus signs (the number line)
NUMBER_LINE = "checkpoint"


def checkpoint_message(tree_size: int, root: str, at: datetime, number: int | None = None) -> bytes:
    """The exact bytes a checkpoint signature covers (see module doc).

    With `number`, version 2 (the number is signed); without, version 1, which only
    checkpoints taken before version 2 existed carry.
    """
    text = f"{ORIGIN}\n{tree_size}\n{root}\n{iso_utc(at)}\n"
    if number is not None:
        text += f"{NUMBER_LINE} {number}\n"
    return text.encode()


@dataclass(frozen=True)
class Checkpoint:
    """One signed tree head as stored."""

    number: int
    tree_size: int
    root: str
    at: datetime
    key_id: str
    signature: str
    note: str | None = None  # the C2SP signed note (checkpoints taken before notes: None)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON form (time as ISO text), as exported in bundles and proofs."""
        document: dict[str, Any] = {
            "number": self.number,
            "tree_size": self.tree_size,
            "root": self.root,
            "at": iso_utc(self.at),
            "key_id": self.key_id,
            "signature": self.signature,
        }
        if self.note is not None:
            document["note"] = self.note
        return document

    @property
    def note_body(self) -> str | None:
        """The note's body (what the bus and witnesses sign), or None without a note."""
        return None if self.note is None else self.note.rpartition("\n\n")[0] + "\n"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Checkpoint:
        """Inverse of `to_json`; KeyError/ValueError/TypeError on a malformed document."""
        number, size = data["number"], data["tree_size"]
        if not isinstance(number, int) or not isinstance(size, int):
            raise TypeError("number and tree_size must be integers")
        return cls(
            number=number,
            tree_size=size,
            root=str(data["root"]),
            at=datetime.fromisoformat(str(data["at"])),
            key_id=str(data["key_id"]),
            signature=str(data["signature"]),
            note=str(data["note"]) if data.get("note") is not None else None,
        )


def note_extensions(number: int, at: datetime) -> tuple[str, str]:
    """The extension lines of the bus's notes: the checkpoint number and its time (spec §9)."""
    return (f"{NUMBER_LINE} {number}", f"time {iso_utc(at)}")


def build_note(origin: str, number: int, size: int, root: str, at: datetime, line: NoteSignature) -> str:
    """The signed note of a checkpoint from its stored parts (body, blank line, signature)."""
    return checkpoint_body(origin, size, root, note_extensions(number, at)) + "\n" + line.line


def _from_row(row: Any) -> Checkpoint:
    note = None
    if row.origin is not None and row.note_signature is not None:
        # The stored base64 text goes into the line as it is: an edited value is then named
        # by `note_problem`, never a crash while reading.
        try:
            body = checkpoint_body(row.origin, row.tree_size, row.root, note_extensions(row.number, row.at))
        except ValueError:  # a root that is not hex: the note cannot hold, the root check names it
            body = f"{row.origin}\n{row.tree_size}\n{row.root}\n"
        note = f"{body}\n{DASH} {row.origin} {row.note_signature}\n"
    return Checkpoint(
        number=row.number,
        tree_size=row.tree_size,
        root=row.root,
        at=row.at,
        key_id=row.key_id,
        signature=row.signature,
        note=note,
    )


def read_checkpoints(conn: sa.Connection) -> list[Checkpoint]:
    """Every checkpoint in number order (not verified)."""
    query = sa.select(ledger_checkpoints).order_by(ledger_checkpoints.c.number)
    return [_from_row(row) for row in conn.execute(query)]


def latest_checkpoint(conn: sa.Connection) -> Checkpoint | None:
    """The newest checkpoint, or None if none was taken yet (not verified)."""
    row = conn.execute(
        sa.select(ledger_checkpoints).order_by(ledger_checkpoints.c.number.desc()).limit(1)
    ).first()
    return None if row is None else _from_row(row)


def checkpoint_numbered(conn: sa.Connection, number: int) -> Checkpoint | None:
    """Checkpoint `number`, or None if there is none (not verified): proofs against older heads."""
    row = conn.execute(sa.select(ledger_checkpoints).where(ledger_checkpoints.c.number == number)).first()
    return None if row is None else _from_row(row)


def write_checkpoint(
    conn: sa.Connection,
    signing_key: Ed25519PrivateKey,
    key_id: str,
    origin: str = DEFAULT_NOTE_ORIGIN,
) -> Checkpoint:
    """Sign and store the current tree head, and its signed note under `origin`.

    The caller holds the ledger's append lock.

    Stores the tiles the entries since the last checkpoint completed first (in the same
    transaction, `audit.ledger.tiles.fill_tiles`), so the head costs O(256 × levels)
    hashes read, and so will the next proofs.
    """
    tree = fill_tiles(conn)
    previous = latest_checkpoint(conn)
    at = utc_now()
    if previous is not None and at < previous.at:
        at = previous.at  # a clock that stepped back must not reorder checkpoints
    number = previous.number + 1 if previous is not None else 1
    root = tree.root()
    signature = signing_key.sign(checkpoint_message(tree.size, root, at, number)).hex()
    origin = check_key_name(origin, where="ledger origin")
    body = checkpoint_body(origin, tree.size, root, note_extensions(number, at))
    line = sign_note(body, origin, signing_key)
    try:
        conn.execute(
            ledger_checkpoints.insert().values(
                number=number,
                tree_size=tree.size,
                root=root,
                at=at,
                key_id=key_id,
                signature=signature,
                origin=origin,
                note_signature=base64.b64encode(line.value).decode("ascii"),
            )
        )
    except sa.exc.IntegrityError as exc:
        raise TransientError(
            "another writer took a ledger checkpoint at the same time",
            where="ledger_checkpoints",
            hint="roll back and retry the transaction",
        ) from exc
    return Checkpoint(number, tree.size, root, at, key_id, signature, body + "\n" + line.line)


def note_problem(checkpoint: Checkpoint, public_keys: Mapping[str, Ed25519PublicKey]) -> str | None:
    """Why the checkpoint's signed note does not hold, or None (also when it has none).

    The body must be exactly the one the checkpoint's fields give (under the note's own
    origin) and carry a valid Ed25519 note signature, named by the origin, by a trusted key.
    """
    if checkpoint.note is None:
        return None
    try:
        body, signatures = parse_note(checkpoint.note)
    except GovBusError as exc:
        return f"note: {exc.message}"
    origin = body.split("\n", 1)[0]
    try:
        expected = checkpoint_body(
            origin, checkpoint.tree_size, checkpoint.root, note_extensions(checkpoint.number, checkpoint.at)
        )
    except ValueError:
        expected = None
    if body != expected:
        return "its signed note says something else than the checkpoint (edited?)"
    keys = [NoteKey(origin, ED25519_TYPE, public) for public in public_keys.values()]
    for line in signatures:
        if any(verify_note_signature(body, line, key) for key in keys):
            return None
    return "its signed note carries no valid signature by a trusted key under its origin (forged?)"


def signed_version(
    checkpoint: Checkpoint, public_keys: Mapping[str, Ed25519PublicKey]
) -> tuple[int | None, str | None]:
    """(2 or 1, None): the message version the signature holds for; (None, why) if it holds for none.

    Version 2 is tried first (every checkpoint the bus signs now); version 1 only
    proves size, root and time, not the number.
    """
    public = public_keys.get(checkpoint.key_id)
    if public is None:
        return None, "signed by an unknown key id (not among the trusted keys)"
    try:
        signature = bytes.fromhex(checkpoint.signature)
    except ValueError:
        return None, "signature is not valid for its tree head (forged, edited or re-signed)"
    size, root, at = checkpoint.tree_size, checkpoint.root, checkpoint.at
    for version, number in ((CHECKPOINT_VERSION, checkpoint.number), (1, None)):
        try:
            public.verify(signature, checkpoint_message(size, root, at, number))
        except InvalidSignature:
            continue
        return version, None
    return None, "signature is not valid for its tree head (forged, edited or re-signed)"


def checkpoint_signature_problem(
    checkpoint: Checkpoint, public_keys: Mapping[str, Ed25519PublicKey]
) -> str | None:
    """Why the checkpoint's signature does not hold (in either version), or None if it does."""
    return signed_version(checkpoint, public_keys)[1]


def check_checkpoints(
    checkpoints: Sequence[Checkpoint], tree: LedgerTree, public_keys: Mapping[str, Ed25519PublicKey]
) -> list[tuple[int, str]]:
    """Problems of each checkpoint against the ledger's tree, named by checkpoint number.

    Checks: numbering has no gap, signature by a trusted key (over the number too, from
    version 2 on), no signed head repeated, no version 1 checkpoint after a version 2
    one, size within the ledger and root equal to the recomputed root at that size, and,
    between consecutive checkpoints, growing size and time and a consistency proof
    between their recorded roots.
    """
    problems: list[tuple[int, str]] = []
    previous: Checkpoint | None = None
    heads: dict[str, int] = {}  # signature -> the first checkpoint that carried it
    newest_v2: int | None = None
    for checkpoint in checkpoints:
        number = checkpoint.number
        found: list[str] = []
        expected = previous.number + 1 if previous is not None else 1
        if number != expected:
            missing = (
                f"checkpoint {expected} is missing"
                if number == expected + 1
                else f"checkpoints {expected} to {number - 1} are missing"
            )
            problems.append((expected, missing + " (deleted?)"))
        version, bad_signature = signed_version(checkpoint, public_keys)
        if bad_signature:
            found.append(bad_signature)
        first = heads.setdefault(checkpoint.signature, number)
        if first != number:
            found.append(f"repeats the signed head of checkpoint {first} (an older one copied over it?)")
        if version == CHECKPOINT_VERSION:
            newest_v2 = number
        elif version == 1 and newest_v2 is not None:
            found.append(
                f"is signed without its number (version 1) though checkpoint {newest_v2} already "
                "signed its number: the bus no longer signs version 1 (an old checkpoint copied?)"
            )
        bad_note = note_problem(checkpoint, public_keys)
        if bad_note:
            found.append(bad_note)
        if checkpoint.tree_size > tree.size:
            found.append(
                f"covers {checkpoint.tree_size} entries but the ledger holds only "
                f"{tree.size} (entries removed from the end?)"
            )
        elif checkpoint.tree_size < 0 or tree.root(checkpoint.tree_size) != checkpoint.root:
            found.append(
                f"root does not match the ledger's first {checkpoint.tree_size} "
                "entries (entries edited, removed or reordered)"
            )
        if previous is not None:
            found.extend(_against_previous(previous, checkpoint, tree, bool(found)))
        problems.extend((number, text) for text in found)
        previous = checkpoint
    return problems


def _against_previous(
    previous: Checkpoint, checkpoint: Checkpoint, tree: LedgerTree, already_flagged: bool
) -> list[str]:
    """Order and consistency of a checkpoint with the one before it."""
    found: list[str] = []
    if checkpoint.at < previous.at:
        found.append(f"time is earlier than checkpoint {previous.number} (reordered?)")
    if checkpoint.tree_size < previous.tree_size:
        found.append(f"tree is smaller than at checkpoint {previous.number} (the ledger was cut back?)")
    elif not already_flagged and previous.tree_size >= 1 and checkpoint.tree_size <= tree.size:
        proof = tree.consistency_proof(previous.tree_size, checkpoint.tree_size)
        if not verify_consistency(
            previous.tree_size, checkpoint.tree_size, previous.root, checkpoint.root, proof
        ):
            found.append(f"not consistent with checkpoint {previous.number} (history rewritten between them)")
    return found
