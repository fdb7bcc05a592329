"""The catalog: agencies, purposes, statutes, dataset contracts and subscriptions.

The catalog is declarations in git (docs/catalog.md). `load_catalog` reads it
whole and refuses it with every problem listed, each naming the file, line and field;
`check_catalog` returns the same problems without raising (for `govbus check`).
Secrets never appear in it: connector settings may only reference `${ENV_VARS}`,
expanded at run time by `expand_settings`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import consent
import contracts
import schemas
from contracts import Problem
from exchange.catalog import protection
from exchange.catalog.model import Agency, Catalog, Dataset, Subscription
from exchange.catalog.schedules import parse_schedule
from govbus.errors import BadConfiguration, GovBusError
from govbus.yamlfile import MarkedDict, load_marked

__all__ = [  # the model lives in exchange.catalog.model; it is imported from here
    "Agency",
    "Catalog",
    "Dataset",
    "Subscription",
    "check_catalog",
    "check_subscription",
    "expand_settings",
    "load_catalog",
]

_VAR = re.compile(r"\$\{([^}]*)\}")
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
_SUBSCRIPTION_KEYS = {
    "id",
    "dataset",
    "purpose",
    "basis",
    "fields",
    "pseudonymize_subject",
    "sink",
    "schedule",
    "ends_on",
    protection.ENCRYPT_FILES,
}


def expand_settings(
    settings: Mapping[str, Any], *, env: Mapping[str, str] | None = None, where: str = "settings"
) -> dict[str, Any]:
    """Replace `${NAME}` in string settings by the environment variable NAME.

    A missing variable is a configuration error naming the setting, never a silent
    empty string (which would, say, point a sink at the filesystem root).
    """
    env = os.environ if env is None else env
    out: dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, str):

            def repl(match: re.Match[str], key: str = key) -> str:
                name = match.group(1)
                if name not in env:
                    raise BadConfiguration(
                        f"environment variable {name} is not set",
                        where=f"{where}: {key}",
                        hint=f"export {name}=... before running",
                    )
                return env[name]

            out[key] = _VAR.sub(repl, value)
        else:
            out[key] = value
    return out


def load_catalog(root: Path) -> Catalog:
    """Read the whole catalog; raise one `BadConfiguration` listing every problem."""
    catalog, problems = _read(root)
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
    return _read(root)[1]


def _read(root: Path) -> tuple[Catalog, list[Problem]]:
    root = root.resolve()
    catalog = Catalog(root=root)
    problems: list[Problem] = []
    shown = _shower(root)
    if not (root / "agencies.yaml").is_file():
        problems.append(Problem(shown(root), None, None, "not a catalog: agencies.yaml is missing"))
        return catalog, problems
    _read_agencies(root / "agencies.yaml", catalog, problems, shown)
    for name, loader, attr in (
        ("purposes.yaml", consent.load_purposes, "purposes"),
        ("legal-bases.yaml", consent.load_statutes, "statutes"),
    ):
        try:
            setattr(catalog, attr, loader(root / name))
        except GovBusError as exc:
            problems.append(Problem(shown(root / name), None, None, str(exc)))
    for contract_path in sorted(root.glob("datasets/*/contract.yaml")):
        _read_dataset(contract_path, catalog, problems, shown)
    _check_statutes(root / "legal-bases.yaml", catalog, problems, shown)
    for sub_path in sorted(root.glob("subscriptions/*.yaml")):
        _read_subscriptions(sub_path, catalog, problems, shown)
    return catalog, problems


def _shower(root: Path):  # type: ignore[no-untyped-def]
    base = root.parent

    def shown(path: Path) -> str:
        try:
            return str(path.resolve().relative_to(base))
        except ValueError:
            return str(path)

    return shown


def _read_agencies(path: Path, catalog: Catalog, problems: list[Problem], shown: Any) -> None:
    try:
        data = _load_mapping(path, shown_as=shown(path))
    except GovBusError as exc:
        problems.append(Problem(shown(path), None, None, exc.message))
        return
    members = data.get("members")
    if not isinstance(members, list):
        problems.append(Problem(shown(path), data.line, "members", "must be a list of agencies"))
        return
    for item in members:
        if not isinstance(item, MarkedDict) or not isinstance(item.get("id"), str):
            problems.append(Problem(shown(path), getattr(item, "line", None), "id", "missing"))
            continue
        if item["id"] in catalog.agencies:
            problems.append(Problem(shown(path), item.line_of("id"), "id", "duplicate agency id"))
        reads = item.get("max_concurrent_reads", 1)
        if isinstance(reads, bool) or not isinstance(reads, int) or reads < 1:
            key = "max_concurrent_reads"
            message = f"must be a whole number of at least 1 (reads of {item['id']}'s systems at once)"
            problems.append(Problem(shown(path), item.line_of(key), key, message))
            reads = 1
        key = protection.read_delivery_key(item, catalog.root, shown(path), problems)
        key_id = consent.x25519_key_id(key) if key is not None else None
        name = str(item.get("name", item["id"]))
        targets = item.get("delivery_targets", [])
        if not isinstance(targets, list) or not all(isinstance(t, str) and t.strip() for t in targets):
            message = (
                "must be a list of path or URL prefixes (and env:NAME / conn:ID) its requests may deliver to"
            )
            problems.append(
                Problem(shown(path), item.line_of("delivery_targets"), "delivery_targets", message)
            )
            targets = []
        catalog.agencies[item["id"]] = Agency(item["id"], name, reads, key_id, key, tuple(targets))


def _read_dataset(path: Path, catalog: Catalog, problems: list[Problem], shown: Any) -> None:
    found = [Problem(shown(Path(p.file)), p.line, p.field, p.message) for p in contracts.lint_contract(path)]
    if found:
        problems.extend(found)
        return
    contract = contracts.load_contract(path)
    directory = path.parent
    if contract.id != directory.name:
        problems.append(
            Problem(
                shown(path), contract.line_of("id"), "id", f"must equal its folder name {directory.name!r}"
            )
        )
    if contract.owner not in catalog.agencies:
        problems.append(
            Problem(shown(path), contract.line_of("owner"), "owner", f"unknown agency {contract.owner!r}")
        )
    has_key = {a.id: a.delivery_key is not None for a in catalog.agencies.values()}
    problems.extend(protection.check_reversible(contract, shown(path), has_key))
    versions: list[schemas.AvroSchema] = []
    for avsc in sorted(directory.glob("schema/v*.avsc"), key=_version_key):
        try:
            versions.append(schemas.load_schema(avsc))
        except GovBusError as exc:
            problems.append(Problem(shown(avsc), None, None, exc.message))
    current_path = (directory / contract.schema_ref).resolve()
    current = next((v for v in versions if Path(v.source).resolve() == current_path), None)
    if current is None:
        problems.append(
            Problem(shown(path), contract.line_of("schema"), "schema", f"{contract.schema_ref} not found")
        )
        return
    problems.extend(
        Problem(shown(path), p.line, p.field, p.message)
        for p in contracts.check_against_schema(contract, current)
    )
    # A new schema version must keep the contract's compatibility mode with the older ones.
    problems.extend(
        Problem(shown(Path(p.file)), p.line, p.field, p.message)
        for p in contracts.check_schema_history(contract, versions)
    )
    catalog.datasets[contract.id] = Dataset(contract.id, contract, current, tuple(versions), directory)


def _version_key(path: Path) -> int:
    digits = path.stem.lstrip("v")
    return int(digits) if digits.isdigit() else 0


def _check_statutes(path: Path, catalog: Catalog, problems: list[Problem], shown: Any) -> None:
    for statute in catalog.statutes.values():
        where = f"statute {statute.id}"
        if statute.recipient not in catalog.agencies:
            problems.append(Problem(shown(path), None, f"{where}: recipient", "unknown agency"))
        if statute.purpose not in catalog.purposes:
            problems.append(Problem(shown(path), None, f"{where}: purpose", "unknown purpose"))
        dataset = catalog.datasets.get(statute.dataset)
        if dataset is None:
            problems.append(Problem(shown(path), None, f"{where}: dataset", "unknown dataset"))
            continue
        for name in statute.fields:
            if name not in dataset.schema.field_names:
                problems.append(
                    Problem(shown(path), None, f"{where}: fields", f"{name!r} is not in {dataset.id}")
                )


def _read_subscriptions(path: Path, catalog: Catalog, problems: list[Problem], shown: Any) -> None:
    file = shown(path)
    try:
        data = _load_mapping(path, shown_as=file)
    except GovBusError as exc:
        problems.append(Problem(file, None, None, exc.message))
        return
    agency = data.get("agency")
    if agency not in catalog.agencies:
        problems.append(Problem(file, data.line_of("agency"), "agency", f"unknown agency {agency!r}"))
        return
    items = data.get("subscriptions")
    if not isinstance(items, list):
        problems.append(Problem(file, data.line, "subscriptions", "must be a list"))
        return
    for item in items:
        if not isinstance(item, MarkedDict):
            problems.append(
                Problem(file, data.line_of("subscriptions"), "subscriptions", "each entry must be a mapping")
            )
            continue
        sub = _subscription(item, str(agency), file, catalog, problems)
        if sub is None:
            continue
        if sub.id in catalog.subscriptions:
            problems.append(Problem(file, item.line_of("id"), "id", f"duplicate subscription id {sub.id!r}"))
        catalog.subscriptions[sub.id] = sub


def check_subscription(
    item: Mapping[str, Any], agency: str, catalog: Catalog, *, where: str
) -> tuple[Subscription | None, list[Problem]]:
    """Check a subscription given as a mapping (a request) by the rules of the catalog's files.

    The same rules as a subscription written in `catalog/subscriptions/`: the dataset,
    purpose and fields exist, the basis covers them (a statute naming this dataset,
    recipient and purpose and every field; no sensitive field on consent), the sink and
    schedule are well formed. Returns the subscription (None when refused) and every
    problem, each naming the key (`Problem.field`) and what to change; `where` names the
    request in them.
    """
    problems: list[Problem] = []
    if agency not in catalog.agencies:
        known = ", ".join(sorted(catalog.agencies))
        problems.append(Problem(where, None, "agency", f"unknown recipient {agency!r}; members: {known}"))
        return None, problems
    marked = MarkedDict(item)
    marked.line = 0
    marked.lines = {}
    sub = _subscription(marked, agency, where, catalog, problems)
    return sub, [Problem(p.file, None, p.field, p.message) for p in problems]


def _subscription(
    item: MarkedDict, agency: str, file: str, catalog: Catalog, problems: list[Problem]
) -> Subscription | None:
    def bad(key: str, message: str) -> None:
        problems.append(Problem(file, item.line_of(key), key, message))

    before = len(problems)
    for key in sorted(set(item) - _SUBSCRIPTION_KEYS):
        bad(key, f"unknown key; known: {', '.join(sorted(_SUBSCRIPTION_KEYS))}")
    for key in ("id", "dataset", "purpose", "basis", "fields", "sink"):
        if key not in item:
            bad(key, "missing")
    if len(problems) > before:
        return None
    sub_id = item["id"]
    if not isinstance(sub_id, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", sub_id):
        bad("id", "must be letters, digits, '.', '_' or '-'")
    for key in ("dataset", "purpose"):
        if not isinstance(item[key], str):
            bad(key, f"must be one {key} id (text), not a {type(item[key]).__name__}")
    if len(problems) > before:
        return None
    dataset = catalog.datasets.get(item["dataset"])
    if dataset is None:
        known = ", ".join(sorted(catalog.datasets)) or "none"
        bad("dataset", f"unknown dataset {item['dataset']!r}; known: {known} (`govbus catalog list`)")
    if item["purpose"] not in catalog.purposes:
        known = ", ".join(sorted(catalog.purposes)) or "none"
        bad("purpose", f"unknown purpose {item['purpose']!r}; purposes.yaml has: {known}")
    fields = item["fields"]
    if not isinstance(fields, list) or not fields or not all(isinstance(f, str) for f in fields):
        bad("fields", "must be a non-empty list of field names")
        fields = []
    if dataset is not None:
        for name in fields:
            if name not in dataset.schema.field_names:
                bad("fields", f"unknown field {name!r}: not in {dataset.id}'s schema")
    statute_id = _basis(item, agency, fields, catalog, bad)
    sink = item["sink"]
    if not isinstance(sink, dict) or "connector" not in sink:
        bad("sink", "must be a mapping with at least `connector`")
    else:
        for key, value in sink.items():
            if isinstance(value, str):
                for name in _VAR.findall(value):
                    if not _ENV_NAME.fullmatch(name):
                        bad("sink", f"{key}: ${{{name}}} is not an environment variable name")
    if dataset is not None and isinstance(sink, dict) and sink.get("connector") == "sql":
        missing = [k for k in dataset.contract.key_fields if k not in fields]
        if missing:
            bad("fields", f"an SQL sink upserts by key: add {', '.join(missing)}")
    if dataset is not None and statute_id is None:
        for name in fields:
            spec = dataset.contract.fields.get(name)
            if spec is not None and spec.classification == "sensitive":
                bad("fields", f"{name!r} is sensitive: only a statute naming it may release it")
    pseudo = item.get("pseudonymize_subject", False)
    if not isinstance(pseudo, bool):
        bad("pseudonymize_subject", "must be true or false")
    reversible = protection.reversible_fields(dataset.contract, agency, fields) if dataset else ()
    has_key = catalog.agencies[agency].delivery_key is not None
    encrypt = protection.check_subscription(item, sink, reversible, has_key, bad)
    schedule, after = parse_schedule(item.get("schedule"), catalog.datasets, bad)
    if item.get("dataset") in after:
        bad("schedule", "after: a dataset cannot wait for itself")
    ends_on = _ends_on(item.get("ends_on"), bad)
    if len(problems) > before:
        return None
    return Subscription(
        id=sub_id,
        agency=agency,
        dataset=item["dataset"],
        purpose=item["purpose"],
        statute=statute_id,
        fields=tuple(fields),
        pseudonymize_subject=pseudo,
        sink=dict(sink),
        schedule=schedule,
        after=after,
        file=file,
        line=item.line,
        encrypt_files=encrypt,
        reversible_fields=reversible,
        ends_on=ends_on,
    )


def _ends_on(value: Any, bad: Any) -> date | None:
    """`ends_on:` — the last day the subscription delivers (a date, YYYY-MM-DD)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            pass
    if not isinstance(value, date):
        bad("ends_on", "must be a date, YYYY-MM-DD (the last day it delivers)")
        return None
    return value


