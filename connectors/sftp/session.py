"""Reaching an SFTP server with paramiko: settings, credentials, host-key checks, errors.

Settings (defaults in brackets) shared by the SFTP sources and sinks:

    host                        the server's name or address
    port                        [22]
    username                    the login
    password_env                environment variable holding the password
    private_key_env             environment variable holding a private key (PEM or
                                OpenSSH text: Ed25519, ECDSA or RSA)
    private_key_path            file holding such a key
    private_key_passphrase_env  environment variable holding the key's passphrase
    known_hosts                 an OpenSSH known_hosts file listing the server's key
    host_key_fingerprint        the server's key as `ssh-keygen -lf` prints it: SHA256:...
    timeout_seconds             connect, login and per-request timeout [30]
    conn_id                     an Airflow connection: its host, port and login fill the
                                settings not given here; its password (or a private key in
                                its extra as `private_key`) is the secret

Settings never hold a secret, only the names of variables (or files) that do; secrets
are read when connecting (`sftp_credentials`, the one place that turns settings into
credentials). At least one of password_env, private_key_env, private_key_path or conn_id
is required. The server's host key must be known: listed in `known_hosts`, or matching
`host_key_fingerprint`; with neither, the user's `~/.ssh/known_hosts` is consulted as
ssh does. An unknown key is refused, never added.

Errors: a server that cannot be reached, times out or drops the connection is a
`TransientError` naming host:port; a refused login or an unknown or changed host key
is a `BadConfiguration` naming the setting to fix. No message holds a password, a key
or a passphrase.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import paramiko
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from connectors.credentials import airflow_connection, from_env
from connectors.files.settings import SettingsReader
from govbus.errors import BadConfiguration, TransientError

SERVER_SETTINGS = (
    "host", "port", "username", "password_env", "private_key_env", "private_key_path",
    "private_key_passphrase_env", "known_hosts", "host_key_fingerprint", "timeout_seconds", "conn_id",
)  # fmt: skip
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_FINGERPRINT = re.compile(r"SHA256:[A-Za-z0-9+/]{43}=?")
_HOST = re.compile(r"[A-Za-z0-9.:_-]{1,253}")
_SECRET_SETTINGS = ("password_env", "private_key_env", "private_key_path", "conn_id")
_CHUNK = 1 << 20
_PREFETCH_REQUESTS = 64  # read requests in flight (32 KiB each): bounds what waits in memory
LOST_CONNECTION = (TimeoutError, paramiko.SSHException, EOFError, ConnectionError)
"""What paramiko raises when a connection breaks or a request times out."""


@dataclass(frozen=True)
class SftpSettings:
    """Which server, which login (by reference), how to trust its host key. No secrets."""

    host: str
    username: str
    port: int = 22
    password_env: str | None = None
    private_key_env: str | None = None
    private_key_path: str | None = None
    private_key_passphrase_env: str | None = None
    known_hosts: str | None = None
    host_key_fingerprint: str | None = None
    timeout_seconds: float = 30.0
    conn_id: str | None = None  # an Airflow connection: password, or extra.private_key

    def __post_init__(self) -> None:
        if not isinstance(self.host, str) or not _HOST.fullmatch(self.host):
            raise BadConfiguration("must be a host name or address", where="host")
        if not isinstance(self.username, str) or not self.username or "\x00" in self.username:
            raise BadConfiguration("must be a non-empty text", where="username")
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 0 < self.port < 65536:
            raise BadConfiguration("must be a whole number from 1 to 65535", where="port")
        for name in ("password_env", "private_key_env", "private_key_passphrase_env"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, str) and _ENV_NAME.fullmatch(value)):
                raise BadConfiguration("must name an environment variable", where=name)
        if all(getattr(self, name) is None for name in _SECRET_SETTINGS):
            raise BadConfiguration(
                "no credentials",
                where="password_env",
                hint="set password_env, private_key_env, private_key_path or conn_id",
            )
        fingerprint = self.host_key_fingerprint
        if fingerprint is not None and not (
            isinstance(fingerprint, str) and _FINGERPRINT.fullmatch(fingerprint)
        ):
            raise BadConfiguration(
                "must be a SHA-256 fingerprint as OpenSSH prints it (SHA256:...)",
                where="host_key_fingerprint",
                hint="run `ssh-keyscan -p PORT HOST | ssh-keygen -lf -` on a trusted network",
            )
        if isinstance(self.timeout_seconds, bool) or not isinstance(self.timeout_seconds, int | float):
            raise BadConfiguration("must be a number of seconds", where="timeout_seconds")

    @classmethod
    def from_settings(cls, reader: SettingsReader, settings: Mapping[str, Any]) -> SftpSettings:
        """The server settings among a connector's settings (see the module doc)."""
        conn_id = reader.optional_text("conn_id")
        host, username, default_port = None, None, 22
        if conn_id is not None:  # host, port and login from the connection unless given here
            info = airflow_connection(conn_id)
            host, username, default_port = info.host, info.login, info.port or 22
        port = reader.number("port", default_port, minimum=1, maximum=65535)
        if port != int(port):
            raise BadConfiguration("must be a whole number from 1 to 65535", where="port")
        return cls(
            host=reader.optional_text("host") or host or "",
            username=reader.optional_text("username") or username or "",
            port=int(port),
            conn_id=conn_id,
            password_env=reader.optional_text("password_env"),
            private_key_env=reader.optional_text("private_key_env"),
            private_key_path=reader.optional_text("private_key_path"),
            private_key_passphrase_env=reader.optional_text("private_key_passphrase_env"),
            known_hosts=reader.optional_text("known_hosts"),
            host_key_fingerprint=reader.optional_text("host_key_fingerprint"),
            timeout_seconds=reader.number("timeout_seconds", 30.0, minimum=0.1, maximum=3600.0),
        )

    @property
    def address(self) -> str:
        """host:port, for messages."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def login_settings(self) -> str:
        """The settings a refused login points at."""
        return ", ".join(name for name in _SECRET_SETTINGS if getattr(self, name) is not None)


@dataclass(frozen=True)
class SftpCredentials:
    """A login: the user name and the secrets (never shown by repr)."""

    username: str
    password: str | None = field(default=None, repr=False)
    private_key: paramiko.PKey | None = field(default=None, repr=False)


def sftp_credentials(settings: SftpSettings) -> SftpCredentials:
    """The login the settings name: secrets read now from the environment or key file.

    The single place where settings become credentials (another source of secrets, such
    as an Airflow connection id, is added here). Refuses a variable that is unset or a
    key that cannot be loaded with `BadConfiguration` naming the setting, never the value.
    """
    password = from_env(settings.password_env, "password_env") if settings.password_env else None
    connection_key = None
    if settings.conn_id is not None:
        info = airflow_connection(settings.conn_id)
        password = password or info.password
        connection_key = info.extra.get("private_key")
    passphrase = None
    if settings.private_key_passphrase_env:
        passphrase = from_env(settings.private_key_passphrase_env, "private_key_passphrase_env")
    key = None
    if settings.private_key_env:
        text = from_env(settings.private_key_env, "private_key_env")
        key = load_private_key(text.encode(), passphrase, "private_key_env")
    elif settings.private_key_path:
        try:
            with open(settings.private_key_path, "rb") as handle:
                data = handle.read(1 << 20)
        except OSError as exc:
            raise BadConfiguration(
                f"cannot read the key file ({type(exc).__name__})", where="private_key_path"
            ) from None
        key = load_private_key(data, passphrase, "private_key_path")
    elif isinstance(connection_key, str) and connection_key:
        key = load_private_key(connection_key.encode(), passphrase, "conn_id (extra private_key)")
    return SftpCredentials(settings.username, password, key)


def load_private_key(data: bytes, passphrase: str | None, where: str) -> paramiko.PKey:
    """An Ed25519, ECDSA or RSA private key from PEM or OpenSSH text (as `ssh-keygen` writes)."""
    secret = passphrase.encode() if passphrase else None
    try:
        try:
            loaded: Any = serialization.load_ssh_private_key(data, password=secret)
        except ValueError:
            loaded = serialization.load_pem_private_key(data, password=secret)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise BadConfiguration(
            "is not a readable private key (wrong passphrase, or not PEM/OpenSSH text?)",
            where=where,
            hint="use an Ed25519, ECDSA or RSA key; set private_key_passphrase_env if it is encrypted",
        ) from None
    kinds: dict[type, type[paramiko.PKey]] = {
        ed25519.Ed25519PrivateKey: paramiko.Ed25519Key,
        ec.EllipticCurvePrivateKey: paramiko.ECDSAKey,
        rsa.RSAPrivateKey: paramiko.RSAKey,
    }
    for kind, key_class in kinds.items():
        if isinstance(loaded, kind):
            # paramiko reads every kind from OpenSSH text: handing it the decrypted key in that
            # form makes PKCS#8, legacy PEM and encrypted files work alike
            text = loaded.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
            )
            try:
                return key_class(file_obj=io.StringIO(text.decode("ascii")))
            except (ValueError, paramiko.SSHException):
                break
    raise BadConfiguration(
        "holds a key type that is not supported", where=where, hint="use an Ed25519, ECDSA or RSA key"
    )


class _UnknownHostKey(paramiko.SSHException):
    """The server's host key is neither in known_hosts nor the configured fingerprint."""


