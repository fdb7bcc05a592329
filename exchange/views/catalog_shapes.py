"""The shapes of the catalog as its readers see it: one frozen record per dataset.

`exchange.views.catalog_entries` builds them from the loaded catalog (and the state
database, for freshness); the CLI, the portal's pages and its JSON API print them. They
hold metadata only: names, types, classifications, rules, purposes, statutes, counts and
times — never a value of the data, never which agencies subscribe.

The JSON shape (the CLI's `--format json`, the API's body) is `dataclasses.asdict` of a
`CatalogEntry`, keys in the order the dataclasses declare them, tuples as arrays, times
as ISO 8601 text in UTC:

    {"id", "owner": {"id", "name"}, "description", "purpose", "version", "compatibility",
     "schema_versions": [{"label", "fingerprint_sha256", "current"}], "subject_field",
     "key_fields", "cursor_field",
     "fields": [{"name", "type", "nullable", "description", "classification", "tags",
                 "special_category": null | {"categories", "gdpr_articles", "text"},
                 "reversible", "reversible_by"}],
     "rules": [{"expectation", "fields", "text", "level"}],
     "sla": {"freshness", "min_rows", "max_rows", "on_breach"},
     "freshness": {"status", "last_committed_at"},
     "purposes": [{"code", "description"}],
     "legal_bases": [{"statute", "law", "recipient", "recipient_name", "purpose", "fields",
                      "valid_from", "valid_until", "in_force"}],
     "consent_access", "subscribers"}

`special_category` is null unless the field's tags make it special category of personal
data (GDPR art. 9, or art. 10 for criminal convictions and offences), whatever its
classification: then `categories` are the canonical category names (`health`,
`criminal-offences`, ...), `gdpr_articles` the articles (`["9"]`, `["9", "10"]`) and
`text` the marker in words ("special category — GDPR art. 9: health"); see
`exchange.views.special_categories`.
`type` is the Avro type in words (`string`, `decimal(14,2)`, `date`, `timestamp-micros`)
with `nullable` saying whether the field admits null (shown `date?` in tables).
`freshness.status` is `fresh`, `stale` (older than the SLA), `no-sla`, `never` (nothing
committed yet) or `unknown` (no state database was given). A statute's `valid_until` is
written as legal-bases.yaml reads: a date is the last day covered.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CatalogEntry",
    "CatalogField",
    "CatalogFreshness",
    "CatalogLegalBasis",
    "CatalogOwner",
    "CatalogPurpose",
    "CatalogRule",
    "CatalogSchemaVersion",
    "CatalogSla",
    "CatalogSpecialCategory",
]


@dataclass(frozen=True)
class CatalogOwner:
    """The agency that owns the dataset: its id in the catalog and its name."""

    id: str
    name: str


@dataclass(frozen=True)
class CatalogSchemaVersion:
    """One version of the dataset's Avro schema; `current` is the one the contract names."""

    label: str
    fingerprint_sha256: str
    current: bool


@dataclass(frozen=True)
class CatalogSpecialCategory:
    """Why a field is special category: its categories (canonical, sorted), the GDPR articles
    (`9`; `10` for criminal convictions and offences) and the marker in words."""

    categories: tuple[str, ...]
    gdpr_articles: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class CatalogField:
    """A field: its Avro type in words, whether it admits null, its description (the schema's
    `doc`, else the contract's), classification, tags, whether the tags make it special
    category (and which), and who gets it reversibly encrypted."""

    name: str
    type: str
    nullable: bool
    description: str
    classification: str
    tags: tuple[str, ...]
    special_category: CatalogSpecialCategory | None
    reversible: bool
    reversible_by: tuple[str, ...]

    @property
    def shown_type(self) -> str:
        """The type as tables show it: `date?` for a nullable date."""
        return f"{self.type}?" if self.nullable else self.type


@dataclass(frozen=True)
class CatalogRule:
    """One expectation of the contract: its GX type, the fields it names, the rule in words, and
    whether it judges rows (`row`: failing rows are quarantined) or the batch (`batch`)."""

    expectation: str
    fields: tuple[str, ...]
    text: str
    level: str


@dataclass(frozen=True)
class CatalogSla:
    """The contract's promises: freshness as an ISO 8601 duration (`P2D`), rows per run, and
    whether a breach only warns or fails the run."""

    freshness: str | None
    min_rows: int | None
    max_rows: int | None
    on_breach: str


@dataclass(frozen=True)
class CatalogFreshness:
    """When the dataset last committed a stage (UTC, ISO 8601) and how that compares to the SLA."""

    status: str
    last_committed_at: str | None


@dataclass(frozen=True)
class CatalogPurpose:
    """A purpose the dataset serves (named by a subscription or a statute), as purposes.yaml says it."""

    code: str
    description: str


@dataclass(frozen=True)
class CatalogLegalBasis:
    """A statute that lets `recipient` receive `fields` of the dataset for `purpose`.

    `valid_from`/`valid_until`: as legal-bases.yaml writes them (a date is a whole day;
    `valid_until`'s date is the last day covered); `in_force`: at the time of the description.
    """

    statute: str
    law: str
    recipient: str
    recipient_name: str
    purpose: str
    fields: tuple[str, ...]
    valid_from: str | None
    valid_until: str | None
    in_force: bool


@dataclass(frozen=True)
class CatalogEntry:
    """Everything a reader of the catalog may know of one dataset (module doc); no data value.

    `consent_access`: some subscription receives it on the subjects' consent (sensitive
    fields never leave on consent); `subscribers`: how many subscriptions it has.
    """

    id: str
    owner: CatalogOwner
    description: str
    purpose: str
    version: str
    compatibility: str
    schema_versions: tuple[CatalogSchemaVersion, ...]
    subject_field: str
    key_fields: tuple[str, ...]
    cursor_field: str | None
    fields: tuple[CatalogField, ...]
    rules: tuple[CatalogRule, ...]
    sla: CatalogSla
    freshness: CatalogFreshness
    purposes: tuple[CatalogPurpose, ...]
    legal_bases: tuple[CatalogLegalBasis, ...]
    consent_access: bool
    subscribers: int

    @property
    def tags(self) -> tuple[str, ...]:
        """Every tag of any field, sorted."""
        return tuple(sorted({tag for f in self.fields for tag in f.tags}))
