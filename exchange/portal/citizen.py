"""The citizen's access report: who received my data, when, why and under which law.

One self-contained HTML page (inline style, no script, no external link) that a person
can keep, print or show someone: every delivery of their data the access index lists,
in plain sentences ("On 3 March 2026 the Tax Authority gave the Social Benefits Agency
data about you ... Allowed by the Social Benefits Act, section 12(3)."), each with the
inclusion proof of its signed ledger entry folded away under it, and how to check the
proofs at the end. `govbus audit subject ID --format html` writes it and the portal's
subject search offers it to auditors (`POST /subject/report`): both call
`citizen_report` and `render_citizen_report`, so they cannot differ.

What the page holds about the person: their national id masked to its last four
characters (`******1234`), never in full, and never their audit pseudonym. Everything
else is the ledger's own words (ids of batches and consents, counts, field names, Merkle
roots), which hold no personal value by construction, and the catalog's descriptions.

It comes in each language the deployment declares (`citizen_text`: `catalog/languages.yaml`,
`--lang` at the command line, a choice in the portal's form); the words, dates and numbers
follow the language, and the catalog's own texts (agency names, descriptions, field
labels) come from `catalog/translations/<lang>.yaml` (`exchange.catalog.translations`),
marked "not translated" where that file lacks one. A delivery of fields
of a special category (health, criminal records, ...) says so in words, with the GDPR
article (`exchange.views.special_categories`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from jinja2 import Environment, FileSystemLoader, StrictUndefined

import audit
import consent
import contracts
from audit import entry_proofs, proof_json
from exchange.bus import Bus
from exchange.catalog.loader import Catalog
from exchange.catalog.translations import CatalogTexts, Translated, catalog_texts
from exchange.portal.citizen_text import Language, declared_languages, language
from exchange.portal.queries import as_utc
from exchange.portal.subjects import audit_ref, deliveries_of_ref
from exchange.run import PSEUDONYM_COLUMN
from exchange.views import mask_id
from exchange.views.roles import Principal
from exchange.views.special_categories import marker
from govbus.instants import utc_now

TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE = "citizen_report.html"
# The saved file forbids every script and every outside resource; the portal sends the same.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
PSEUDONYM_FIELD = PSEUDONYM_COLUMN  # the delivered pseudonym column (exchange.run.columns)


@dataclass(frozen=True)
class CitizenDelivery:
    """One delivery as the person reads it (and the proof an expert can check)."""

    seq: int
    at: datetime
    sentence: str
    owner: str
    dataset: str
    dataset_about: str
    recipient: str
    purpose: str
    basis: str
    fields: tuple[str, ...]
    pseudonymized: bool
    special: str  # the special categories among `fields`, in words with their GDPR articles; "" if none
    proof: str | None  # the `govbus audit proof` document; None if newer than the last checkpoint


@dataclass(frozen=True)
class CitizenReport:
    """Everything the page shows: the id only masked (never the audit pseudonym), the deliveries, and the
    latest checkpoint and public keys to check their proofs with."""

    masked_id: str
    generated_at: datetime
    index_available: bool
    notice: str | None
    deliveries: tuple[CitizenDelivery, ...]
    recipients: tuple[str, ...]
    checkpoint: dict[str, Any] | None
    public_keys: tuple[tuple[str, str], ...]  # (key id, PEM)
    lang: str = "en"  # the language its sentences were written in, and its page's


def day_text(value: datetime, lang: str = "en") -> str:
    """`3 March 2026`, `3 mars 2026` (UTC)."""
    return language(lang).day(as_utc(value) or value)


def citizen_report(bus: Bus, who: Principal, national_id: str, lang: str = "en") -> CitizenReport:
    """Every delivery of this person's data, in plain words, with an inclusion proof each.

    Only an auditor may build it (the portal) or the operator at the command line, who
    acts as one; the typed id is looked up by its audit pseudonym and kept only masked.
    An id of no form a dataset declares for its subject is refused (BadInput, "this is
    not a valid id"), so the page never says "nobody received your data" to a typo.
    `lang`: a code of `citizen_text.LANGUAGES` the caller checked the deployment offers.
    """
    who.require_subject_search()
    words = language(lang)
    texts = catalog_texts(bus.catalog, words.code, declared_languages(bus.settings.catalog_dir)[0])
    ref = audit_ref(bus, national_id)
    found = deliveries_of_ref(bus, ref)
    seqs = [d.ledger_seq for d in found.deliveries]
    ledger = audit.AUDIT_METADATA.tables["ledger"]
    with bus.engine.connect() as conn:
        entries = {
            row.seq: audit.DeliveryEntry.from_payload(json.loads(row.payload), seq=row.seq)
            for row in conn.execute(sa.select(ledger.c.seq, ledger.c.payload).where(ledger.c.seq.in_(seqs)))
        }
        proofs = entry_proofs(conn, seqs)
        consents = bus.register.list_for_ref(conn, ref) if seqs else []
        checkpoint = audit.latest_checkpoint(conn)
    deliveries = tuple(
        _delivery(
            bus.catalog,
            words,
            texts,
            d.ledger_seq,
            as_utc(d.at) or d.at,
            entries[d.ledger_seq],
            consents,
            proofs,
        )
        for d in found.deliveries
    )
    keys = bus.keys.public_keys()
    return CitizenReport(
        masked_id=mask_id(national_id),
        generated_at=utc_now(),
        index_available=found.index_available,
        notice=found.notice,
        deliveries=deliveries,
        recipients=tuple(sorted({d.recipient for d in deliveries})),
        checkpoint=checkpoint.to_json() if checkpoint is not None else None,
        public_keys=tuple((key_id, audit.public_key_pem(keys[key_id])) for key_id in sorted(keys)),
        lang=words.code,
    )


def render_citizen_report(report: CitizenReport) -> str:
    """The report as one HTML document (UTF-8 text), the same for the CLI and the portal."""
    words = language(report.lang)
    return (
        _environment()
        .get_template(TEMPLATE)
        .render(
            r=report,
            t=words,
            csp=CONTENT_SECURITY_POLICY,
            day=lambda value: words.day(as_utc(value) or value),
            generated=words.day(report.generated_at),
        )
    )


def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined)


def _delivery(
    catalog: Catalog,
    words: Language,
    texts: CatalogTexts,
    seq: int,
    at: datetime,
    entry: audit.DeliveryEntry,
    consents: list[consent.ConsentRecord],
    proofs: dict[int, dict[str, Any]],
) -> CitizenDelivery:
    dataset_id = entry.dataset
    dataset = catalog.datasets.get(dataset_id)
    owner = _agency(catalog, words, texts, dataset.contract.owner) if dataset else words.text("owner_unknown")
    about = (
        _shown(words, texts.dataset(dataset_id, dataset.contract.description), in_sentence=True)
        if dataset
        else dataset_id
    )
    recipient = _agency(catalog, words, texts, entry.recipient)
    purpose_code = entry.purpose
    purpose = catalog.purposes.get(purpose_code)
    purpose_text = (
        _shown(words, texts.purpose(purpose_code, purpose.description), in_sentence=True)
        if purpose
        else purpose_code
    )
    fields = entry.fields
    basis = _basis(catalog, words, texts, entry, at, consents)
    sentence = words.text(
        "sentence",
        day=words.day(at),
        owner=owner,
        recipient=recipient,
        about=about,
        purpose=_lower_first(purpose_text),
        basis=basis,
        approval=_approval(catalog, words, entry, owner),
    )
    proof = proofs.get(seq)
    return CitizenDelivery(
        seq=seq,
        at=at,
        sentence=sentence,
        owner=owner,
        dataset=dataset_id,
        dataset_about=about,
        recipient=recipient,
        purpose=purpose_text,
        basis=basis,
        fields=tuple(_field_label(catalog, words, texts, dataset_id, f) for f in fields),
        pseudonymized=PSEUDONYM_FIELD in fields,
        special=_special(catalog, words, texts, dataset_id, fields),
        proof=proof_json(proof) if proof is not None else None,
    )


def _approval(catalog: Catalog, words: Language, entry: audit.DeliveryEntry, owner: str) -> str:
    """Who let the recipient receive this dataset: the owner's signed decision, or the catalog."""
    sub = catalog.subscriptions.get(entry.subscription)
    first = words.text("first_load") if entry.load else ""
    if sub is not None and sub.origin == "request" and sub.approval_seq is not None:
        return words.text("approved", owner=f"{owner[:1].upper()}{owner[1:]}", seq=sub.approval_seq) + first
    return words.text("declared", subscription=entry.subscription) + first


def _agency(catalog: Catalog, words: Language, texts: CatalogTexts, agency_id: str) -> str:
    agency = catalog.agencies.get(agency_id)
    if agency is None:
        return words.text("agency_unknown", id=agency_id)
    return words.text("agency", name=_shown(words, texts.agency(agency_id, agency.name)))


def _shown(words: Language, text: Translated, *, in_sentence: bool = False) -> str:
    """A catalog text; one the deployment has not translated into `words` is marked so.
    `in_sentence`: without its final full stop (the sentence goes on after it)."""
    shown = text.text.strip().rstrip(".") if in_sentence else text.text
    return shown if text.translated else words.text("untranslated", text=shown)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def _basis(
    catalog: Catalog,
    words: Language,
    texts: CatalogTexts,
    entry: audit.DeliveryEntry,
    at: datetime,
    consents: list[consent.ConsentRecord],
) -> str:
    basis = entry.basis
    if basis.startswith("statute:"):
        statute_id = basis.removeprefix("statute:")
        statute = catalog.statutes.get(statute_id)
        law = (
            words.text("law", law=_shown(words, texts.statute(statute_id, statute.law)), id=statute_id)
            if statute
            else words.text("statute", id=statute_id)
        )
        return words.text("by_statute", law=law)
    if basis == consent.CONSENT_BASIS:
        given = _consent_in_force(consents, at, entry)
        if given is None:
            return words.text("by_consent")
        day = words.day(as_utc(given.valid_from) or given.valid_from)
        return words.text("by_consent_no", id=given.consent_id, day=day)
    return words.text("by_other", basis=basis or words.text("none"))


def _consent_in_force(
    consents: list[consent.ConsentRecord], at: datetime, entry: audit.DeliveryEntry
) -> consent.ConsentRecord | None:
    """The person's consent that covered this delivery: same recipient, dataset and purpose,
    valid at the delivery's time (the latest one if several)."""
    matching = [
        c
        for c in consents
        if (c.recipient, c.dataset, c.purpose) == (entry.recipient, entry.dataset, entry.purpose)
        and as_utc(c.valid_from) <= at
        and (c.valid_until is None or at < as_utc(c.valid_until))
    ]
    return max(matching, key=lambda c: as_utc(c.valid_from)) if matching else None


def _special(
    catalog: Catalog, words: Language, texts: CatalogTexts, dataset_id: str, fields: tuple[str, ...]
) -> str:
    """ "special category — GDPR art. 9: health: <the fields' labels>" for the delivered fields
    whose tags make them special category (GDPR art. 9 or 10); "" when none is."""
    dataset = catalog.datasets.get(dataset_id)
    if dataset is None:
        return ""
    specs = dataset.contract.fields
    concerned = [name for name in fields if name in specs and specs[name].special_category]
    if not concerned:
        return ""
    categories = {c for name in concerned for c in contracts.special_categories(specs[name].tags)}
    labels = [_field_label(catalog, words, texts, dataset_id, name) for name in concerned]
    return words.text("special_value", marker=marker(categories, words.code), fields=words.join(labels))


def _field_label(catalog: Catalog, words: Language, texts: CatalogTexts, dataset_id: str, name: str) -> str:
    if name == PSEUDONYM_FIELD:
        return words.text("pseudonym_field")
    dataset = catalog.datasets.get(dataset_id)
    spec = dataset.contract.fields.get(name) if dataset else None
    default = spec.description if spec is not None and spec.description else name.replace("_", " ")
    return _shown(words, texts.field_label(dataset_id, name, default))
