"""`arrow_log`: an append-only log of Arrow IPC files, as a GovBus connector.

The system: a directory holding the batch files `<batch id>.arrow` and `manifest.jsonl`,
the commit log, one line per committed batch: {"batch": id, "file": name, "rows": n}.

* The sink writes a batch's file (under a temporary name, renamed into place), then
  commits it by appending its manifest line. A batch id already in the manifest is not
  written again: a retry after a crash has the effect of one write. A crash before the
  commit leaves a file the manifest does not name, which readers ignore.
* The source reads the committed batches in commit order, one record batch of the file
  at a time (memory does not grow with the log). Its cursor is the position after the
  last row delivered: {"version": 1, "entry": manifest lines done, "rows": rows of the
  next line's file done}.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from connectors import Cursor, SinkReceipt, SourceBatch
from govbus.errors import BadConfiguration, BadInput

MANIFEST = "manifest.jsonl"
RECORD_BATCH_ROWS = 10_000
_BATCH_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}")
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def factory(settings: Mapping[str, Any], *, role: str, **options: Any) -> ArrowLogSource | ArrowLogSink:
    """The `govbus.connectors` entry point: `{connector: arrow_log, directory: …}`."""
    for name in settings:
        if name not in ("connector", "directory"):  # name it only if it is a plain name
            shown = name if isinstance(name, str) and _NAME.fullmatch(name) else "?"
            raise BadConfiguration(f"unknown setting '{shown}'", where=shown, hint="known: directory")
    directory = settings.get("directory")
    if not isinstance(directory, str) or not directory:
        raise BadConfiguration("missing setting 'directory'", where="directory", hint="a folder path")
    if role == "sink":
        return ArrowLogSink(Path(directory))
    if options.get("cursor_field") is not None:
        raise BadConfiguration(
            "an Arrow log is read in commit order and takes no cursor field",
            where="cursor_field",
            hint="remove cursor_field from the contract",
        )
    return ArrowLogSource(Path(directory))


def committed(directory: Path) -> list[dict[str, Any]]:
    """The manifest's complete lines (a line cut short by a crash is not committed)."""
    try:
        text = (directory / MANIFEST).read_bytes()
    except FileNotFoundError:
        return []
    complete = text[: text.rfind(b"\n") + 1]
    return [json.loads(line) for line in complete.splitlines()]


class ArrowLogSink:
    """Writes each batch as `<batch id>.arrow` and commits it in the manifest, once."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def write(self, batch_id: str, data: pa.Table) -> SinkReceipt:
        """Write and commit the batch, unless the manifest has it already."""
        if not isinstance(batch_id, str) or not _BATCH_ID.fullmatch(batch_id):
            raise BadInput("is not a safe batch id", where="batch_id", hint="letters, digits, . _ -")
        self._directory.mkdir(parents=True, exist_ok=True)
        name = f"{batch_id}.arrow"
        for entry in committed(self._directory):
            if entry["batch"] == batch_id:  # a retry: written and committed before
                return SinkReceipt(batch_id, entry["rows"], str(self._directory / name))
        temporary = self._directory / f".{name}.tmp"
        with pa.OSFile(str(temporary), "wb") as handle, pa.ipc.new_file(handle, data.schema) as writer:
            writer.write_table(data, max_chunksize=RECORD_BATCH_ROWS)
        _fsync(temporary)
        os.replace(temporary, self._directory / name)
        self._commit({"batch": batch_id, "file": name, "rows": data.num_rows})
        return SinkReceipt(batch_id, data.num_rows, str(self._directory / name))

    def close(self) -> None:
        """Nothing to release: each write is durable when it returns."""

    def _commit(self, entry: dict[str, Any]) -> None:
        manifest = self._directory / MANIFEST
        with open(manifest, "ab+") as handle:
            handle.seek(0)
            text = handle.read()
            handle.truncate(text.rfind(b"\n") + 1)  # drop a line a crash cut short
            handle.write(json.dumps(entry).encode() + b"\n")
            handle.flush()
            os.fsync(handle.fileno())


class ArrowLogSource:
    """Reads the committed batches in commit order, resumable at any row."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def read(self, cursor: Cursor | None, *, batch_size: int = 50_000) -> Iterator[SourceBatch]:
        """Yield batches of at most `batch_size` rows after `cursor` (one file per batch)."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise BadInput("must be a positive integer", where="batch_size")
        entry, done = _position(cursor)
        return self._batches(entry, done, batch_size)

    def close(self) -> None:
        """Nothing to release: files are closed after each read."""

    def _batches(self, entry: int, done: int, batch_size: int) -> Iterator[SourceBatch]:
        entries = committed(self._directory)
        for index in range(entry, len(entries)):
            with pa.OSFile(str(self._directory / entries[index]["file"])) as handle:
                for table in _rebatched(pa.ipc.open_file(handle), done, batch_size):
                    done += table.num_rows
                    at = (index + 1, 0) if done == entries[index]["rows"] else (index, done)
                    yield SourceBatch(table, {"version": 1, "entry": at[0], "rows": at[1]})
            done = 0


def _rebatched(reader: pa.ipc.RecordBatchFileReader, skip: int, size: int) -> Iterator[pa.Table]:
    """The file's rows after the first `skip`, in tables of `size` rows (the last may have
    fewer), reading one record batch at a time."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for i in range(reader.num_record_batches):
        batch = reader.get_batch(i)
        if skip >= batch.num_rows:
            skip -= batch.num_rows
            continue
        batch, skip = batch.slice(skip), 0
        pending.append(batch)
        count += batch.num_rows
        while count >= size:
            table = pa.Table.from_batches(pending, reader.schema)
            yield table.slice(0, size)
            rest = table.slice(size)
            pending, count = rest.to_batches(), rest.num_rows
    if count:
        yield pa.Table.from_batches(pending, reader.schema)


def _position(cursor: Cursor | None) -> tuple[int, int]:
    if cursor is None:
        return 0, 0
    if not isinstance(cursor, dict):
        raise BadInput("not a cursor of an Arrow log", where="cursor", hint="reset the dataset's cursor")
    entry, rows = cursor.get("entry"), cursor.get("rows")
    counts = [value for value in (entry, rows) if isinstance(value, int) and not isinstance(value, bool)]
    if cursor.get("version") != 1 or len(counts) != 2 or min(counts) < 0:
        raise BadInput("not a cursor of an Arrow log", where="cursor", hint="reset the dataset's cursor")
    return entry, rows


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
