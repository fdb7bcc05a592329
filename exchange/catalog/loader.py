"""The catalog: agencies, purposes, statutes, dataset contracts and subscriptions.

The catalog is declarations in git (docs/catalog.md). `load_catalog` reads it
whole and refuses it with every problem listed, each naming the file, line and field;
`check_catalog` returns the same problems without raising (for `govbus check`).
Secrets never appear in it: connector settings may only reference `${ENV_VARS}`,
expanded (and their paths confined) at run time by `expand_settings`
(`exchange.catalog.connector_settings`).

How problems are reported:
* a YAML error (syntax, indentation, nesting too deep) names its file and line, in every
  catalog file;
* one root cause, one problem: while a file cannot be read (agencies.yaml with a
  typo, a contract that fails its lint), the rules that need its content — "unknown
  agency", "unknown purpose", "unknown dataset", "unknown statute" — are not reported
  for the other files (`subscription_rules.Broken`);
* every missing key and every value of the wrong type in a file at once, each with its
  line and the type expected (agencies.yaml, purposes.yaml and legal-bases.yaml entries
  here, subscriptions in `exchange.catalog.subscription_rules`), never a TypeError.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import consent
import contracts
import schemas
from contracts import Problem
from exchange.catalog import protection
from exchange.catalog.connector_settings import CatalogSettings, expand_settings
from exchange.catalog.lint_cache import FILE_NAME as LINT_CACHE_FILE
from exchange.catalog.lint_cache import LintCache, contract_digest
from exchange.catalog.model import Agency, Catalog, Dataset, Subscription
from exchange.catalog.subscription_rules import Broken, check_subscription, subscription_from, type_name
from govbus.errors import BadConfiguration, GovBusError
from govbus.yamlfile import MarkedDict, YamlFileError, load_marked

__all__ = [  # the model lives in exchange.catalog.model; it is imported from here
    "Agency",
    "Catalog",
    "CatalogSettings",
    "Dataset",
    "Problem",
    "Subscription",
    "check_catalog",
    "check_subscription",
    "expand_settings",
    "load_catalog",
]

_TEXT, _LIST, _DATE = (str,), (list,), (str, date)
# The keys of each entry of purposes.yaml and legal-bases.yaml: (types, required). The
# rules beyond types (codes, dates, unknown keys) are consent's loaders'.
_ENTRY_KEYS: dict[str, dict[str, tuple[tuple[type, ...], bool]]] = {
    "purposes": {"code": (_TEXT, True), "description": (_TEXT, True)},
    "statutes": {
        "id": (_TEXT, True),
        "law": (_TEXT, True),
        "dataset": (_TEXT, True),
        "recipient": (_TEXT, True),
        "purpose": (_TEXT, True),
        "fields": (_LIST, True),
        "valid_from": (_DATE, False),
        "valid_until": (_DATE, False),
        "linkage_domain": (_TEXT, False),
    },
}
_AGENCY_KEYS = {
    "id": (_TEXT, True),
    "name": (_TEXT, False),
    "max_concurrent_reads": ((int,), False),
    protection.DELIVERY_KEY: (_TEXT, False),
    protection.SIGNING_KEY: (_TEXT, False),  # Ed25519 PEM: signed purge confirmations
    "delivery_targets": (_LIST, False),
    "controller": ((dict,), False),  # identity and contact for consent receipts (docs/privacy.md)
}
_EXPECTED = {str: "a text", list: "a list", int: "a whole number", date: "a date", dict: "a mapping"}
_LINE = re.compile(r":(\d+)$")


@dataclass
class _Reading:
    """One read of the catalog: where it is, what was read, what is wrong so far."""

    catalog: Catalog
    shown: Callable[[Path], str]
    problems: list[Problem] = field(default_factory=list)
    broken: Broken = field(default_factory=Broken)
    lint_cache: LintCache = field(default_factory=lambda: LintCache(None))

    def add(self, path: Path | str, line: int | None, key: str | None, message: str) -> None:
        """One problem of file `path` (shown relative to the catalog's parent)."""
        self.problems.append(Problem(path if isinstance(path, str) else self.shown(path), line, key, message))

    def failed(self, path: Path, exc: GovBusError) -> None:
        """A file that could not be read at all: its line (when known) and what is wrong."""
        line = exc.line if isinstance(exc, YamlFileError) else None
        if line is None and exc.where and (match := _LINE.search(exc.where)):
            line = int(match.group(1))
        message = f"{exc.message} ({exc.hint})" if exc.hint else exc.message
        self.add(path, line, None, message)


def load_catalog(root: Path, *, home: Path | None = None) -> Catalog:
    """Read the whole catalog; raise one `BadConfiguration` listing every problem.

    `home`: the GovBus home, where the verdicts of the contracts' schema checks are kept
    (`exchange.catalog.lint_cache`): a contract whose files and checking code are
    unchanged since it last passed is not tried against its schema again. None (and
    `check_catalog`): every contract is checked in full.
    """
    cache = LintCache(home / LINT_CACHE_FILE if home is not None else None)
    catalog, problems = _read(root, cache)
    cache.save()
    if problems:
        listing = "\n".join(f"  {p}" for p in problems)
        raise BadConfiguration(
            f"the catalog has {len(problems)} problem(s):\n{listing}",
            where=str(root),
            hint="run `govbus check` after fixing them",
        )
    return catalog


def check_catalog(root: Path) -> list[Problem]:
    """Every problem in the catalog at `root`; empty when it is consistent."""
    return _read(root, LintCache(None))[1]


def _read(root: Path, lint_cache: LintCache) -> tuple[Catalog, list[Problem]]:
    root = root.resolve()
    reading = _Reading(Catalog(root=root), _shower(root), lint_cache=lint_cache)
    if not (root / "agencies.yaml").is_file():
        reading.add(root, None, None, "not a catalog: agencies.yaml is missing")
        return reading.catalog, reading.problems
    _read_agencies(root / "agencies.yaml", reading)
    _read_purposes_and_statutes(root, reading)
    for contract_path in sorted(root.glob("datasets/*/contract.yaml")):
        _read_dataset(contract_path, reading)
        if contract_path.parent.name not in reading.catalog.datasets:
            reading.broken.datasets.add(contract_path.parent.name)
    _check_statutes(root / "legal-bases.yaml", reading)
    for sub_path in sorted(root.glob("subscriptions/*.yaml")):
        _read_subscriptions(sub_path, reading)
    return reading.catalog, reading.problems


def _read_purposes_and_statutes(root: Path, reading: _Reading) -> None:
    """purposes.yaml and legal-bases.yaml: every missing key and wrong type of their
    entries first (all at once), then consent's loaders for the rest of their rules."""
    for name, top, attr in (
        ("purposes.yaml", "purposes", "purposes"),
        ("legal-bases.yaml", "statutes", "statutes"),
    ):
        path = root / name
        try:
            document = load_marked(path, shown_as=reading.shown(path))
        except GovBusError as exc:
            reading.failed(path, exc)
            setattr(reading.broken, attr, True)
            continue
        before = len(reading.problems)
        _check_entries(path, document, top, _ENTRY_KEYS[top], reading)
        if len(reading.problems) > before:
            setattr(reading.broken, attr, True)
            continue
        try:
            loaded = consent.load_purposes(path) if top == "purposes" else consent.load_statutes(path)
        except GovBusError as exc:
            reading.failed(path, exc)
            setattr(reading.broken, attr, True)
            continue
        setattr(reading.catalog, attr, loaded)


def _check_entries(
    path: Path, document: Any, top: str, keys: dict[str, tuple[tuple[type, ...], bool]], reading: _Reading
) -> None:
    """The list under `top:`: each entry a mapping with its required keys, every value of
    its type (a problem per key, each at its line)."""
    if not isinstance(document, MarkedDict) or top not in document:
        reading.add(path, None, top, f"top-level key '{top}:' is missing (start the file with '{top}:')")
        return
    items = document[top]
    if items is None:
        return
    if not isinstance(items, list):
        reading.add(path, document.line_of(top), top, f"must be a list of entries, not {type_name(items)}")
        return
    for index, item in enumerate(items):
        _check_entry(path, item, f"{top}[{index}]", document.line_of(top), keys, reading)


def _check_entry(
    path: Path,
    item: Any,
    label: str,
    line: int,
    keys: dict[str, tuple[tuple[type, ...], bool]],
    reading: _Reading,
) -> None:
    if not isinstance(item, MarkedDict):
        reading.add(path, line, label, f"must be a mapping of keys to values, not {type_name(item)}")
        return
    missing = [key for key, (_, required) in keys.items() if required and key not in item]
    if missing:
        reading.add(path, item.line, label, f"missing {', '.join(missing)}")
    for key, (types, _) in keys.items():
        value = item.get(key)
        if key not in item or (value is None and not keys[key][1]):
            continue
        if isinstance(value, bool) or not isinstance(value, types):
            expected = " or ".join(_EXPECTED[t] for t in types)
            reading.add(
                path, item.line_of(key), f"{label}.{key}", f"must be {expected}, not {type_name(value)}"
            )


def _shower(root: Path):  # type: ignore[no-untyped-def]
    base = root.parent

    def shown(path: Path) -> str:
        try:
            return str(path.resolve().relative_to(base))
        except ValueError:
            return str(path)

    return shown


def _read_agencies(path: Path, reading: _Reading) -> None:
    catalog = reading.catalog
    try:
        data = _load_mapping(path, shown_as=reading.shown(path))
    except GovBusError as exc:
        reading.failed(path, exc)
        reading.broken.agencies = True
        return
    members = data.get("members")
    if not isinstance(members, list):
        reading.add(
            path, data.line_of("members"), "members", f"must be a list of agencies, not {type_name(members)}"
        )
        reading.broken.agencies = True
        return
    for index, item in enumerate(members):
        before = len(reading.problems)
        _check_entry(path, item, f"members[{index}]", data.line_of("members"), _AGENCY_KEYS, reading)
        if not isinstance(item, MarkedDict) or not isinstance(item.get("id"), str):
            reading.broken.agencies = True  # an agency we cannot name: rules naming it would mislead
            continue
        if item["id"] in catalog.agencies:
            reading.add(path, item.line_of("id"), "id", "duplicate agency id")
        reads = item.get("max_concurrent_reads", 1)
        if isinstance(reads, bool) or not isinstance(reads, int) or reads < 1:
            if len(reading.problems) == before:
                key = "max_concurrent_reads"
                message = f"must be a whole number of at least 1 (reads of {item['id']}'s systems at once)"
                reading.add(path, item.line_of(key), key, message)
            reads = 1
        key = protection.read_delivery_key(item, catalog.root, reading.shown(path), reading.problems)
        key_id = consent.x25519_key_id(key) if key is not None else None
        name = item.get("name") if isinstance(item.get("name"), str) else item["id"]
        targets = item.get("delivery_targets", [])
        if not isinstance(targets, list) or not all(isinstance(t, str) and t.strip() for t in targets):
            message = (
                "must be a list of path or URL prefixes (and env:NAME / conn:ID) its requests may deliver to"
            )
            reading.add(path, item.line_of("delivery_targets"), "delivery_targets", message)
            targets = []
        controller = item.get("controller") if isinstance(item.get("controller"), dict) else {}
        controller = {str(k): str(v) for k, v in controller.items() if v is not None}
        signing = protection.read_signing_key(item, catalog.root, reading.shown(path), reading.problems)
        catalog.agencies[item["id"]] = Agency(
            item["id"], name, reads, key_id, key, tuple(targets), controller=controller, signing_key=signing
        )


def _read_dataset(path: Path, reading: _Reading) -> None:
    catalog, shown, cache = reading.catalog, reading.shown, reading.lint_cache
    # The schema checks (lint_contract's and the schema history) are skipped when these
    # very files passed them before (exchange.catalog.lint_cache); the rest runs always.
    digest = contract_digest(path) if cache.path is not None else ""
    known_clean = cache.is_clean(path, digest)
    found = [
        Problem(shown(Path(p.file)), p.line, p.field, p.message)
        for p in contracts.lint_contract(path, against_schema=not known_clean)
    ]
    if found:
        reading.problems.extend(found)
        return
    contract = contracts.load_contract(path, against_schema=False)  # linted just above
    directory = path.parent
    if contract.id != directory.name:
        reading.add(path, contract.line_of("id"), "id", f"must equal its folder name {directory.name!r}")
    if contract.owner not in catalog.agencies and not reading.broken.agencies:
        reading.add(path, contract.line_of("owner"), "owner", f"unknown agency {contract.owner!r}")
    has_key = {a.id: a.delivery_key is not None for a in catalog.agencies.values()}
    reading.problems.extend(protection.check_reversible(contract, shown(path), has_key))
    versions: list[schemas.AvroSchema] = []
    for avsc in sorted(directory.glob("schema/v*.avsc"), key=_version_key):
        try:
            versions.append(schemas.load_schema(avsc))
        except GovBusError as exc:
            reading.failed(avsc, exc)
    current_path = (directory / contract.schema_ref).resolve()
    current = next((v for v in versions if Path(v.source).resolve() == current_path), None)
    if current is None:
        reading.add(path, contract.line_of("schema"), "schema", f"{contract.schema_ref} not found")
        return
    # lint_contract checked the contract against this very schema file (its `schema:`).
    if not known_clean:
        # A new schema version must keep the contract's compatibility mode with the older ones.
        history = [
            Problem(shown(Path(p.file)), p.line, p.field, p.message)
            for p in contracts.check_schema_history(contract, versions)
        ]
        reading.problems.extend(history)
        if not history:
            cache.passed(path, digest)
    catalog.datasets[contract.id] = Dataset(contract.id, contract, current, tuple(versions), directory)


def _version_key(path: Path) -> int:
    digits = path.stem.lstrip("v")
    return int(digits) if digits.isdigit() else 0


def _check_statutes(path: Path, reading: _Reading) -> None:
    catalog, broken = reading.catalog, reading.broken
    for statute in catalog.statutes.values():
        where = f"statute {statute.id}"
        if statute.recipient not in catalog.agencies and not broken.agencies:
            reading.add(path, None, f"{where}: recipient", "unknown agency")
        if statute.purpose not in catalog.purposes and not broken.purposes:
            reading.add(path, None, f"{where}: purpose", "unknown purpose")
        dataset = catalog.datasets.get(statute.dataset)
        if dataset is None:
            if statute.dataset not in broken.datasets:
                reading.add(path, None, f"{where}: dataset", "unknown dataset")
            continue
        for name in statute.fields:
            if name not in dataset.schema.field_names:
                reading.add(path, None, f"{where}: fields", f"{name!r} is not in {dataset.id}")


def _read_subscriptions(path: Path, reading: _Reading) -> None:
    catalog, file = reading.catalog, reading.shown(path)
    try:
        data = _load_mapping(path, shown_as=file)
    except GovBusError as exc:
        reading.failed(path, exc)
        return
    agency = data.get("agency")
    if not isinstance(agency, str):
        reading.add(
            file, data.line_of("agency"), "agency", f"must be one agency id (a text), not {type_name(agency)}"
        )
        return
    if agency not in catalog.agencies:
        if not reading.broken.agencies:
            reading.add(file, data.line_of("agency"), "agency", f"unknown agency {agency!r}")
        return
    items = data.get("subscriptions")
    if not isinstance(items, list):
        reading.add(
            file, data.line_of("subscriptions"), "subscriptions", f"must be a list, not {type_name(items)}"
        )
        return
    for item in items:
        if not isinstance(item, MarkedDict):
            message = f"each entry must be a mapping, not {type_name(item)}"
            reading.add(file, data.line_of("subscriptions"), "subscriptions", message)
            continue
        sub = subscription_from(item, agency, file, catalog, reading.problems, reading.broken)
        if sub is None:
            continue
        if sub.id in catalog.subscriptions:
            reading.add(file, item.line_of("id"), "id", f"duplicate subscription id {sub.id!r}")
        catalog.subscriptions[sub.id] = sub


def _load_mapping(path: Path, *, shown_as: str) -> MarkedDict:
    data = load_marked(path, shown_as=shown_as)
    if not isinstance(data, MarkedDict):
        raise BadConfiguration("the top level must be a mapping", where=shown_as)
    return data
