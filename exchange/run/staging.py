"""Where staged segments live: a local folder by default, any fsspec location for workers
on several machines.

A stage writes its rows as segments `<stage id>/seg-NNNNN.arrow`, Arrow IPC files
(`exchange.run.staged_files`, ADR 0009; `.parquet` ones staged before are still read);
deliveries read them (possibly on another machine, in another Airflow worker) and commit
deletes them. By
default they live under `$GOVBUS_HOME/staging`. `GOVBUS_STAGING_URL` moves them to any
location fsspec can open — `s3://bucket/govbus/staging` (with s3fs installed),
`gs://…`, `abfs://…`, `sftp://host/path`, a shared mount as `file:///mnt/govbus/staging` —
so that every worker sees the same stages. Credentials come the way that file system
takes them (its environment variables or config files), not from the URL: a password
written in the URL is accepted but never shown (messages name the location without it).

Readiness is not the file system's job: a stage is deliverable only once the state
database says so, after every segment was written, so object stores without atomic
rename are fine. Nor is a listing cached: another worker may have written since, so
every listing and read asks the store again (fsspec caches listings per process).

S3 and S3-compatible stores (MinIO, Ceph RGW, SeaweedFS, Garage) go through s3fs, which
takes its endpoint and credentials the way the AWS SDK does (`AWS_ENDPOINT_URL_S3` or
`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, ...; `tests/exchange/run/test_staging_area.py`
runs against moto's S3 server). An unreachable store is a `TransientError` whatever
library raised it (the SDK's connection errors are not `OSError`s).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa

import audit
from exchange.run.columns import SUBJECT_REF_COLUMN
from exchange.run.staged_files import IPC_SUFFIX, PARQUET_SUFFIX, count_rows, read_staged, write_staged
from govbus.errors import BadConfiguration, TransientError

_USERINFO = re.compile(r"(?<=://)[^/@]*@")


def redact(url: str) -> str:
    """The URL without its user and password part, for messages and logs."""
    return _USERINFO.sub("***@", url)


class StagingArea:
    """The staged segments' location: `url` (fsspec) or, if empty, the local `default` folder."""

    def __init__(self, url: str, default: Path) -> None:
        self._local = not url
        self.location = str(default) if self._local else redact(url)
        self._errors: tuple[type[BaseException], ...] = (OSError,)
        # Staged files uncompressed on a local disk, zstd where bytes travel (ADR 0009).
        self.compression: str | None = None if self._local else "zstd"
        if self._local:
            self._fs: Any = None
            self._root = str(default)
            return
        try:
            import fsspec

            self._fs, self._root = fsspec.core.url_to_fs(url)
        except (ImportError, ValueError) as exc:  # unknown protocol or its package is missing
            raise BadConfiguration(
                f"cannot open the staging location {self.location} ({exc.__class__.__name__}: "
                f"{redact(str(exc))[:200]})",
                where="environment variable GOVBUS_STAGING_URL",
                hint="use a URL fsspec knows (file://, s3://, gs://, sftp://...) and install its "
                "package (s3fs, gcsfs, ...), or unset it to stage under GOVBUS_HOME",
            ) from None
        except Exception as exc:  # a file system's own connect error (SSH, cloud SDKs)
            raise self._unreachable("open", exc) from None
        self._root = self._root.rstrip("/")
        self._errors = _store_errors()

    def segment_name(self, stage_id: str, segment: int) -> str:
        """The name of a stage's segment: `seg-NNNNN.arrow`, or the `.parquet` one a stage
        staged before ADR 0009 wrote (looked for only when no `.arrow` file is there)."""
        name = _segment(stage_id, segment, IPC_SUFFIX)
        legacy = _segment(stage_id, segment, PARQUET_SUFFIX)
        return legacy if not self.exists(name) and self.exists(legacy) else name

    def write_segment(self, stage_id: str, segment: int, table: pa.Table) -> None:
        """Write one segment; durable when this returns (a stage is marked staged after)."""
        self.write_table(_segment(stage_id, segment, IPC_SUFFIX), table)

    def read_segment(self, stage_id: str, segment: int) -> pa.Table:
        """Read one segment back (whole: a segment is one bounded batch)."""
        try:
            return self._read(_segment(stage_id, segment, IPC_SUFFIX), None)
        except FileNotFoundError:  # staged before ADR 0009
            return self.read_table(_segment(stage_id, segment, PARQUET_SUFFIX))

    def write_table(self, name: str, table: pa.Table) -> None:
        """Write a staged file at `name` (a relative path such as `stage/seg-00000.arrow`),
        in the format its name says (`exchange.run.staged_files`)."""
        path = f"{self._root}/{name}"
        folder = path.rsplit("/", 1)[0]
        if self._local:
            Path(folder).mkdir(parents=True, exist_ok=True)
            write_staged(path, name, table, self.compression)
            return
        try:
            self._fs.makedirs(folder, exist_ok=True)
            with self._fs.open(path, "wb") as handle:
                write_staged(handle, name, table, self.compression)
        except self._errors as exc:
            raise self._unreachable("write a staged file to", exc) from None

    def read_table(self, name: str, columns: list[str] | None = None) -> pa.Table:
        """Read the staged file at `name` (only `columns`, when given).

        The rows' audit pseudonyms (`_subject_ref`) come back raw, as stages write them
        (ADR 0008), also from a file staged before, when they were hex.
        """
        try:
            return self._read(name, columns)
        except FileNotFoundError as exc:
            if self._local:
                raise
            raise self._unreachable("read a staged file from", exc) from None

    def _read(self, name: str, columns: list[str] | None) -> pa.Table:
        """`read_table`, but a missing file raises FileNotFoundError wherever it is."""
        path = f"{self._root}/{name}"
        if self._local:
            return _raw_refs(read_staged(path, name, columns))
        try:
            self._fs.invalidate_cache(path)
            with self._fs.open(path, "rb") as handle:
                return _raw_refs(read_staged(handle, name, columns))
        except FileNotFoundError:
            raise
        except self._errors as exc:
            raise self._unreachable("read a staged file from", exc) from None

    def num_rows(self, name: str) -> int:
        """Rows in the staged file at `name`, from its footer (no column is decoded)."""
        path = f"{self._root}/{name}"
        if self._local:
            return count_rows(path, name)
        try:
            self._fs.invalidate_cache(path)
            with self._fs.open(path, "rb") as handle:
                return count_rows(handle, name)
        except self._errors as exc:
            raise self._unreachable("read a staged file from", exc) from None

    def exists(self, name: str) -> bool:
        """Whether the staged file `name` is there."""
        path = f"{self._root}/{name}"
        if self._local:
            return Path(path).is_file()
        try:
            self._fs.invalidate_cache(path)
            return bool(self._fs.exists(path))
        except self._errors as exc:
            raise self._unreachable("look into", exc) from None

    def keep_copy(self, name: str, copy: str) -> None:
        """Make `copy` hold the file at `name` too: a hard link on a local disk, else a copy.

        The original stays where it is, so a step that fails after this is retried as if
        it had not run (the copy is then an orphan its next run removes).
        """
        source, target = f"{self._root}/{name}", f"{self._root}/{copy}"
        if self._local:
            import os
            import shutil

            Path(target).parent.mkdir(parents=True, exist_ok=True)
            Path(target).unlink(missing_ok=True)
            try:
                os.link(source, target)
            except OSError:  # another device, or a file system without hard links
                shutil.copyfile(source, target)
            return
        try:
            self._fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
            try:
                self._fs.copy(source, target)
            except NotImplementedError:  # a file system without server-side copy (SFTP)
                with self._fs.open(source, "rb") as src, self._fs.open(target, "wb") as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
        except self._errors as exc:
            raise self._unreachable("copy a staged file within", exc) from None

    def replace(self, name: str, target: str) -> None:
        """Move the file at `name` over `target` in one step (a rename on a local disk).

        A new file, not a rewrite of the old one: a hard link to `target` made earlier
        (a snapshot part linked from a segment) keeps what it held.
        """
        source, dest = f"{self._root}/{name}", f"{self._root}/{target}"
        if self._local:
            import os

            os.replace(source, dest)
            return
        try:
            self._fs.mv(source, dest)
        except self._errors as exc:
            raise self._unreachable("move a staged file within", exc) from None

    def names_in(self, folder: str) -> list[str]:
        """The file names directly in `folder` (relative); empty when it does not exist."""
        path = f"{self._root}/{folder}"
        if self._local:
            where = Path(path)
            return sorted(p.name for p in where.iterdir() if p.is_file()) if where.is_dir() else []
        try:
            self._fs.invalidate_cache(path)
            return sorted(str(p).rsplit("/", 1)[-1] for p in self._fs.ls(path, detail=False))
        except FileNotFoundError:
            return []
        except self._errors as exc:
            raise self._unreachable("list", exc) from None

    def remove(self, name: str) -> None:
        """Delete the file at `name`; absent is fine."""
        path = f"{self._root}/{name}"
        if self._local:
            Path(path).unlink(missing_ok=True)
            return
        try:
            self._fs.rm(path)
        except FileNotFoundError:
            pass
        except self._errors as exc:
            raise self._unreachable("delete a file from", exc) from None

    def discard(self, stage_id: str) -> None:
        """Delete a stage's segments (committed, or a crashed attempt); absent is fine."""
        folder = f"{self._root}/{stage_id}"
        if self._local:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
            return
        try:
            self._fs.rm(folder, recursive=True)
        except FileNotFoundError:
            pass
        except self._errors as exc:
            raise self._unreachable("delete a stage from", exc) from None

    def _unreachable(self, action: str, exc: BaseException) -> TransientError:
        return TransientError(
            f"cannot {action} the staging location {self.location} ({type(exc).__name__})",
            where="environment variable GOVBUS_STAGING_URL",
            hint="check the location is reachable and writable; the step can be retried",
        )


def _store_errors() -> tuple[type[BaseException], ...]:
    """What a remote store raises when it cannot be reached or refuses: OSError, and the
    AWS SDK's own errors when s3fs loaded it (botocore's connection errors are not OSErrors)."""
    errors: list[type[BaseException]] = [OSError]
    botocore = sys.modules.get("botocore.exceptions")
    if botocore is not None:
        errors += [botocore.BotoCoreError, botocore.ClientError]
    return tuple(errors)


def _segment(stage_id: str, segment: int, suffix: str) -> str:
    return f"{stage_id}/seg-{segment:05d}{suffix}"


def _raw_refs(table: pa.Table) -> pa.Table:
    """`table` with a hex `_subject_ref` column (staged before ADR 0008) converted to raw."""
    index = table.schema.get_field_index(SUBJECT_REF_COLUMN)
    if index < 0 or table.schema.field(index).type == audit.RAW_REF_TYPE:
        return table
    return table.set_column(index, SUBJECT_REF_COLUMN, audit.refs_as_raw(table.column(index)))
