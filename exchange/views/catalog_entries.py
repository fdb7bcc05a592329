"""The catalog as its readers see it: one typed, value-free description per dataset.

`govbus catalog list | show` and the portal's catalog pages and `GET /api/catalog[/{id}]`
all call `catalog_entries` / `catalog_entry`, so the terminal, the web and the API agree.
Every signed-in role may read every entry: an entry is metadata from the catalog (the
contract, the Avro schema, purposes and statutes), a count of subscribers and the time
of the last committed stage — never a value of the data, never which agencies subscribe
(only how many), never runs or quarantine counts.

The shapes, and the JSON they give (`dataclasses.asdict`: the CLI's `--format json`, the
API's body), are documented in `exchange.views.catalog_shapes`; this module re-exports them.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from exchange import state
from exchange.catalog import Catalog, Dataset
from exchange.views.catalog_shapes import (
    CatalogEntry,
    CatalogField,
    CatalogFreshness,
    CatalogLegalBasis,
    CatalogOwner,
    CatalogPurpose,
    CatalogRule,
    CatalogSchemaVersion,
    CatalogSla,
)
from exchange.views.rule_words import rule_columns, rule_level, rule_text
from exchange.views.special_categories import special_category
from govbus.errors import BadInput
from govbus.instants import utc_now

__all__ = [
    "CSV_COLUMNS",
    "CatalogEntry",
    "CatalogField",
    "CatalogFreshness",
    "CatalogLegalBasis",
    "CatalogOwner",
    "CatalogPurpose",
    "CatalogQuery",
    "CatalogRule",
    "CatalogSchemaVersion",
    "CatalogSla",
    "catalog_csv",
    "catalog_entries",
    "catalog_entry",
    "catalog_json",
    "filter_values",
    "last_commits",
]


@dataclass(frozen=True)
class CatalogQuery:
    """Filters of the catalog list; None matches everything.

    `owner` an agency id, `tag` a field tag, `purpose` a purpose code (exact); `search`
    free text, case-insensitive, in the id, the description or a field name.
    """

    owner: str | None = None
    tag: str | None = None
    purpose: str | None = None
    search: str | None = None

    def matches(self, entry: CatalogEntry) -> bool:
        """Whether the entry passes every filter given."""
        if self.owner and entry.owner.id != self.owner:
            return False
        if self.tag and self.tag not in entry.tags:
            return False
        if self.purpose and self.purpose not in {p.code for p in entry.purposes}:
            return False
        text = (self.search or "").strip().casefold()
        if text:
            haystack = [entry.id, entry.description, *(f.name for f in entry.fields)]
            return any(text in item.casefold() for item in haystack)
        return True

    def unknown(self, catalog: Catalog) -> list[str]:
        """What the filters name that the catalog does not know (a typo matches nothing).

        The CLI refuses those (`check`); the API and the portal answer with no match.
        """
        found = []
        choices = filter_values(catalog)
        for label, value in (("owner", self.owner), ("tag", self.tag), ("purpose", self.purpose)):
            known = choices[label]
            if value and value not in known:
                found.append(f"no {label} {value!r} in the catalog (known: {', '.join(known) or 'none'})")
        return found

    def check(self, catalog: Catalog) -> None:
        """Raise BadInput naming every filter value the catalog does not know."""
        problems = self.unknown(catalog)
        if problems:
            raise BadInput("; ".join(problems), where="catalog filters", hint="use a value the catalog lists")


def filter_values(catalog: Catalog) -> dict[str, list[str]]:
    """What each exact filter may name, sorted: `owner` agency ids, `tag` field tags, `purpose` codes."""
    fields = [spec for d in catalog.datasets.values() for spec in d.contract.fields.values()]
    return {
        "owner": sorted(catalog.agencies),
        "tag": sorted({tag for spec in fields for tag in spec.tags}),
        "purpose": sorted(catalog.purposes),
    }


def last_commits(engine: sa.Engine) -> dict[str, datetime]:
    """Per dataset, when its last stage was committed (UTC): `stages`, else `dataset_cursors`."""
    st, cur = state.stages, state.cursors
    found: dict[str, datetime] = {}
    with engine.connect() as conn:
        committed = (
            sa.select(st.c.dataset, sa.func.max(st.c.committed_at))
            .where(st.c.status == "committed")
            .group_by(st.c.dataset)
        )
        for dataset, at in conn.execute(committed):
            if at is not None:
                found[dataset] = _utc(at)
        for dataset, at in conn.execute(sa.select(cur.c.dataset, cur.c.updated_at)):
            if at is not None and dataset not in found:
                found[dataset] = _utc(at)
    return found


def catalog_entries(
    catalog: Catalog,
    *,
    engine: sa.Engine | None = None,
    query: CatalogQuery | None = None,
    at: datetime | None = None,
) -> list[CatalogEntry]:
    """Every dataset's entry that `query` matches, by id. `engine`: the state database, for
    freshness (without it freshness is `unknown`); `at`: the time statutes and the SLA are
    judged at (default now)."""
    at = at or utc_now()
    commits = last_commits(engine) if engine is not None else None
    query = query or CatalogQuery()
    entries = (_describe(catalog, catalog.datasets[d], commits, at) for d in sorted(catalog.datasets))
    return [e for e in entries if query.matches(e)]


def catalog_entry(
    catalog: Catalog, dataset_id: str, *, engine: sa.Engine | None = None, at: datetime | None = None
) -> CatalogEntry:
    """One dataset's entry; BadConfiguration naming the known ids for an unknown one."""
    dataset = catalog.dataset(dataset_id)
    commits = last_commits(engine) if engine is not None else None
    return _describe(catalog, dataset, commits, at or utc_now())


