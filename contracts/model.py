"""The data contract of a dataset, as `catalog/datasets/<id>/contract.yaml` declares it.

Objects here are plain values built by `contracts.loader`; they are valid by
construction (the loader refuses a contract with any problem). Line numbers are kept so
later checks (`check_against_schema`, `validate`) can still point into the file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas import COMPATIBILITY_MODES as COMPATIBILITY_MODES  # the modes a contract may name

NAME_PATTERN = r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$"
"""Ids of datasets and agencies: lowercase letters and digits, joined by '.', '_' or '-'."""

CLASSIFICATIONS = ("public", "internal", "personal", "sensitive")
"""Field classifications, least to most protected."""

QUASI_IDENTIFIER = "quasi-identifier"
"""The tag of a field that, combined with others, can single a person out in another copy."""
DIRECT_IDENTIFIER = "direct-identifier"

# The GDPR's special categories (art. 9(1)) and criminal data (art. 10), by their tag; the
# second group are shorter names people write, each counting as its category. One
# definition for the whole bus (receipts, the catalog, who approves a request).
_CATEGORIES: dict[str, str] = {
    "health": "health",
    "genetic": "genetic",
    "biometric": "biometric",
    "ethnic-origin": "ethnic-origin",
    "political-opinions": "political-opinions",
    "religious-beliefs": "religious-beliefs",
    "philosophical-beliefs": "philosophical-beliefs",
    "trade-union-membership": "trade-union-membership",
    "sex-life": "sex-life",
    "sexual-orientation": "sexual-orientation",
    "criminal-offences": "criminal-offences",
    "racial-origin": "ethnic-origin",
    "ethnicity": "ethnic-origin",
    "religion": "religious-beliefs",
    "political-opinion": "political-opinions",
    "trade-union": "trade-union-membership",
    "criminal-records": "criminal-offences",
}
SPECIAL_CATEGORY_TAGS = frozenset(_CATEGORIES)
"""Every tag that makes a field special category (canonical names and their short forms)."""


def special_categories(tags: Iterable[str]) -> tuple[str, ...]:
    """The special categories `tags` name (canonical names, sorted, each once)."""
    return tuple(sorted({_CATEGORIES[t] for t in tags if t in _CATEGORIES}))


BREACH_ACTIONS = ("warn", "fail")
"""What a breached SLA (volume, freshness) does to the run: report only, or fail it."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a contract file: where (file, line, field) and what."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        place = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{place}: {self.field}: {self.message}" if self.field else f"{place}: {self.message}"


@dataclass(frozen=True)
class FieldSpec:
    """How one field is classified (drives minimization and protection) and tagged.

    `reversible_by`: agencies that receive the field encrypted deterministically
    (AES-SIV) with a key only they can unseal, instead of in the clear.
    """

    classification: str
    tags: tuple[str, ...] = ()
    description: str = ""
    line: int | None = field(default=None, compare=False)
    reversible_by: tuple[str, ...] = ()

    @property
    def special_category(self) -> bool:
        """Special category of personal data (a GDPR art. 9/10 tag), whatever the classification."""
        return bool(SPECIAL_CATEGORY_TAGS.intersection(self.tags))

    @property
    def quasi_identifier(self) -> bool:
        """Tagged `quasi-identifier`: disclosure policies generalize it and count classes over it."""
        return QUASI_IDENTIFIER in self.tags


@dataclass(frozen=True)
class Expectation:
    """One rule in Great Expectations' suite vocabulary: `type` plus its `kwargs`."""

    type: str
    kwargs: Mapping[str, Any]
    line: int | None = field(default=None, compare=False)
    meta: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Sla:
    """Batch-level promises. `freshness`: the newest cursor value must be at most this
    old; `min_rows` / `max_rows`: a run's row count; `on_breach`: warn or fail."""

    freshness: dt.timedelta | None = None
    freshness_text: str | None = None
    min_rows: int | None = None
    max_rows: int | None = None
    on_breach: str = "warn"


@dataclass(frozen=True)
class Contract:
    """A dataset's contract. `schema_ref` is relative to the contract file's folder;
    `source` is opaque here (the exchange builds the connector from it); `lines` maps
    a key path such as `fields.national_id` or `key_fields` to its line in the file."""

    id: str
    version: str
    owner: str
    description: str
    purpose: str
    schema_ref: str
    compatibility: str
    subject_field: str
    key_fields: tuple[str, ...]
    cursor_field: str | None
    source: Mapping[str, Any]
    fields: Mapping[str, FieldSpec]
    expectations: tuple[Expectation, ...] = ()
    sla: Sla = field(default_factory=Sla)
    path: Path | None = None
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)
    # How long the bus may keep a row (staged, in the snapshot, in quarantine), counted
    # from the row's cursor field or its arrival: an ISO 8601 period such as P7Y; None: no limit.
    data_life: str | None = None

    @property
    def schema_path(self) -> Path:
        """The schema file, resolved against the contract file's folder."""
        base = self.path.parent if self.path is not None else Path()
        return base / self.schema_ref

    def fields_classified(self, *classifications: str) -> tuple[str, ...]:
        """Field names with any of the given classifications, in declaration order."""
        return tuple(n for n, spec in self.fields.items() if spec.classification in classifications)

    def special_category_fields(self) -> tuple[str, ...]:
        """Fields that are special category (by tag) or classified sensitive, in declaration order."""
        fields = self.fields.items()
        return tuple(n for n, spec in fields if spec.special_category or spec.classification == "sensitive")

    def quasi_identifiers(self) -> tuple[str, ...]:
        """Fields tagged `quasi-identifier`, in declaration order."""
        return tuple(n for n, spec in self.fields.items() if spec.quasi_identifier)

    def line_of(self, key: str) -> int | None:
        """The line of a key path in the contract file, when known."""
        return self.lines.get(key)
