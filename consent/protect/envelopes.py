"""Envelope encryption of delivered files, and sealing keys to a recipient.

One random AES-256 data key per delivery encrypts its files; the data key is sealed
(wrapped) to each recipient's X25519 public key with HPKE (RFC 9180, base mode,
DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM), with `info` binding the purpose
of the key, the recipient id and the batch id.

Why X25519/HPKE and not a per-recipient KEK derived from the bus's master key: only the
recipient's private key opens its files, so a leak of the bus's master key (or a
backup of it) does not open deliveries already sitting in recipients' folders; the bus
and a recipient share no secret that must be handed over and rotated; the recipient
rotates its own key pair by publishing a new public key; and any RFC 9180 library can
unwrap. The cost: each recipient publishes an X25519 public key (PEM) in the catalog.

File format (`<name>.enc`): magic `GOVBUSENC1`, a 7-byte random nonce prefix, then
segments of up to 1 MiB of plaintext, each AES-256-GCM sealed with nonce = prefix ||
segment number (4 bytes, big-endian) || last-segment flag (1 byte) and associated data
= magic || prefix || the plaintext file's name. Reordering, truncating, extending or
renaming a file makes decryption fail (the "STREAM" construction). Memory stays at one
segment whatever the file size.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

from audit import load_pem_public_key_of
from consent.protect.keys import length_prefixed
from govbus.errors import BadInput
from govbus.temp_files import temporary_name

MAGIC = b"GOVBUSENC1"
SEGMENT = 1 << 20
_TAG = 16
_PREFIX = 7
FILE_ALGORITHM = "AES-256-GCM-STREAM-1MiB"
KEY_ALGORITHM = "HPKE-base-X25519-HKDF-SHA256-AES-256-GCM"
_SUITE = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)


def x25519_key_id(public: X25519PublicKey) -> str:
    """Key id of an X25519 public key: first 16 hex digits of SHA-256 of its raw bytes."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_x25519_public_key(pem: str | bytes, *, where: str) -> X25519PublicKey:
    """A recipient's X25519 public key from PEM (what its catalog entry publishes)."""
    return load_pem_public_key_of(
        pem,
        X25519PublicKey,
        kind="X25519",
        where=where,
        hint="generate one with `openssl genpkey -algorithm X25519`",
    )


def _info(purpose: str, recipient: str, context: str) -> bytes:
    return b"govbus/seal/v1" + length_prefixed((purpose, recipient, context))


def seal_key(public: X25519PublicKey, key: bytes, *, purpose: str, recipient: str, context: str) -> str:
    """`key` sealed to `public` (HPKE), as base64; `open_key` with the same labels opens it."""
    return base64.b64encode(_SUITE.encrypt(key, public, _info(purpose, recipient, context))).decode("ascii")


def open_key(private: X25519PrivateKey, sealed: str, *, purpose: str, recipient: str, context: str) -> bytes:
    """The recipient's side of `seal_key`; BadInput if it was not sealed to this key/context."""
    try:
        return _SUITE.decrypt(
            base64.b64decode(sealed, validate=True), private, _info(purpose, recipient, context)
        )
    except (InvalidTag, binascii.Error, ValueError):
        raise BadInput(
            "the sealed key does not open with this private key",
            where=f"sealed key for {recipient}",
            hint="use the private key whose public half the bus was given",
        ) from None


def _nonce(prefix: bytes, number: int, last: bool) -> bytes:
    if number >= 2**32:
        raise BadInput("file too large to encrypt in one envelope", where="envelope")
    return prefix + number.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def encrypt_file(source: Path, target: Path, data_key: bytes) -> None:
    """Encrypt `source` into `target` (written via a temporary file, then renamed)."""
    aead, prefix = AESGCM(data_key), os.urandom(_PREFIX)
    ad = MAGIC + prefix + source.name.encode("utf-8")
    temporary = target.with_name(temporary_name(target.name))
    try:
        with source.open("rb") as reader, temporary.open("wb") as writer:
            writer.write(MAGIC + prefix)
            number, chunk = 0, reader.read(SEGMENT)
            while True:
                following = reader.read(SEGMENT)
                last = not following
                writer.write(aead.encrypt(_nonce(prefix, number, last), chunk, ad))
                if last:
                    break
                number, chunk = number + 1, following
            writer.flush()
            os.fsync(writer.fileno())
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def decrypt_file(source: Path, target: Path, data_key: bytes, *, plain_name: str) -> None:
    """Decrypt an `encrypt_file` output; BadInput if anything was altered or cut off."""
    aead = AESGCM(data_key)
    temporary = target.with_name(temporary_name(target.name))
    try:
        with source.open("rb") as reader, temporary.open("wb") as writer:
            header = reader.read(len(MAGIC) + _PREFIX)
            if len(header) != len(MAGIC) + _PREFIX or not header.startswith(MAGIC):
                raise BadInput("is not a GovBus encrypted file", where=source.name)
            prefix, ad = header[len(MAGIC) :], header + plain_name.encode("utf-8")
            number, chunk = 0, reader.read(SEGMENT + _TAG)
            while True:
                following = reader.read(SEGMENT + _TAG)
                last = not following
                try:
                    writer.write(aead.decrypt(_nonce(prefix, number, last), chunk, ad))
                except InvalidTag:
                    raise BadInput(
                        "does not decrypt: altered, truncated, renamed or another key",
                        where=source.name,
                        hint="ask the bus to deliver the batch again",
                    ) from None
                if last:
                    break
                number, chunk = number + 1, following
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def new_data_key() -> bytes:
    """A fresh random AES-256 key for one delivery."""
    return AESGCM.generate_key(bit_length=256)
