"""What a run will need, checked before it starts (`govbus check`), contacting nothing.

For every dataset's source and every subscription's sink, `preflight` goes through what
building and running the connector will do, and reports each finding with the file and
line that declares the connector:

* every `${VARIABLE}` of its settings, every environment variable its `*_env` settings
  name and every Airflow connection its `conn_id` names must resolve — else *missing*;
* every local path (drop and archive folders, files, copybooks, SQLite databases) must
  resolve, `..` and symlinks included, under an allowed root — else an *error*
  (`exchange.catalog.connector_settings`), and must exist where the run reads it — else
  *missing* (a sink's folder is created on its first write; a SQLite sink's folder is not);
* the settings must be what the connector accepts, SQL table and column names plain
  identifiers included (a sink's columns are what the subscription delivers) — else an
  *error*.

An error is wrong wherever the catalog runs; a missing item may only be missing here
(a secret set on the workers, a folder the agency creates). With `connect`, each source
is also asked for one record (read and dropped: nothing is staged or delivered).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

import connectors
from exchange.catalog.connector_settings import VAR, expand_settings, path_rules
from exchange.catalog.model import Catalog, Dataset, Subscription
from govbus.errors import GovBusError

__all__ = ["Finding", "preflight"]


@dataclass(frozen=True)
class Finding:
    """One thing a run would trip over: `missing` (here, maybe not where runs happen) or an error."""

    file: str
    line: int | None
    field: str
    message: str
    missing: bool

    def __str__(self) -> str:
        place = f"{self.file}:{self.line}" if self.line else self.file
        return f"{place}: {self.field}: {self.message}"


@dataclass
class _Connector:
    """One source or sink as declared: its settings, where, and what it reads and writes."""

    settings: Mapping[str, Any]
    file: str
    line: int | None
    field: str
    role: str
    env: Mapping[str, str]
    key_fields: tuple[str, ...]
    cursor_field: str | None = None
    schema: pa.Schema | None = None


def preflight(
    catalog: Catalog,
    env: Mapping[str, str],
    *,
    schema_of: Callable[[Dataset, Subscription], pa.Schema],
    allowed: tuple[Path, ...] = (),
    connect: bool = False,
) -> list[Finding]:
    """Every finding for `catalog` run with environment `env` (which holds GOVBUS_HOME);
    `schema_of` gives what a subscription delivers, `allowed` the operator's roots."""
    findings: list[Finding] = []
    shown = _shower(catalog.root)
    for dataset in sorted(catalog.datasets.values(), key=lambda d: d.id):
        contract = dataset.contract
        declared = _Connector(
            contract.source,
            shown(Path(contract.path)),
            contract.line_of("source"),
            "source",
            "source",
            {**env, "DATASET_DIR": str(dataset.directory)},
            tuple(contract.key_fields),
            cursor_field=contract.cursor_field,
        )
        findings += _check(declared, allowed, connect)
    for sub in sorted(catalog.subscriptions.values(), key=lambda s: s.id):
        dataset = catalog.datasets.get(sub.dataset)
        if dataset is None:
            continue
        schema = schema_of(dataset, sub)
        keys = tuple(k for k in dataset.contract.key_fields if k in schema.names)
        declared = _Connector(
            sub.sink, sub.file, sub.line, f"{sub.id}: sink", "sink", env, keys, schema=schema
        )
        findings += _check(declared, allowed, False)
    return findings


def _check(declared: _Connector, allowed: tuple[Path, ...], connect: bool) -> list[Finding]:
    found: list[Finding] = []

    def note(setting: str, message: str, *, missing: bool) -> None:
        field = f"{declared.field}: {setting}" if setting else declared.field
        line = getattr(declared.settings, "lines", {}).get(setting, declared.line)
        found.append(Finding(declared.file, line, field, message, missing))

    settings, env = declared.settings, declared.env
    unset = [
        (key, name)
        for key, value in settings.items()
        if isinstance(value, str)
        for name in VAR.findall(value)
        if name not in env
    ]
    for key, name in unset:
        note(key, f"environment variable {name} is not set", missing=True)
    known = {key: value for key, value in settings.items() if key not in dict(unset)}
    rules = path_rules(env, base=getattr(settings, "folder", None), extra=allowed)
    try:
        expanded = expand_settings(known, env=env, where=declared.field, rules=rules)
    except GovBusError as exc:
        note(_setting(exc.where, declared.field), _said(exc), missing=False)
        return found
    for setting, kind, name in connectors.secret_references(expanded):
        if kind == "env" and not env.get(name):
            note(setting, f"environment variable {name} is not set", missing=True)
        elif kind == "conn":
            try:
                connectors.airflow_connection(name, setting)
            except GovBusError as exc:
                note(setting, f"Airflow connection {name}: {exc.message}", missing=True)
    if found:
        return found  # the connector cannot be built without them: what is missing was said
    for setting in connectors.local_paths(expanded):
        message = _absent(expanded, setting, declared.role)
        if message:
            note(setting, message, missing=True)
            if setting == "copybook":
                return found  # building reads the copybook
    try:
        connectors.check_settings(
            expanded,
            role=declared.role,
            key_fields=declared.key_fields,
            cursor_field=declared.cursor_field,
            schema=declared.schema,
        )
    except GovBusError as exc:
        note(exc.where or "", _said(exc), missing=False)
        return found
    if connect and declared.role == "source":
        found += _contact(declared, expanded)
    return found


def _absent(settings: Mapping[str, Any], setting: str, role: str) -> str | None:
    """Why the path `setting` names is not there for a run (None when it is, or need not be)."""
    value = str(settings[setting])
    if setting == "url":  # a SQLite database: its folder must exist; a source reads the file
        path = Path(sa.make_url(value).database or "")
        if role == "source" and not path.is_file():
            return f"the SQLite database {path} does not exist"
        return None if path.parent.is_dir() else f"the SQLite database's folder {path.parent} does not exist"
    path = Path(value)
    if role == "sink" or setting == "archive_directory":
        return None  # created on the first write, or on the first archived file
    if setting in ("directory",) and not path.is_dir():
        return f"the folder {path} does not exist"
    if setting in ("path", "copybook") and not path.is_file():
        return f"the file {path} does not exist"
    return None


def _contact(declared: _Connector, settings: dict[str, Any]) -> list[Finding]:
    """Read one record from the source (dropped at once), to prove it answers."""
    try:
        source = connectors.make_source(
            settings, key_fields=declared.key_fields, cursor_field=declared.cursor_field
        )
        try:
            next(iter(source.read(None, batch_size=1)), None)
        finally:
            source.close()
    except GovBusError as exc:
        message = f"could not be read: {_said(exc)}"
        return [Finding(declared.file, declared.line, declared.field, message, missing=False)]
    return []


def _setting(where: str | None, prefix: str) -> str:
    """The setting `where` names, without the leading `prefix: ` the finding already says."""
    return (where or "").removeprefix(f"{prefix}: ").removeprefix(prefix)


def _said(exc: GovBusError) -> str:
    """An error's message and hint (its `where` is the finding's place)."""
    return exc.message + (f" ({exc.hint})" if exc.hint else "")


def _shower(root: Path) -> Callable[[Path], str]:
    base = root.parent

    def shown(path: Path) -> str:
        try:
            return str(path.resolve().relative_to(base))
        except ValueError:
            return str(path)

    return shown
