"""C2SP signed notes (https://c2sp.org/signed-note) and cosignatures (https://c2sp.org/tlog-cosignature).

Why: a checkpoint in the published `tlog-checkpoint` format is readable by existing
tooling (Go's `golang.org/x/mod/sumdb/note`, Sigstore, witnesses), and a witness's
cosignature is a second signature line on the same note. This module is the encoding
only (pure functions, no database); `audit.ledger.checkpoints` builds the bus's notes
and `audit.witness` cosigns them.

What a caller must know:

* A note is `body` + `"\\n"` + signature lines `"— <key name> <base64 value>\\n"` (U+2014).
  The body ends with a newline; its first line is the origin.
* Ed25519 note signature (type 0x01): value = key hash (4 bytes) ‖ Ed25519 over the body.
  Cosignature v1 (type 0x04): value = key hash ‖ 8-byte big-endian Unix time ‖ Ed25519
  over `"cosignature/v1\\ntime <t>\\n" + body`.
* key hash = SHA-256(name ‖ 0x0A ‖ type ‖ 32-byte public key)[:4]; a verifier key
  (Go's `note.NewVerifier` form) is `<name>+<8 hex key hash>+<base64(type ‖ public key)>`.
* A line signed by a key a verifier does not know is *ignored* (the C2SP rule), never
  counted; a line from a known key that does not verify is a forgery.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from govbus.errors import BadInput

__all__ = [
    "COSIGNATURE_TYPE",
    "ED25519_TYPE",
    "NoteKey",
    "NoteSignature",
    "checkpoint_body",
    "cosign",
    "cosignature_message",
    "key_hash",
    "parse_note",
    "parse_signature_line",
    "sign_note",
    "verify_cosignature",
    "verify_note_signature",
]

ED25519_TYPE = 0x01
COSIGNATURE_TYPE = 0x04
COSIGNATURE_HEADER = "cosignature/v1"
DASH = "\u2014"
_NAME = re.compile(r"^[^\s+]+$")


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def check_key_name(name: str, *, where: str) -> str:
    """A key name (or origin used as one): non-empty, no whitespace, no `+`; BadInput otherwise."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise BadInput(
            "is not a signed-note key name (non-empty, no spaces, no '+')",
            where=where,
            hint="use a schema-less URL such as tax.gov.example/govbus-ledger",
        )
    return name


