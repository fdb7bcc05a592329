"""Subject search: which deliveries carried one person's data (auditors only).

The auditor types a national id. It is turned at once into the audit pseudonym
(HMAC-SHA256 under the key store's audit key, `ConsentRegister.subject_ref`), and only
that pseudonym is looked up: the typed id is never logged, stored, put in an error
message or returned by the API; the HTML page shows it back only in its own form field.

The lookup reads the access index (`audit.access_index`: the subjects of every
delivered batch, by audit pseudonym, written with the delivery) for the ledger entries
that carried this pseudonym, and reports each delivery as the signed ledger entry
describes it. A state database without the table says so (`index_available=False` and a
notice) rather than pretending nobody received anything.
`deliveries_of_ref` is the lookup without the role check, for the citizen's report
(`citizen.py`), which checks the role itself.
"""

from __future__ import annotations

import json
import re

import sqlalchemy as sa

import audit
from exchange.bus import Bus
from exchange.portal import models
from exchange.portal.queries import as_utc
from exchange.views.roles import Principal
from govbus.errors import BadInput

ACCESS_INDEX_TABLE = audit.ACCESS_INDEX_TABLE
INDEX_NOT_BUILT = (
    "The access index is not built yet, so deliveries cannot be listed per person. "
    "No result here does not mean that nobody received this person's data."
)
_ID_SHAPE = re.compile(r"[0-9A-Za-z][0-9A-Za-z./-]{0,63}")


def audit_ref(bus: Bus, national_id: str) -> str:
    """The audit pseudonym of a typed id; a malformed one is refused without repeating it."""
    typed = national_id.strip()
    if not _ID_SHAPE.fullmatch(typed):
        raise BadInput(
            "this is not a national id",
            where="subject search: national_id",
            hint="type letters and digits only (up to 64), as printed on the identity document",
        )
    return bus.register.subject_ref(typed)


def subject_deliveries(bus: Bus, who: Principal, national_id: str) -> models.SubjectReport:
    """Every delivery of this person's data recorded in the access index, oldest first."""
    who.require_subject_search()
    return deliveries_of_ref(bus, audit_ref(bus, national_id))


def deliveries_of_ref(bus: Bus, ref: str) -> models.SubjectReport:
    """The deliveries the access index lists for one audit pseudonym (no role check: callers do it)."""
    with bus.engine.connect() as conn:
        if not sa.inspect(conn).has_table(ACCESS_INDEX_TABLE):
            return models.SubjectReport(index_available=False, notice=INDEX_NOT_BUILT, deliveries=[])
        seqs = audit.deliveries_of_subject(conn, ref)
        ledger = audit.AUDIT_METADATA.tables["ledger"]
        rows = (
            conn.execute(
                sa.select(ledger.c.seq, ledger.c.at, ledger.c.payload)
                .where(ledger.c.seq.in_(seqs))
                .order_by(ledger.c.seq)
            ).all()
            if seqs
            else []
        )
    return models.SubjectReport(index_available=True, deliveries=[_delivery(r) for r in rows])


def _delivery(row: sa.Row) -> models.SubjectDelivery:  # type: ignore[type-arg]
    entry = audit.DeliveryEntry.from_payload(json.loads(row.payload), seq=row.seq)
    return models.SubjectDelivery(
        ledger_seq=row.seq,
        at=as_utc(row.at),
        dataset=entry.dataset,
        recipient=entry.recipient,
        purpose=entry.purpose,
        basis=entry.basis,
        fields=list(entry.fields),
        batch_id=entry.batch_id,
    )
