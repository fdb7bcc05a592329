"""A real SFTP server for the tests: asyncssh, in-process, on 127.0.0.1, a random port.

`SftpTestServer(root)` serves the folder `root` as its `/` (asyncssh's chroot: paths are
mapped under it), with a freshly generated Ed25519 host key, one user who may log in
with a password or with either of two generated keys (an Ed25519 key in OpenSSH text,
an ECDSA key as passphrase-protected PKCS#8 PEM). The asyncio loop runs in a daemon
thread; `with SftpTestServer(root) as server:` starts and stops it.

Two switches make it behave like other servers: `posix_rename=False` answers the
posix-rename extension with "unsupported", and files whose name starts with `denied`
cannot be opened (permission denied; the tests run as root, so chmod cannot do that).

The fixtures `sftp_server` (one per test module) and `sftp_folder` (a fresh folder on it,
with the password in `PASSWORD_ENV`) are in `tests/connectors/conftest.py`.
"""

from __future__ import annotations

import asyncio
import threading
from functools import partial
from pathlib import Path
from typing import Any

import asyncssh

PASSWORD_ENV = "GOVBUS_TEST_SFTP_PASSWORD"
"""The variable the `sftp_folder` fixture puts the password in (settings name it)."""
USERNAME = "agency"
PASSWORD = "s3cret-Pa55word"
KEY_PASSPHRASE = "key-Pa55phrase"


class _Server(asyncssh.SSHServer):
    def __init__(self, keys: list[bytes]) -> None:
        self._keys = keys

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == USERNAME and password == PASSWORD

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        return username == USERNAME and key.public_data in self._keys


class _Sftp(asyncssh.SFTPServer):
    def __init__(self, chan: Any, *, root: Path, posix_rename: bool) -> None:
        super().__init__(chan, chroot=str(root))
        self._posix_rename = posix_rename

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> Any:
        if Path(path.decode()).name.startswith("denied"):
            raise asyncssh.SFTPPermissionDenied("Permission denied")
        return super().open(path, pflags, attrs)

    def posix_rename(self, oldpath: bytes, newpath: bytes) -> Any:
        if not self._posix_rename:
            raise asyncssh.SFTPOpUnsupported("Operation unsupported")
        return super().posix_rename(oldpath, newpath)


class SftpTestServer:
    """An SFTP server on 127.0.0.1 serving `root` (see the module doc)."""

    host = "127.0.0.1"
    username = USERNAME
    password = PASSWORD
    key_passphrase = KEY_PASSPHRASE

    def __init__(self, root: Path, *, posix_rename: bool = True) -> None:
        self.root = root
        self._posix_rename = posix_rename
        self._host_key = asyncssh.generate_private_key("ssh-ed25519")
        ed25519 = asyncssh.generate_private_key("ssh-ed25519")
        ecdsa = asyncssh.generate_private_key("ecdsa-sha2-nistp256")
        self.ed25519_key = ed25519.export_private_key("openssh").decode()
        self.ecdsa_key = ecdsa.export_private_key("pkcs8-pem", passphrase=KEY_PASSPHRASE).decode()
        self._keys = [ed25519.public_data, ecdsa.public_data]
        self.host_key_fingerprint = self._host_key.get_fingerprint("sha256")
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="sftp-test-server", daemon=True)
        self._acceptor: Any = None

    def known_hosts_line(self) -> str:
        """The server's entry for an OpenSSH known_hosts file."""
        return _known_hosts_line(self._host_key, self.host, self.port)

    async def _listen(self) -> Any:
        return await asyncssh.listen(
            self.host,
            0,
            server_host_keys=[self._host_key],
            server_factory=partial(_Server, self._keys),
            sftp_factory=partial(_Sftp, root=self.root, posix_rename=self._posix_rename),
            allow_scp=False,
        )

    def start(self) -> SftpTestServer:
        self._thread.start()
        self._acceptor = asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout=30)
        self.port = self._acceptor.get_port()
        return self

    def stop(self) -> None:
        async def close() -> None:
            self._acceptor.close()
            await self._acceptor.wait_closed()
            sessions = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in sessions:  # sessions of clients that did not say goodbye
                task.cancel()
            await asyncio.gather(*sessions, return_exceptions=True)

        if self._acceptor is not None:
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()

    def __enter__(self) -> SftpTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def connector_settings(
    server: SftpTestServer, folder: Path, connector: str = "sftp_csv", **extra: Any
) -> dict:
    """Settings of an `sftp_*` connector for `folder` (under `server.root`): password login
    (from `PASSWORD_ENV`), pinned host key; `extra` adds or overrides settings."""
    return {
        "connector": connector,
        "host": server.host,
        "port": server.port,
        "username": server.username,
        "password_env": PASSWORD_ENV,
        "host_key_fingerprint": server.host_key_fingerprint,
        "directory": "/" + folder.relative_to(server.root).as_posix(),
        **extra,
    }


def stranger_host_key(host: str, port: int) -> tuple[str, str]:
    """Another server's key for `host`:`port`: its fingerprint and known_hosts line."""
    key = asyncssh.generate_private_key("ssh-ed25519")
    return key.get_fingerprint("sha256"), _known_hosts_line(key, host, port)


def _known_hosts_line(key: asyncssh.SSHKey, host: str, port: int) -> str:
    kind, data = key.export_public_key("openssh").decode().split()[:2]
    return f"[{host}]:{port} {kind} {data}\n"
