"""Subject search: which deliveries carried one person's data (auditors only).

The auditor types a national id. It is first checked against the form the catalog's
datasets declare for their subject field (`check_subject_id`): a mistyped id gets "this
is not a valid id", never "nobody received data about you", which would be a false
answer to a legal access request. It is then turned at once into the audit pseudonym
(HMAC-SHA256 under the key store's audit key, `ConsentRegister.subject_ref`), and only
that pseudonym is looked up: the typed id is never logged, stored, put in an error
message or returned by the API, and the HTML page shows it only masked (`mask_id`).

The form of an id is what a dataset's contract expects of its subject field: every
row-level expectation on that field alone (`expect_column_values_to_match_regex`,
`..._value_lengths_to_be_between`, `..._to_be_in_set`, and any check-digit rule a
contract may declare in the same way), run by `contracts.evaluate` on the one typed
value, cast to the field's type, exactly as a staged row would be checked. A row that
fails them is quarantined, never delivered, so an id no dataset accepts cannot have been
delivered. A dataset that declares no rule for its subject accepts any id of the
general shape (`_ID_SHAPE`: letters, digits, '.', '/', '-', up to 64).

The lookup reads the access index (`audit.subject_sets`: each staged segment's subjects
by audit pseudonym, and per delivered batch which of them it carried, written with the
delivery; older deliveries in `audit.access_index`) for the ledger entries
that carried this pseudonym, and reports each delivery as the signed ledger entry
describes it. A state database without the table says so (`index_available=False` and a
notice) rather than pretending nobody received anything.
`deliveries_of_ref` is the lookup without the role check, for the citizen's report
(`citizen.py`), which checks the role itself.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pyarrow as pa
import sqlalchemy as sa

import audit
import contracts
from exchange.bus import Bus
from exchange.catalog.loader import Catalog
from exchange.portal import models
from exchange.portal.queries import as_utc
from exchange.views.roles import Principal
from govbus.errors import BadInput, GovBusError

ACCESS_INDEX_TABLE = audit.ACCESS_INDEX_TABLE
INDEX_NOT_BUILT = (
    "The access index is not built yet, so deliveries cannot be listed per person. "
    "No result here does not mean that nobody received this person's data."
)
_ID_SHAPE = re.compile(r"[0-9A-Za-z][0-9A-Za-z./-]{0,63}")


NOT_VALID = "this is not a valid id: it is not a national id of the form any dataset declares"
_WHERE = "subject search: national_id"
_MAX_TYPED = 256  # longer input is refused before any rule runs
# Rules one typed value always passes: they say nothing about its form.
_SAY_NOTHING = frozenset({"expect_column_values_to_not_be_null", "expect_column_values_to_be_unique"})


@dataclass(frozen=True)
class IdForm:
    """What one dataset expects of its subject field: the field's type and its rules."""

    dataset: str
    field: str
    arrow_type: pa.DataType
    rules: tuple[contracts.Expectation, ...]  # row-level, on the subject field alone

    def accepts(self, typed: str) -> bool:
        """Whether the id passes the field's type and every rule, as a staged value would."""
        if not self.rules:
            return _ID_SHAPE.fullmatch(typed) is not None
        try:
            column = pa.array([typed], pa.string()).cast(self.arrow_type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return False
        table = pa.table({self.field: column})
        try:
            results = contracts.evaluate(table, self.rules, self.dataset)
        except GovBusError:
            return False  # a rule that cannot run on the value: not of this form
        return all(result.unexpected_count == 0 for result in results)

    def described(self) -> tuple[str, ...]:
        """The rules as the contract words them (`national_id: ..._match_regex(regex=...)`)."""
        if not self.rules:
            return (f"{self.field}: letters, digits, '.', '/' or '-' (up to 64)",)
        return tuple(contracts.describe(rule) for rule in self.rules)


def id_forms(catalog: Catalog) -> list[IdForm]:
    """Each dataset's subject-id form, from its contract (see the module doc)."""
    forms = []
    for dataset_id, dataset in sorted(catalog.datasets.items()):
        contract = dataset.contract
        field = contract.subject_field
        if not field or field not in dataset.schema.arrow.names:
            continue
        rules = []
        for rule in contract.expectations:
            compiler = contracts.SUPPORTED_EXPECTATIONS.get(rule.type)
            if (
                compiler is None
                or compiler.level != "row"
                or compiler.needs_keys
                or rule.type in _SAY_NOTHING
            ):
                continue
            if compiler.columns(rule.kwargs) == (field,):
                rules.append(rule)
        forms.append(IdForm(dataset_id, field, dataset.schema.arrow.field(field).type, tuple(rules)))
    return forms


def check_subject_id(catalog: Catalog, national_id: str) -> str:
    """The typed id, stripped, if some dataset's subject field accepts it; BadInput if none does.

    The error names the expected forms (from the contracts), never the typed value.
    """
    typed = national_id.strip() if isinstance(national_id, str) else ""
    forms = id_forms(catalog)
    if typed and len(typed) <= _MAX_TYPED:
        if any(form.accepts(typed) for form in forms):
            return typed
        if not forms and _ID_SHAPE.fullmatch(typed):
            return typed  # a catalog without subjects: only the general shape to check
    expected = sorted({text for form in forms for text in form.described()})
    raise BadInput(
        NOT_VALID,
        where=_WHERE,
        hint="check it for a typo; "
        + (f"the datasets expect {' or '.join(expected)}" if expected else "type letters and digits only"),
    )


def audit_ref(bus: Bus, national_id: str) -> str:
    """The audit pseudonym of a typed id; one of no declared form is refused without repeating it."""
    return bus.register.subject_ref(check_subject_id(bus.catalog, national_id))


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
