"""`SftpSink`: one file per batch id in a folder on an SFTP server, written atomically.

The file is rendered by the matching local file sink (`CsvSink`, `JsonLinesSink`,
`AvroSink`, `ParquetSink`) into a local temporary folder, so its bytes are exactly what
the local sink writes, then uploaded:

* under a temporary dot-name in the target folder (`.<name>.tmp-<random>`, which every
  drop-folder reader ignores), its size confirmed by the server;
* then renamed over `<directory>/<batch_id>.<suffix>` with the `posix-rename@openssh.com`
  extension (atomic; a reader sees the whole file or none). A server without it gets a
  plain rename, after removing an older file of that name (never a half file, but for a
  moment no file).

A retry of the same batch id never duplicates: if the final file already holds the same
bytes (same size, same SHA-256), nothing is uploaded; otherwise it is replaced. (Avro
files carry a random sync marker, so a retried Avro batch replaces an equivalent file.)
A failed upload removes its temporary file; one the connection dropped during cannot be
removed then, so the sink's first write sweeps the folder: temporaries of this naming
last modified more than `STALE_TEMPORARY_SECONDS` ago are removed (a live upload keeps
touching its file; the writer of a remote file cannot be asked). The receipt lists
(file name, sha256). `directory` is created if missing.

Signed manifests (`connectors.ManifestStore`): `write_manifest` uploads the batch's
`<batch_id>.manifest.json`, its `.manifest.sig` and the bus's public key beside the
batch file, each the same atomic way (manifest last), so the recipient verifies its
folder on the server exactly as a local one (`govbus verify-delivery FOLDER`).
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import secrets
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from connectors.atomic_files import check_batch_id
from connectors.base import DeliveryManifest, Sink, SinkReceipt
from connectors.sftp.session import LOST_CONNECTION, SftpConnection, SftpSettings, read_remote
from govbus.errors import BadConfiguration, BadInput, TransientError


class SftpSink:
    """Writes each batch as `<directory>/<batch_id>.<suffix>` on the server (see the module doc).

    `local_sink(folder)` makes the local file sink whose file is uploaded, e.g.
    `lambda folder: CsvSink(folder, delimiter=";")`.
    """

    def __init__(self, server: SftpSettings, directory: str, local_sink: Callable[[Path], Sink]) -> None:
        if not isinstance(directory, str) or not directory or "\x00" in directory:
            raise BadConfiguration("must be a folder path on the server", where="directory")
        self._server = server
        self._directory = directory
        self._local_sink = local_sink
        self._connection: SftpConnection | None = None
        self._swept = False

    def write(self, batch_id: str, data: pa.Table) -> SinkReceipt:
        """Write the batch's file; the same bytes already there make it a no-op."""
        check_batch_id(batch_id)
        if not isinstance(data, pa.Table):
            raise BadInput("must be a pyarrow Table", where="data")
        with tempfile.TemporaryDirectory(prefix="govbus-sftp-") as folder:
            local = self._local_sink(Path(folder)).write(batch_id, data)
            [(name, digest)] = local.files
            path = Path(folder) / name
            if self._connection is None:
                self._connection = SftpConnection(self._server)
            try:
                with self._connection.errors("directory"):
                    remote = self._upload(self._connection, path, name, digest)
            except TransientError:
                self.close()  # the next write reconnects
                raise
        location = f"sftp://{self._server.address}{remote}"
        return SinkReceipt(batch_id=batch_id, rows=local.rows, location=location, files=local.files)

    def write_manifest(self, manifest: DeliveryManifest) -> str:
        """Upload the manifest, its signature and the public key beside the batch file."""
        check_batch_id(manifest.batch_id)
        manifest_name, signature_name, key_name = manifest.names
        documents = (
            (key_name, manifest.public_key_pem),
            (signature_name, manifest.signature),
            (manifest_name, manifest.data),
        )
        with tempfile.TemporaryDirectory(prefix="govbus-sftp-") as folder:
            if self._connection is None:
                self._connection = SftpConnection(self._server)
            try:
                with self._connection.errors("directory"):
                    for name, data in documents:
                        check_batch_id(name)
                        path = Path(folder) / name
                        path.write_bytes(data)
                        remote = self._upload(self._connection, path, name, hashlib.sha256(data).hexdigest())
            except TransientError:
                self.close()
                raise
        return f"sftp://{self._server.address}{remote}"

    def close(self) -> None:
        """End the connection."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _upload(self, connection: SftpConnection, path: Path, name: str, digest: str) -> str:
        """Put `path` at `<directory>/<name>` atomically unless it is there already; its remote path."""
        sftp = connection.sftp
        temporary = None
        try:
            directory = self._folder(connection)
            target = posixpath.join(directory, name)
            size = path.stat().st_size
            if _same_file(connection, target, size, digest):
                return target  # a retry: the same bytes are already in place
            temporary = posixpath.join(directory, f".{name}.tmp-{secrets.token_hex(8)}")
            with open(path, "rb") as handle:
                sftp.putfo(handle, temporary, file_size=size, confirm=True)
            try:
                sftp.posix_rename(temporary, target)
            except OSError as exc:
                if exc.errno is not None or isinstance(exc, LOST_CONNECTION):
                    raise
                _replace_without_posix_rename(connection, temporary, target)  # unsupported by the server
            return target
        except BaseException as exc:
            if temporary is not None and not isinstance(exc, LOST_CONNECTION):
                _remove_quietly(connection, temporary)
            if isinstance(exc, PermissionError):
                raise BadConfiguration(
                    "the SFTP user may not write the batch file there (permission denied)",
                    where="directory",
                ) from None
            if isinstance(exc, OSError) and not isinstance(exc, LOST_CONNECTION):
                raise TransientError(
                    f"cannot write the batch file on the server ({type(exc).__name__})",
                    where="directory",
                    hint="check the server has free space; the run can be retried",
                ) from None
            raise

    def _folder(self, connection: SftpConnection) -> str:
        """The resolved target folder, created (with its parents) if missing."""
        sftp = connection.sftp
        missing: list[str] = []
        current = self._directory.rstrip("/") or "/"
        while current not in ("", "/") and not _exists(connection, current):
            missing.append(current)
            current = posixpath.dirname(current)
        for folder in reversed(missing):
            try:
                sftp.mkdir(folder)
            except OSError:
                if not _exists(connection, folder):  # not made by a concurrent writer either
                    raise
        resolved = sftp.normalize(self._directory)
        if not stat.S_ISDIR(sftp.stat(resolved).st_mode or 0):
            raise BadConfiguration("is not a folder on the server", where="directory")
        if not self._swept:
            sweep_remote_temporaries(connection, resolved)
            self._swept = True
        return resolved


STALE_TEMPORARY_SECONDS = 3600
_TEMPORARY = re.compile(r"^\..+\.tmp-[0-9a-f]{16}$")


def sweep_remote_temporaries(
    connection: SftpConnection, directory: str, *, now: float | None = None
) -> list[str]:
    """Remove this sink's upload temporaries in `directory` not modified for an hour; their names."""
    now = time.time() if now is None else now
    removed = []
    for entry in connection.sftp.listdir_attr(directory):
        modified = entry.st_mtime or 0
        if _TEMPORARY.match(entry.filename) and now - modified > STALE_TEMPORARY_SECONDS:
            _remove_quietly(connection, posixpath.join(directory, entry.filename))
            removed.append(entry.filename)
    return removed


def _exists(connection: SftpConnection, path: str) -> bool:
    try:
        connection.sftp.stat(path)
    except FileNotFoundError:
        return False
    return True


def _same_file(connection: SftpConnection, path: str, size: int, digest: str) -> bool:
    """Does `path` hold a regular file of `size` bytes with this SHA-256?"""
    try:
        existing = connection.sftp.lstat(path)
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(existing.st_mode or 0) or existing.st_size != size:
        return False
    return read_remote(connection.sftp, path, size, lambda chunk: None)[0] == digest


def _replace_without_posix_rename(connection: SftpConnection, temporary: str, target: str) -> None:
    """For servers without posix-rename: remove an older file, then a plain rename."""
    try:
        connection.sftp.remove(target)
    except FileNotFoundError:
        pass
    connection.sftp.rename(temporary, target)


def _remove_quietly(connection: SftpConnection, path: str) -> None:
    try:
        connection.sftp.remove(path)
    except (OSError, *LOST_CONNECTION):
        pass  # a temporary left behind is a dot-file every reader ignores