def key_hash(name: str, key_type: int, public: Ed25519PublicKey) -> bytes:
    """The 4-byte key hash of a signed-note key: SHA-256(name ‖ 0x0A ‖ type ‖ key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([key_type]) + _raw(public)).digest()[:4]


@dataclass(frozen=True)
class NoteKey:
    """A named public key of a note signer (the bus: type 0x01) or a witness (type 0x04)."""

    name: str
    key_type: int
    public: Ed25519PublicKey

    @property
    def hash(self) -> bytes:
        """Its 4-byte key hash."""
        return key_hash(self.name, self.key_type, self.public)

    def vkey(self) -> str:
        """The verifier key text `<name>+<hex hash>+<base64(type ‖ key)>` (Go's note.NewVerifier)."""
        encoded = base64.b64encode(bytes([self.key_type]) + _raw(self.public)).decode("ascii")
        return f"{self.name}+{self.hash.hex()}+{encoded}"

    @classmethod
    def from_vkey(cls, text: str, *, where: str) -> NoteKey:
        """Parse a verifier key; BadInput naming `where` when it is malformed or its hash is wrong."""
        # split at the first two '+' only: the base64 key may hold '+' too (as Go's note does)
        parts = text.strip().split("+", 2) if isinstance(text, str) else []
        hint = "write it as <name>+<8 hex digits>+<base64 key> (`govbus audit witness init` prints it)"
        if len(parts) != 3:
            raise BadInput("is not a verifier key", where=where, hint=hint)
        name, digest, encoded = parts
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise BadInput("the key part is not base64", where=where, hint=hint) from None
        if len(data) != 33 or data[0] not in (ED25519_TYPE, COSIGNATURE_TYPE):
            raise BadInput("is not an Ed25519 (0x01) or cosignature (0x04) key", where=where, hint=hint)
        key = cls(check_key_name(name, where=where), data[0], Ed25519PublicKey.from_public_bytes(data[1:]))
        if key.hash.hex() != digest.lower():
            raise BadInput("its key hash does not match its name and key (mistyped?)", where=where, hint=hint)
        return key


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: the key name and the decoded value (key hash first)."""

    name: str
    value: bytes

    @property
    def line(self) -> str:
        """The line as written in a note, with its newline."""
        return f"{DASH} {self.name} {base64.b64encode(self.value).decode('ascii')}\n"


def checkpoint_body(origin: str, size: int, root_hex: str, extensions: tuple[str, ...] = ()) -> str:
    """A tlog-checkpoint body: origin, size, base64 root, then extension lines; each ends with `\\n`."""
    root = base64.b64encode(bytes.fromhex(root_hex)).decode("ascii")
    return "".join(f"{line}\n" for line in (origin, str(size), root, *extensions))


def sign_note(body: str, name: str, private: Ed25519PrivateKey) -> NoteSignature:
    """The bus's Ed25519 (type 0x01) signature line over `body` under key name `name`."""
    digest = key_hash(name, ED25519_TYPE, private.public_key())
    return NoteSignature(name, digest + private.sign(body.encode("utf-8")))


def parse_signature_line(line: str, *, where: str = "note") -> NoteSignature:
    """One `— <name> <base64>` line (without or with its newline); BadInput otherwise."""
    parts = line.removesuffix("\n").split(" ")
    if len(parts) != 3 or parts[0] != DASH:
        raise BadInput("is not a signature line '— <name> <base64>'", where=where)
    try:
        value = base64.b64decode(parts[2], validate=True)
    except (binascii.Error, ValueError):
        raise BadInput("the signature is not base64", where=where) from None
    if len(value) < 4:
        raise BadInput("the signature is too short", where=where)
    return NoteSignature(parts[1], value)


def parse_note(text: str) -> tuple[str, list[NoteSignature]]:
    """(body, signature lines) of a signed note; BadInput when it is not one."""
    body, sep, lines = text.rpartition("\n\n")
    if not sep or not body or not lines.endswith("\n"):
        raise BadInput("is not a signed note (a body, a blank line, then signature lines)", where="note")
    signatures = [
        parse_signature_line(line, where=f"note signature line {number}")
        for number, line in enumerate(lines[:-1].split("\n"), start=1)
    ]
    return body + "\n", signatures


def verify_note_signature(body: str, signature: NoteSignature, key: NoteKey) -> bool:
    """True if `signature` is `key`'s valid Ed25519 note signature (type 0x01) over `body`."""
    if key.key_type != ED25519_TYPE or signature.name != key.name or signature.value[:4] != key.hash:
        return False
    try:
        key.public.verify(signature.value[4:], body.encode("utf-8"))
    except InvalidSignature:
        return False
    return True


def cosignature_message(body: str, timestamp: int) -> bytes:
    """What a cosignature/v1 signs: the header, the time line, then the whole checkpoint body."""
    return f"{COSIGNATURE_HEADER}\ntime {timestamp}\n{body}".encode()


def cosign(body: str, name: str, private: Ed25519PrivateKey, timestamp: int) -> NoteSignature:
    """A witness's cosignature/v1 line (type 0x04) over a checkpoint body at Unix time `timestamp`."""
    digest = key_hash(name, COSIGNATURE_TYPE, private.public_key())
    stamp = timestamp.to_bytes(8, "big")
    return NoteSignature(name, digest + stamp + private.sign(cosignature_message(body, timestamp)))


def verify_cosignature(body: str, signature: NoteSignature, key: NoteKey) -> int | None:
    """The cosignature's Unix time if it is `key`'s valid cosignature/v1 over `body`, else None."""
    value = signature.value
    if key.key_type != COSIGNATURE_TYPE or signature.name != key.name or value[:4] != key.hash:
        return None
    if len(value) != 4 + 8 + 64:
        return None
    timestamp = int.from_bytes(value[4:12], "big")
    try:
        key.public.verify(value[12:], cosignature_message(body, timestamp))
    except InvalidSignature:
        return None
    return timestamp
