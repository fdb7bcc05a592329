"""Keys of one bus instance: a master secret, keys derived from it, and Ed25519 signing keys.

What a caller must know:

* The master key comes from the environment variable (default `GOVBUS_MASTER_KEY`,
  hex or base64, at least 32 bytes) when it is set; otherwise from `<dir>/master.key`,
  created on first use with mode 0600 in a 0700 directory. Production sets the
  variable; the file exists so the sample deployment needs no setup.
* Every other secret is derived (HKDF-SHA256) from the master key with a label and
  context, so rotating a recipient's pseudonyms means a new `key_id`, not a new file.
* Signing keys live in `<dir>/signing-<key_id>.pem` (PKCS#8, 0600); `signing.current`
  names the one used to sign. Old keys stay so old ledger entries still verify.
* Nothing here ever logs, repr()s or puts a key into an error message.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import stat
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from audit import SigningKey, key_id_of
from consent.protect.key_ids import DerivedKeyIds, scope_name
from govbus.errors import BadConfiguration

MIN_MASTER_KEY_BYTES = 32
_HKDF_SALT = b"govbus/keystore/v1"
_KEY_ID = re.compile(r"^[0-9a-f]{16}$")
_SIGNING_FILE = re.compile(r"^signing-([0-9a-f]{16})\.pem$")


def decode_key_text(text: str) -> bytes | None:
    """Bytes of a key written as hex or base64 (standard or URL-safe); None if neither.

    Hex wins when the text is valid as both (a 32-byte key is 64 hex digits, 44 base64).
    """
    text = text.strip()
    if re.fullmatch(r"(?:[0-9a-fA-F]{2})+", text):
        return bytes.fromhex(text)
    if not re.fullmatch(r"[A-Za-z0-9+/_-]+={0,2}", text):
        return None
    body = text.replace("-", "+").replace("_", "/").rstrip("=")
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def length_prefixed(parts: tuple[str, ...]) -> bytes:
    """Unambiguous bytes of a tuple of strings: 4-byte big-endian length before each part."""
    out = bytearray()
    for part in parts:
        data = part.encode("utf-8")
        out += len(data).to_bytes(4, "big") + data
    return bytes(out)


class KeyStore:
    """The bus's key directory plus the master key (from the environment or a file).

    Keys are loaded lazily and cached; constructing a KeyStore touches no file.
    """

    def __init__(self, directory: Path, *, master_key_env: str = "GOVBUS_MASTER_KEY") -> None:
        self._dir = Path(directory)
        self._env = master_key_env
        self._master: bytes | None = None
        self._signing: dict[str, Ed25519PrivateKey] = {}

    def __repr__(self) -> str:
        return f"KeyStore(directory={str(self._dir)!r}, master_key_env={self._env!r})"

    __str__ = __repr__

    @property
    def directory(self) -> Path:
        """The folder holding the master key file, signing keys and derived key ids."""
        return self._dir

    # -- master key and derivation -------------------------------------------------

    def _ensure_dir(self) -> None:
        self._dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if stat.S_IMODE(self._dir.stat().st_mode) & 0o077:
            os.chmod(self._dir, 0o700)

    def _write_new(self, name: str, data: bytes) -> bool:
        """Create `<dir>/name` atomically with mode 0600; False if it already exists."""
        self._ensure_dir()
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=self._dir)  # mkstemp: mode 0600
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(tmp, self._dir / name)  # atomic and refuses to overwrite
            except FileExistsError:
                return False
            return True
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def _read_private(self, name: str) -> bytes:
        path = self._dir / name
        if os.name == "posix" and stat.S_IMODE(path.stat().st_mode) & 0o077:
            raise BadConfiguration(
                "key file is readable by group or others",
                where=str(path),
                hint=f"run `chmod 600 {path}` and check who may have read it",
            )
        return path.read_bytes()

    def _master_key(self) -> bytes:
        if self._master is not None:
            return self._master
        text = os.environ.get(self._env)
        if text is not None and text.strip():
            where, raw = f"environment variable {self._env}", decode_key_text(text)
        else:
            path = self._dir / "master.key"
            if not path.exists():
                self._write_new("master.key", os.urandom(MIN_MASTER_KEY_BYTES).hex().encode())
            where = str(path)
            raw = decode_key_text(self._read_private("master.key").decode("ascii", "replace"))
        if raw is None or len(raw) < MIN_MASTER_KEY_BYTES:
            raise BadConfiguration(
                f"master key must be hex or base64 of at least {MIN_MASTER_KEY_BYTES} bytes",
                where=where,
                hint="generate one with `openssl rand -hex 32`",
            )
        self._master = raw
        return raw

    def derive(self, label: str, *context: str, length: int = 32) -> bytes:
        """`length` bytes for (label, *context), HKDF-SHA256 of the master key.

        The info string length-prefixes every part, so ("a", "bc") and ("ab", "c") differ.
        """
        if not label:
            raise BadConfiguration("a derived key needs a label", where="KeyStore.derive")
        hkdf = HKDF(
            algorithm=hashes.SHA256(), length=length, salt=_HKDF_SALT, info=length_prefixed((label, *context))
        )
        return hkdf.derive(self._master_key())

    def key_ids(self) -> DerivedKeyIds:
        """The current ids of derived keys (rotated explicitly; see consent.protect.key_ids)."""
        return DerivedKeyIds(self._dir)

    def _derived(
        self, label: str, context: tuple[str, ...], key_id: str | None, length: int = 32
    ) -> tuple[bytes, str]:
        kid = key_id if key_id is not None else self.key_ids().current(scope_name(label, *context))
        return self.derive(label, *context, kid, length=length), kid

    def field_key(self, recipient: str, field: str, key_id: str | None = None) -> bytes:
        """64-byte AES-256-SIV key that encrypts `field` reversibly for `recipient` alone.

        The recipient receives it sealed to its own X25519 key (`write_manifest(field_keys=)`).
        """
        return self._derived("reversible-field", (recipient, field), key_id, 64)[0]

    def field_key_id(self, recipient: str, field: str) -> str:
        """The current id of `field_key(recipient, field)`: k1 until rotated."""
        return self.key_ids().current(scope_name("reversible-field", recipient, field))

    def pseudonym_key(self, recipient: str, purpose: str, key_id: str | None = None) -> bytes:
        """Key that pseudonymizes subject ids for one recipient and purpose.

        Different recipients get unrelated pseudonyms. Without `key_id`, the current id
        (k1 until `rotate_pseudonym_key`): stable across runs and signing-key rotations.
        """
        return self._derived("pseudonym", (recipient, purpose), key_id)[0]

    def pseudonym_key_id(self, recipient: str, purpose: str) -> str:
        """The current pseudonym key id of (recipient, purpose): k1 until rotated."""
        return self.key_ids().current(scope_name("pseudonym", recipient, purpose))

    def rotate_pseudonym_key(self, recipient: str, purpose: str) -> str:
        """Bump the pseudonym key id of (recipient, purpose); breaks linkage on purpose."""
        return self.key_ids().rotate(scope_name("pseudonym", recipient, purpose))

    def linkage_key(self, domain: str, key_id: str | None = None) -> bytes:
        """Key shared by every recipient of a statute's linkage domain (lawful joins)."""
        return self._derived("linkage", (domain,), key_id)[0]

    def master_key_source(self) -> str:
        """Where the master key comes from (never the key): the variable or the file."""
        text = os.environ.get(self._env)
        if text is not None and text.strip():
            return f"environment variable {self._env}"
        return str(self._dir / "master.key")

    def audit_key(self) -> bytes:
        """Key of the audit pseudonyms (consent register subject refs, access index)."""
        return self.derive("audit")

    # -- signing keys ----------------------------------------------------------------

    def _load_signing(self, key_id: str) -> Ed25519PrivateKey:
        if key_id in self._signing:
            return self._signing[key_id]
        name = f"signing-{key_id}.pem"
        if not _KEY_ID.match(key_id) or not (self._dir / name).exists():
            raise BadConfiguration(
                "signing key not found",
                where=str(self._dir / name),
                hint="restore the key file or rotate to a new key",
            )
        try:
            key = serialization.load_pem_private_key(self._read_private(name), password=None)
        except ValueError as exc:
            raise BadConfiguration(
                "signing key file is not a PEM private key", where=str(self._dir / name)
            ) from exc
        if not isinstance(key, Ed25519PrivateKey) or key_id_of(key.public_key()) != key_id:
            raise BadConfiguration(
                "signing key file does not hold the Ed25519 key its name says",
                where=str(self._dir / name),
                hint="the file was replaced or renamed; restore it",
            )
        self._signing[key_id] = key
        return key

    def _new_signing_key(self) -> str:
        key = Ed25519PrivateKey.generate()
        key_id = key_id_of(key.public_key())
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        self._write_new(f"signing-{key_id}.pem", pem)
        self._signing[key_id] = key
        return key_id

    def rotate_signing_key(self) -> str:
        """Create a new Ed25519 key, make it current and return its key id.

        The old keys stay on disk: their public halves still verify old ledger entries.
        """
        key_id = self._new_signing_key()
        fd, tmp = tempfile.mkstemp(prefix=".signing.current.", dir=self._dir)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(key_id + "\n")
        os.replace(tmp, self._dir / "signing.current")
        return key_id

    def signing_key_id(self) -> str:
        """Id of the current signing key, creating the first key on first use.

        Two processes starting at once agree: the first `signing.current` written wins.
        """
        current = self._dir / "signing.current"
        if not current.exists():
            key_id = self._new_signing_key()
            self._write_new("signing.current", (key_id + "\n").encode("ascii"))
        key_id = current.read_text(encoding="ascii", errors="replace").strip()
        if not _KEY_ID.match(key_id):
            raise BadConfiguration(
                "signing.current does not name a key id",
                where=str(current),
                hint="write the 16-hex-digit id of a signing-<id>.pem file",
            )
        return key_id

    def signing_key(self) -> SigningKey:
        """The current Ed25519 signing key and its key id (created on first use)."""
        key_id = self.signing_key_id()
        return SigningKey(self._load_signing(key_id), key_id)

    def public_keys(self) -> dict[str, Ed25519PublicKey]:
        """Every signing key's public half by key id (old keys included)."""
        self.signing_key_id()
        found: dict[str, Ed25519PublicKey] = {}
        for path in sorted(self._dir.iterdir()):
            match = _SIGNING_FILE.match(path.name)
            if match:
                found[match.group(1)] = self._load_signing(match.group(1)).public_key()
        return found

    def public_key_pem(self, key_id: str) -> str:
        """The public key `key_id` as SubjectPublicKeyInfo PEM (what agencies.yaml publishes)."""
        public = self._load_signing(key_id).public_key()
        return public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")
