"""Purposes and statutes: the catalog's legal bases for sending a dataset to a recipient.

`purposes.yaml`:     purposes: [{code: BENEFIT_ELIGIBILITY, description: ..., notice_url?,
                                 disclosure?}, ...]
`legal-bases.yaml`:  statutes: [{id, law, dataset, recipient, purpose, fields: [...],
                                 valid_from?, valid_until?, linkage_domain?}, ...]

Validity is the half-open interval [valid_from, valid_until) in UTC; either end may be
absent. A date without a time means the whole day: `valid_from: 2020-01-01` starts at
midnight UTC of that day, `valid_until: 2025-12-31` ends at midnight UTC after it, so the
statute still covers 31 December. `linkage_domain` names recipients that may join their
copies (they share pseudonyms); without it a recipient's pseudonyms are its own.

A purpose may name the notice a citizen is shown when asked to consent (`notice_url`,
printed on receipts) and a disclosure policy every subscription for it gets
(`disclosure`, kept as written here and read against each subscription's fields by the
catalog: `consent.parse_disclosure_policy`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from govbus.errors import BadConfiguration
from govbus.instants import as_utc
from govbus.yamlfile import MarkedDict, load_marked, top_list, where

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
PURPOSE_CODE = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")

_PURPOSE_KEYS = {"code", "description", "notice_url", "disclosure"}
_STATUTE_KEYS = {
    "id",
    "law",
    "dataset",
    "recipient",
    "purpose",
    "fields",
    "valid_from",
    "valid_until",
    "linkage_domain",
}


@dataclass(frozen=True)
class Purpose:
    """A purpose code a subscription and a consent name (e.g. BENEFIT_ELIGIBILITY)."""

    code: str
    description: str
    notice_url: str = ""
    disclosure: Mapping[str, Any] | None = field(default=None, compare=False, hash=False)


@dataclass(frozen=True)
class Statute:
    """A law that lets `recipient` receive `fields` of `dataset` for `purpose`."""

    id: str
    law: str
    dataset: str
    recipient: str
    purpose: str
    fields: tuple[str, ...]
    valid_from: datetime | None = None
    valid_until: datetime | None = None  # exclusive
    linkage_domain: str | None = None

    def in_force(self, at: datetime) -> bool:
        """True if `at` lies in [valid_from, valid_until)."""
        at = as_utc(at)
        if self.valid_from is not None and at < self.valid_from:
            return False
        return self.valid_until is None or at < self.valid_until

    def covers(self, dataset: str, recipient: str, purpose: str, at: datetime) -> bool:
        """True if this statute is the legal basis for (dataset, recipient, purpose) at `at`."""
        return (
            self.dataset == dataset
            and self.recipient == recipient
            and self.purpose == purpose
            and self.in_force(at)
        )

    def missing_fields(self, fields: Iterable[str]) -> tuple[str, ...]:
        """The requested fields this statute does not allow (empty if it allows all)."""
        allowed = set(self.fields)
        return tuple(name for name in fields if name not in allowed)


def _text(
    path: Path,
    entry: MarkedDict,
    key: str,
    label: str,
    pattern: re.Pattern[str] | None,
    *,
    required: bool = True,
) -> str | None:
    value = entry.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise BadConfiguration(f"{label}.{key} must be a non-empty string", where=where(path, entry, key))
    if pattern is not None and not pattern.match(value):
        raise BadConfiguration(
            f"{label}.{key} has characters that are not allowed",
            where=where(path, entry, key),
            hint=f"use a name matching {pattern.pattern}",
        )
    return value


def _instant(path: Path, entry: MarkedDict, key: str, label: str, *, end: bool) -> datetime | None:
    value = entry.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = (
                datetime.fromisoformat(value) if "T" in value or " " in value else date.fromisoformat(value)
            )
        except ValueError:
            value = None
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, date):
        start = datetime.combine(value, time(), tzinfo=UTC)
        return start + timedelta(days=1) if end else start
    raise BadConfiguration(
        f"{label}.{key} must be a date (YYYY-MM-DD) or an ISO timestamp", where=where(path, entry, key)
    )


def _entry(path: Path, item: Any, index: int, kind: str) -> MarkedDict:
    if not isinstance(item, MarkedDict):
        raise BadConfiguration(f"{kind}[{index}] must be a mapping", where=str(path))
    return item


def load_purposes(path: Path) -> dict[str, Purpose]:
    """Purposes by code from purposes.yaml; BadConfiguration names file:line and field."""
    path = Path(path)
    found: dict[str, Purpose] = {}
    for index, item in enumerate(top_list(path, load_marked(path), "purposes")):
        entry = _entry(path, item, index, "purposes")
        label = f"purposes[{index}]"
        unknown = sorted(set(entry) - _PURPOSE_KEYS)
        if unknown:
            raise BadConfiguration(
                f"{label}.{unknown[0]} is not a known key",
                where=where(path, entry, unknown[0]),
                hint="allowed keys: " + ", ".join(sorted(_PURPOSE_KEYS)),
            )
        disclosure = entry.get("disclosure")
        if disclosure is not None and not isinstance(disclosure, Mapping):
            raise BadConfiguration(
                f"{label}.disclosure must be a mapping (generalize, k, aggregate, ...)",
                where=where(path, entry, "disclosure"),
                hint="see docs/privacy.md",
            )
        notice = _text(path, entry, "notice_url", label, None, required=False) or ""
        code = _text(path, entry, "code", label, PURPOSE_CODE)
        description = _text(path, entry, "description", label, None)
        assert code is not None and description is not None
        if code in found:
            raise BadConfiguration(
                f"{label}.code repeats an earlier purpose",
                where=where(path, entry, "code"),
                hint="codes must be unique",
            )
        found[code] = Purpose(code, description.strip(), notice.strip(), disclosure)
    return found


def _fields(path: Path, entry: MarkedDict, label: str) -> tuple[str, ...]:
    value = entry.get("fields")
    if not isinstance(value, list) or not value:
        raise BadConfiguration(
            f"{label}.fields must be a non-empty list of field names", where=where(path, entry, "fields")
        )
    for position, name in enumerate(value):
        if not isinstance(name, str) or not FIELD_NAME.match(name):
            raise BadConfiguration(
                f"{label}.fields[{position}] is not a valid field name",
                where=where(path, entry, "fields"),
                hint=f"field names match {FIELD_NAME.pattern}",
            )
    if len(set(value)) != len(value):
        raise BadConfiguration(f"{label}.fields lists a field twice", where=where(path, entry, "fields"))
    return tuple(value)


def load_statutes(path: Path, purposes: Mapping[str, Purpose] | None = None) -> dict[str, Statute]:
    """Statutes by id from legal-bases.yaml.

    With `purposes`, a statute naming an unknown purpose code is refused too.
    """
    path = Path(path)
    found: dict[str, Statute] = {}
    for index, item in enumerate(top_list(path, load_marked(path), "statutes")):
        entry = _entry(path, item, index, "statutes")
        label = f"statutes[{index}]"
        unknown = sorted(set(entry) - _STATUTE_KEYS)
        if unknown:
            raise BadConfiguration(
                f"{label}.{unknown[0]} is not a known key",
                where=where(path, entry, unknown[0]),
                hint="allowed keys: " + ", ".join(sorted(_STATUTE_KEYS)),
            )
        statute = Statute(
            id=str(_text(path, entry, "id", label, NAME)),
            law=str(_text(path, entry, "law", label, None)),
            dataset=str(_text(path, entry, "dataset", label, NAME)),
            recipient=str(_text(path, entry, "recipient", label, NAME)),
            purpose=str(_text(path, entry, "purpose", label, PURPOSE_CODE)),
            fields=_fields(path, entry, label),
            valid_from=_instant(path, entry, "valid_from", label, end=False),
            valid_until=_instant(path, entry, "valid_until", label, end=True),
            linkage_domain=_text(path, entry, "linkage_domain", label, NAME, required=False),
        )
        if statute.id in found:
            raise BadConfiguration(
                f"{label}.id repeats an earlier statute",
                where=where(path, entry, "id"),
                hint="ids must be unique",
            )
        if purposes is not None and statute.purpose not in purposes:
            raise BadConfiguration(
                f"{label}.purpose is not declared in purposes.yaml",
                where=where(path, entry, "purpose"),
                hint="add the purpose or fix the code",
            )
        if (
            statute.valid_from is not None
            and statute.valid_until is not None
            and statute.valid_until <= statute.valid_from
        ):
            raise BadConfiguration(
                f"{label}.valid_until is not after valid_from", where=where(path, entry, "valid_until")
            )
        found[statute.id] = statute
    return found