class _KnownKeyOnly(paramiko.MissingHostKeyPolicy):
    """Accepts a key missing from known_hosts only if it has the configured fingerprint."""

    def __init__(self, fingerprint: str | None) -> None:
        self._fingerprint = fingerprint.rstrip("=") if fingerprint else None

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        if self._fingerprint is not None and key.fingerprint == self._fingerprint:
            return
        raise _UnknownHostKey(key.get_name())


class SftpConnection:
    """One logged-in SSH connection and its SFTP session (`sftp`); `close` ends both."""

    def __init__(self, settings: SftpSettings) -> None:
        self.settings = settings
        credentials = sftp_credentials(settings)
        client = paramiko.SSHClient()
        self._client = client
        try:
            _trust(client, settings)
            self._login(client, credentials)
            with self.errors("host"):
                self.sftp = client.open_sftp()
                self.sftp.get_channel().settimeout(settings.timeout_seconds)  # type: ignore[union-attr]
        except BaseException:
            client.close()
            raise

    def _login(self, client: paramiko.SSHClient, credentials: SftpCredentials) -> None:
        settings = self.settings
        key_setting = "host_key_fingerprint" if settings.known_hosts is None else "known_hosts"
        try:
            client.connect(
                settings.host,
                port=settings.port,
                username=credentials.username,
                password=credentials.password,
                pkey=credentials.private_key,
                timeout=settings.timeout_seconds,
                banner_timeout=settings.timeout_seconds,
                auth_timeout=settings.timeout_seconds,
                channel_timeout=settings.timeout_seconds,
                allow_agent=False,
                look_for_keys=False,
            )
        except paramiko.AuthenticationException:
            raise BadConfiguration(
                "the server refused the login",
                where=settings.login_settings,
                hint="check username and the secret the named setting points at",
            ) from None
        except paramiko.BadHostKeyException:
            raise BadConfiguration(
                f"the host key of {settings.address} does not match the trusted one: "
                "the server changed its key, or something is in between",
                where=key_setting,
                hint="confirm the new key with the server's administrators before trusting it",
            ) from None
        except _UnknownHostKey as exc:
            raise BadConfiguration(
                f"the {exc} host key of {settings.address} is not trusted",
                where=key_setting,
                hint="list the server in known_hosts or set host_key_fingerprint "
                "(SHA256:..., from the server's administrators)",
            ) from None
        except (paramiko.SSHException, EOFError, OSError) as exc:  # refused, unreachable, timed out
            raise TransientError(
                f"cannot connect to the SFTP server {settings.address} ({type(exc).__name__})",
                where="host",
                hint="check the server is up and reachable from here; the run can be retried",
            ) from None

    @contextmanager
    def errors(self, where: str) -> Iterator[None]:
        """Turn a lost connection into `TransientError` naming host:port.

        SFTP status errors (`OSError` with errno ENOENT, EACCES or none) pass through for
        the caller, who knows which file it was about.
        """
        try:
            yield
        except LOST_CONNECTION as exc:
            raise self.lost(exc, where) from None

    def lost(self, exc: BaseException, where: str) -> TransientError:
        """The error for a connection that broke (one of `LOST_CONNECTION`)."""
        return TransientError(
            f"lost the connection to the SFTP server {self.settings.address} ({type(exc).__name__})",
            where=where,
            hint="check the server is up and reachable; the run can be retried",
        )

    def close(self) -> None:
        """End the session and the connection."""
        self._client.close()