def _describe(
    catalog: Catalog, dataset: Dataset, commits: dict[str, datetime] | None, at: datetime
) -> CatalogEntry:
    contract, schema = dataset.contract, dataset.schema
    owner = catalog.agencies.get(contract.owner)
    subscriptions = catalog.subscriptions_for(dataset.id)
    statutes = sorted((s for s in catalog.statutes.values() if s.dataset == dataset.id), key=lambda s: s.id)
    codes = {s.purpose for s in subscriptions} | {s.purpose for s in statutes}
    purposes = tuple(
        CatalogPurpose(code, getattr(catalog.purposes.get(code), "description", "")) for code in sorted(codes)
    )
    sla = contract.sla
    return CatalogEntry(
        id=dataset.id,
        owner=CatalogOwner(contract.owner, owner.name if owner else contract.owner),
        description=contract.description,
        purpose=contract.purpose,
        version=contract.version,
        compatibility=contract.compatibility,
        schema_versions=tuple(
            CatalogSchemaVersion(v.label, v.fingerprint_sha256, v == schema) for v in dataset.versions
        ),
        subject_field=contract.subject_field,
        key_fields=tuple(contract.key_fields),
        cursor_field=contract.cursor_field,
        fields=tuple(_field(dataset, name) for name in schema.field_names),
        rules=tuple(
            CatalogRule(e.type, rule_columns(e), rule_text(e), rule_level(e)) for e in contract.expectations
        ),
        sla=CatalogSla(sla.freshness_text, sla.min_rows, sla.max_rows, sla.on_breach),
        freshness=_freshness(dataset, commits, at),
        purposes=purposes,
        legal_bases=tuple(_basis(catalog, s, at) for s in statutes),
        consent_access=any(s.statute is None for s in subscriptions),
        subscribers=len(subscriptions),
    )


def _field(dataset: Dataset, name: str) -> CatalogField:
    schema = dataset.schema
    spec = dataset.contract.fields.get(name)
    doc = schema.parsed["fields"][schema.field_names.index(name)].get("doc")
    description = doc if isinstance(doc, str) and doc.strip() else (spec.description if spec else "")
    reversible_by = tuple(spec.reversible_by) if spec else ()
    return CatalogField(
        name=name,
        type=schema.describe_field(name),
        nullable=schema.is_nullable(name),
        description=description,
        classification=spec.classification if spec else "unclassified",
        tags=tuple(spec.tags) if spec else (),
        special_category=special_category(spec.tags) if spec else None,
        reversible=bool(reversible_by),
        reversible_by=reversible_by,
    )