def _basis(item: MarkedDict, agency: str, fields: list[str], catalog: Catalog, bad: Any) -> str | None:
    """Validate `basis:` (`consent` or `{statute: ID}`); return the statute id or None."""
    basis = item["basis"]
    if basis == "consent":
        return None
    if not (isinstance(basis, dict) and isinstance(basis.get("statute"), str)):
        bad("basis", "must be `consent` or `{statute: ID}`")
        return None
    statute = catalog.statutes.get(basis["statute"])
    if statute is None:
        bad("basis", f"unknown statute {basis['statute']!r}")
        return None
    if (statute.dataset, statute.recipient, statute.purpose) != (item["dataset"], agency, item["purpose"]):
        differs = [
            f"{what} (it names {named!r}, not {asked!r})"
            for what, named, asked in (
                ("dataset", statute.dataset, item["dataset"]),
                ("recipient", statute.recipient, agency),
                ("purpose", statute.purpose, item["purpose"]),
            )
            if named != asked
        ]
        bad(
            "basis",
            f"statute {statute.id} does not cover this dataset, recipient and purpose: "
            f"{'; '.join(differs)}; ask under a statute that names all three, or under consent",
        )
    for name in fields:
        if name not in statute.fields:
            bad("fields", f"{name!r} is not among the fields statute {statute.id} allows")
    return statute.id


def _load_mapping(path: Path, *, shown_as: str) -> MarkedDict:
    data = load_marked(path, shown_as=shown_as)
    if not isinstance(data, MarkedDict):
        raise BadConfiguration("the top level must be a mapping", where=shown_as)
    return data
