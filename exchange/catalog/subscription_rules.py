"""The rules of one subscription, for those in `catalog/subscriptions/` and requests alike.

`subscription_from` checks an entry and builds the `Subscription`, adding one `Problem`
per rule broken, each naming the key and what to change: every missing key of an entry
at once, a value of the wrong type with the type expected (never a TypeError), an
unknown dataset, purpose or statute, fields the basis does not cover, a malformed sink
or schedule. `Broken` says which other catalog files could not be read: a rule that
depends on one (an unknown agency while agencies.yaml has a syntax error) is not
reported, since its cause is already — one typo, one problem.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from contracts import Problem
from exchange.catalog import protection
from exchange.catalog.connector_settings import VAR, CatalogSettings
from exchange.catalog.disclosure import subscription_policy
from exchange.catalog.model import Catalog, Subscription
from exchange.catalog.schedules import parse_schedule
from govbus.yamlfile import MarkedDict

__all__ = ["SUBSCRIPTION_KEYS", "Broken", "check_subscription", "subscription_from", "type_name"]

SUBSCRIPTION_KEYS = {
    "id",
    "dataset",
    "purpose",
    "basis",
    "fields",
    "pseudonymize_subject",
    "sink",
    "schedule",
    "ends_on",
    "disclosure",
    protection.ENCRYPT_FILES,
}
_REQUIRED = ("id", "dataset", "purpose", "basis", "fields", "sink")
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass
class Broken:
    """Catalog files that could not be read, so rules naming their content are skipped."""

    agencies: bool = False
    purposes: bool = False
    statutes: bool = False
    datasets: set[str] = field(default_factory=set)  # folder names of contracts that failed


def type_name(value: Any) -> str:
    """How a YAML value's type reads in a message ("a list", "a mapping", "a number")."""
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if value is None:
        return "empty"
    if isinstance(value, datetime | date):
        return "a date"
    return "a text" if isinstance(value, str) else f"a {type(value).__name__}"


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
    sub = subscription_from(marked, agency, where, catalog, problems)
    return sub, [Problem(p.file, None, p.field, p.message) for p in problems]


def subscription_from(
    item: MarkedDict,
    agency: str,
    file: str,
    catalog: Catalog,
    problems: list[Problem],
    broken: Broken | None = None,
) -> Subscription | None:
    """The subscription `item` of `agency` declares (file `file`), or None with `problems` added."""
    broken = broken or Broken()

    def bad(key: str, message: str) -> None:
        problems.append(Problem(file, item.line_of(key), key, message))

    before = len(problems)
    for key in sorted(set(item) - SUBSCRIPTION_KEYS):
        bad(key, f"unknown key; known: {', '.join(sorted(SUBSCRIPTION_KEYS))}")
    for key in _REQUIRED:
        if key not in item:
            bad(key, "missing")
    _check_types(item, bad)
    if len(problems) > before:
        return None
    sub_id = item["id"]
    dataset = catalog.datasets.get(item["dataset"])
    if dataset is None and item["dataset"] not in broken.datasets:
        known = ", ".join(sorted(catalog.datasets)) or "none"
        bad("dataset", f"unknown dataset {item['dataset']!r}; known: {known} (`govbus catalog list`)")
    if item["purpose"] not in catalog.purposes and not broken.purposes:
        known = ", ".join(sorted(catalog.purposes)) or "none"
        bad("purpose", f"unknown purpose {item['purpose']!r}; purposes.yaml has: {known}")
    fields = item["fields"]
    if dataset is not None:
        for name in fields:
            if name not in dataset.schema.field_names:
                bad("fields", f"unknown field {name!r}: not in {dataset.id}'s schema")
    statute_id = _basis(item, agency, fields, catalog, bad, broken)
    sink = item["sink"]
    for key, value in sink.items():
        if isinstance(value, str):
            for name in VAR.findall(value):
                if not _ENV_NAME.fullmatch(name):
                    bad("sink", f"{key}: ${{{name}}} is not an environment variable name")
    if dataset is not None and sink.get("connector") == "sql":
        missing = [k for k in dataset.contract.key_fields if k not in fields]
        if missing:
            bad("fields", f"an SQL sink upserts by key: add {', '.join(missing)}")
    if dataset is not None and statute_id is None:
        for name in fields:
            spec = dataset.contract.fields.get(name)
            if spec is not None and spec.classification == "sensitive":
                bad("fields", f"{name!r} is sensitive: only a statute naming it may release it")
    pseudo = item.get("pseudonymize_subject", False)
    reversible = protection.reversible_fields(dataset.contract, agency, fields) if dataset else ()
    recipient = catalog.agencies.get(agency)
    has_key = recipient is not None and recipient.delivery_key is not None
    encrypt = protection.check_subscription(item, sink, reversible, has_key, bad)
    schedule, after = parse_schedule(item.get("schedule"), catalog.datasets, bad)
    if item.get("dataset") in after:
        bad("schedule", "after: a dataset cannot wait for itself")
    ends_on = _ends_on(item.get("ends_on"), bad)
    disclosure = (
        subscription_policy(
            catalog, dataset, item["purpose"], fields, item.get("disclosure"), bad, pseudo, reversible
        )
        if dataset is not None
        else None
    )
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
        sink=CatalogSettings(sink, _catalog_folder(catalog)),
        schedule=schedule,
        after=after,
        file=file,
        line=item.line,
        encrypt_files=encrypt,
        reversible_fields=reversible,
        ends_on=ends_on,
        disclosure=disclosure,
    )