def _freshness(dataset: Dataset, commits: dict[str, datetime] | None, at: datetime) -> CatalogFreshness:
    if commits is None:
        return CatalogFreshness("unknown", None)
    last = commits.get(dataset.id)
    if last is None:
        return CatalogFreshness("never", None)
    limit = dataset.contract.sla.freshness
    status = "no-sla" if limit is None else ("fresh" if at - last <= limit else "stale")
    return CatalogFreshness(status, _iso(last))


def _basis(catalog: Catalog, statute: Any, at: datetime) -> CatalogLegalBasis:
    recipient = catalog.agencies.get(statute.recipient)
    return CatalogLegalBasis(
        statute=statute.id,
        law=statute.law,
        recipient=statute.recipient,
        recipient_name=recipient.name if recipient else statute.recipient,
        purpose=statute.purpose,
        fields=tuple(statute.fields),
        valid_from=_day_or_instant(statute.valid_from, end=False),
        valid_until=_day_or_instant(statute.valid_until, end=True),
        in_force=statute.in_force(at),
    )


def _day_or_instant(value: datetime | None, *, end: bool) -> str | None:
    """A statute bound as its YAML wrote it: midnight UTC is a day (an end's is the day before)."""
    if value is None:
        return None
    value = _utc(value)
    if (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0):
        return (value - timedelta(days=1) if end else value).date().isoformat()
    return _iso(value)


def _utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes: the bus writes UTC, so read them as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _iso(value: datetime) -> str:
    return _utc(value).isoformat(timespec="seconds").replace("+00:00", "Z")


# -- text formats ----------------------------------------------------------------------


def catalog_json(entries: CatalogEntry | list[CatalogEntry]) -> str:
    """The entries (a list) or one entry (an object) as indented JSON, in the documented shape."""
    shaped: Any = [asdict(e) for e in entries] if isinstance(entries, list) else asdict(entries)
    return json.dumps(shaped, indent=2, ensure_ascii=False)


CSV_COLUMNS = (
    "id",
    "owner",
    "owner_name",
    "description",
    "version",
    "compatibility",
    "subject_field",
    "key_fields",
    "cursor_field",
    "fields",
    "tags",
    "special_categories",
    "rule_count",
    "purposes",
    "legal_bases",
    "consent_access",
    "subscribers",
    "sla_freshness",
    "freshness",
    "last_committed_at",
)
"""The CSV header: one row per dataset; lists are joined with `;` (names never contain one);
`special_categories` pairs each special-category field with its categories
(`diagnosis_group=health`; several categories of one field joined by `+`);
`rule_count` is how many rules the contract has (their words are in the JSON and `show`)."""


def catalog_csv(entries: list[CatalogEntry]) -> str:
    """The entries as CSV text: the header `CSV_COLUMNS`, then one row per dataset."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        writer.writerow(
            [
                e.id,
                e.owner.id,
                e.owner.name,
                e.description,
                e.version,
                e.compatibility,
                e.subject_field,
                ";".join(e.key_fields),
                e.cursor_field or "",
                ";".join(f.name for f in e.fields),
                ";".join(e.tags),
                ";".join(
                    f"{f.name}={'+'.join(f.special_category.categories)}"
                    for f in e.fields
                    if f.special_category is not None
                ),
                len(e.rules),
                ";".join(p.code for p in e.purposes),
                ";".join(b.statute for b in e.legal_bases),
                "true" if e.consent_access else "false",
                e.subscribers,
                e.sla.freshness or "",
                e.freshness.status,
                e.freshness.last_committed_at or "",
            ]
        )
    return out.getvalue()