def _trust(client: paramiko.SSHClient, settings: SftpSettings) -> None:
    """Load the trusted host keys and refuse any other (never add one)."""
    if settings.known_hosts is not None:
        try:
            client.load_system_host_keys(settings.known_hosts)
        except OSError as exc:
            raise BadConfiguration(
                f"cannot read the known_hosts file ({type(exc).__name__})", where="known_hosts"
            ) from None
    elif settings.host_key_fingerprint is None:
        client.load_system_host_keys()  # ~/.ssh/known_hosts, as ssh does
    client.set_missing_host_key_policy(_KnownKeyOnly(settings.host_key_fingerprint))


def read_remote(
    sftp: paramiko.SFTPClient, path: str, size: int, consume: Callable[[bytes], None]
) -> tuple[str, int]:
    """Stream a file (`size` bytes expected) to `consume` with pipelined reads.

    Returns its SHA-256 (hex) and the number of bytes read. Raises what paramiko raises:
    `OSError` (ENOENT, EACCES, other refusals), `EOFError`, `LOST_CONNECTION`.
    """
    digest, read = hashlib.sha256(), 0
    with sftp.open(path, "rb") as remote:
        remote.prefetch(size, max_concurrent_requests=_PREFETCH_REQUESTS)
        for chunk in iter(lambda: remote.read(_CHUNK), b""):
            digest.update(chunk)
            read += len(chunk)
            consume(chunk)
    return digest.hexdigest(), read