def _check_types(item: MarkedDict, bad: Callable[[str, str], None]) -> None:
    """Each present key's value of the type it must have (one problem per key)."""
    sub_id = item.get("id")
    if "id" in item and (not isinstance(sub_id, str) or not _ID.fullmatch(sub_id)):
        bad("id", "must be letters, digits, '.', '_' or '-'" + _found(sub_id, str))
    for key in ("dataset", "purpose"):
        if key in item and not isinstance(item[key], str):
            bad(key, f"must be one {key} id (a text), not {type_name(item[key])}")
    fields = item.get("fields")
    if "fields" in item and (
        not isinstance(fields, list) or not fields or not all(isinstance(f, str) for f in fields)
    ):
        bad("fields", "must be a non-empty list of field names (texts)" + _found(fields, list))
    sink = item.get("sink")
    if "sink" in item:
        if not isinstance(sink, Mapping) or not isinstance(sink.get("connector"), str):
            bad("sink", "must be a mapping with at least `connector` (a text)" + _found(sink, Mapping))
    if not isinstance(item.get("pseudonymize_subject", False), bool):
        bad("pseudonymize_subject", "must be true or false" + _found(item["pseudonymize_subject"], bool))
    basis = item.get("basis")
    if (
        "basis" in item
        and basis != "consent"
        and not (isinstance(basis, Mapping) and isinstance(basis.get("statute"), str))
    ):
        bad("basis", "must be `consent` or `{statute: ID}` (the statute's id a text)")


def _found(value: Any, expected: type) -> str:
    """ ", not a list" when `value` is not of the `expected` kind, else ""."""
    return "" if isinstance(value, expected) else f", not {type_name(value)}"


def _catalog_folder(catalog: Catalog) -> Path | None:
    """The folder relative sink paths resolve against (None for a catalog not read from disk)."""
    return catalog.root if isinstance(catalog.root, Path) else None


def _ends_on(value: Any, bad: Callable[[str, str], None]) -> date | None:
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


def _basis(
    item: MarkedDict,
    agency: str,
    fields: list[str],
    catalog: Catalog,
    bad: Callable[[str, str], None],
    broken: Broken,
) -> str | None:
    """Validate `basis:` (`consent` or `{statute: ID}`, types checked); the statute id or None."""
    basis = item["basis"]
    if basis == "consent":
        return None
    statute = catalog.statutes.get(basis["statute"])
    if statute is None:
        if not broken.statutes:
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
