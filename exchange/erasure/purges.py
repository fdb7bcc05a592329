"""Erasure reaches the subscribers: purge instructions issued, delivered and confirmed.

Three triggers, each idempotent (run again, it issues nothing new and delivers what a
failure or crash left undelivered):

* `erase_consent(bus, consent_id, subject_id)` — a citizen revokes a consent and asks for
  erasure: every delivery that relied on a consent of that subject for the consent's
  recipient, dataset and purpose is purged (the consent is revoked in the same
  transaction).
* `erase_subject(bus, subject_id, recipient=, dataset=)` — an erasure order (a court, a
  data-protection authority, a correction): every delivery of the subject, whatever its
  basis, optionally narrowed to one recipient or dataset; unless narrowed to a recipient,
  the bus's own copies too (snapshot, staged segments, quarantine:
  `exchange.erasure.holdings`).
* `purge_ended_statutes(bus, statute_id)` — a statute's `valid_until` has passed:
  everything delivered under it, to each of its subscriptions, is purged.

Why the subject id must be given: the bus keeps only audit pseudonyms (the access index,
the consent register), so it can name the subject to a recipient — by the raw id where
the recipient received the subject field, else by the pseudonyms the bus delivered to
it — only while the requester supplies the id. `erase_consent` checks it against the
consent's audit pseudonym. The instruction is never stored (see `consent.erasure.register`).

Which deliveries: the access index (audit pseudonym → ledger seq) and the delivery
ledger entries (subscription, recipient, basis, batch id, pseudonym key id). One purge
per subscription; a delivery already covered by an earlier purge is not purged again.

How each purge reaches its recipient (delete in its database, a signed tombstone in its
folder, or by hand) is `exchange.erasure.delivery`'s business.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

import audit
import consent
from audit import DeliveryEntry
from consent import CONSENT_REVOKED, ERASURE_ORDER, ISSUED, STATUTE_ENDED, seqs_and_batches
from exchange import state
from exchange.erasure.delivery import (
    Issued,
    PurgeOutcome,
    channel_for,
    deliver_all,
    match_column,
    purge_register,
    sha256_hex,
    subject_values,
)
from exchange.erasure.holdings import Removal, erase_held
from govbus import instants
from govbus.errors import BadInput

if TYPE_CHECKING:
    from exchange.bus import Bus
    from exchange.catalog.loader import Subscription


@dataclass
class PurgeRun:
    """What one erasure request or statute purge did."""

    outcomes: list[PurgeOutcome] = field(default_factory=list)
    revoked: bool = False  # erase_consent: the consent was revoked by this call
    held: list[Removal] = field(default_factory=list)  # erase_subject: rows removed from the bus's copies

    @property
    def failed(self) -> list[PurgeOutcome]:
        """Purges this call could not deliver (see each `problem`): they stay issued, and running the same
        request again retries them."""
        return [o for o in self.outcomes if o.problem is not None]


# -- triggers ---------------------------------------------------------------------------


def erase_consent(bus: Bus, consent_id: str, subject_id: str, *, at: datetime | None = None) -> PurgeRun:
    """Revoke `consent_id` (from `at`, default now) and purge what was delivered under it.

    `at` may not lie in the future: the purge happens now, and deliveries until a later
    revocation would still be lawful.
    """
    if at is not None and at > instants.utc_now():
        raise BadInput(
            "an erasure takes effect now: the revocation cannot be in the future",
            where="--at",
            hint="revoke without --erase to schedule it, and request the erasure once it has taken effect",
        )
    with bus.engine.connect() as conn:
        record = bus.register.get(conn, consent_id)
    if record is None:
        raise BadInput(
            "no consent has this id", where="consent_id", hint="`govbus consent show SUBJECT` lists them"
        )
    ref = bus.register.subject_ref(subject_id)
    if ref != record.subject_ref:
        raise BadInput(
            "this consent is not the given subject's",
            where="subject",
            hint="give the id of the citizen who gave the consent",
        )

    def relied_on_it(entry: DeliveryEntry) -> bool:
        wanted = (record.recipient, record.dataset, record.purpose)
        return (
            entry.basis == consent.CONSENT_BASIS and (entry.recipient, entry.dataset, entry.purpose) == wanted
        )

    scope = [
        s
        for s in bus.catalog.subscriptions.values()
        if s.statute is None
        and (s.agency, s.dataset, s.purpose) == (record.recipient, record.dataset, record.purpose)
    ]
    return erase_deliveries(
        bus, subject_id, ref, CONSENT_REVOKED, relied_on_it, scope, consent_id=record.consent_id, revoke_at=at
    )


def erase_subject(
    bus: Bus, subject_id: str, *, recipient: str | None = None, dataset: str | None = None
) -> PurgeRun:
    """An erasure order: purge every delivery of the subject (to `recipient`, of `dataset`)."""
    if recipient is not None and recipient not in bus.catalog.agencies:
        raise BadInput(
            "is not a member agency",
            where="recipient",
            hint="known: " + ", ".join(sorted(bus.catalog.agencies)),
        )
    if dataset is not None and dataset not in bus.catalog.datasets:
        raise BadInput(
            "is not a dataset of the catalog",
            where="dataset",
            hint="known: " + ", ".join(sorted(bus.catalog.datasets)),
        )

    def in_scope(entry: DeliveryEntry) -> bool:
        return (recipient is None or entry.recipient == recipient) and (
            dataset is None or entry.dataset == dataset
        )

    scope = [
        s
        for s in bus.catalog.subscriptions.values()
        if (recipient is None or s.agency == recipient) and (dataset is None or s.dataset == dataset)
    ]
    # The bus's own copies first (snapshot, staged segments, quarantine), so that nothing of
    # the subject leaves after the purges are issued; an order for one recipient leaves them.
    held = erase_held(bus, subject_id, dataset=dataset) if recipient is None else []
    ref = bus.register.subject_ref(subject_id)
    run = erase_deliveries(bus, subject_id, ref, ERASURE_ORDER, in_scope, scope)
    run.held = held
    return run


def ended_statutes(bus: Bus, at: datetime | None = None) -> list[str]:
    """Ids of the catalog's statutes whose `valid_until` is at or before `at` (default now)."""
    when = at or instants.utc_now()
    return sorted(
        s.id for s in bus.catalog.statutes.values() if s.valid_until is not None and s.valid_until <= when
    )


def purge_ended_statutes(bus: Bus, statute_id: str | None = None) -> dict[str, PurgeRun]:
    """Purge everything delivered under `statute_id` (or under every ended statute).

    Refuses a statute that is still in force: while it is, the recipient may keep the data.
    """
    ended = ended_statutes(bus)
    if statute_id is not None:
        statute = bus.catalog.statutes.get(statute_id)
        if statute is None:
            raise BadInput(
                "is not a statute of the catalog",
                where="statute",
                hint="known: " + ", ".join(sorted(bus.catalog.statutes)),
            )
        if statute_id not in ended:
            until = (
                "no end" if statute.valid_until is None else f"until {statute.valid_until:%Y-%m-%d %H:%M UTC}"
            )
            raise BadInput(
                f"statute {statute_id} is in force ({until}): its recipients may keep what they received",
                where="statute",
                hint="purge once its valid_until has passed (set in catalog/legal-bases.yaml)",
            )
        ended = [statute_id]
    return {sid: _purge_statute(bus, sid) for sid in ended}


def confirm_purge(
    bus: Bus, purge_id: str, *, evidence: str = "", confirmation: Mapping[str, Any] | None = None
) -> bool:
    """Record the recipient's confirmation; False if the purge was confirmed already.

    A recipient that declares `signing_public_key` in agencies.yaml must confirm with
    its signed confirmation (`confirmation`, `consent.check_confirmation`): a typed
    `evidence` is refused for it, and a confirmation that does not verify against that
    key, or confirms another purge or instruction, is refused with every reason named.
    A recipient without a declared key keeps the typed confirmation (and cannot send a
    signed one: there is nothing to check it against).
    """
    register = purge_register(bus)
    with bus.locked("ledger"), bus.engine.begin() as conn:
        purge = register.get(conn, purge_id)
        agency = bus.catalog.agencies.get(purge.recipient) if purge is not None else None
        key = agency.signing_key if agency is not None else None
        if purge is None or not purge.pending:  # unknown (named by confirm) or already confirmed
            return register.confirm(conn, purge_id, by="recipient", evidence=evidence)
        if confirmation is None:
            if key is not None:
                raise BadInput(
                    f"recipient {purge.recipient} declares a signing key: its confirmation must be signed",
                    where="--confirmation",
                    hint=f"ask it to run `govbus consent purge-sign purge-{purge_id}.json`; pass its file",
                )
            return register.confirm(conn, purge_id, by="recipient", evidence=evidence)
        if key is None:
            raise BadInput(
                f"recipient {purge.recipient} declares no signing_public_key: a signed confirmation "
                "cannot be checked",
                where="catalog agencies.yaml",
                hint="add the recipient's Ed25519 public key, or confirm with --evidence",
            )
        check = consent.check_confirmation(confirmation, purge, key)
        if not check.ok:
            raise BadInput(
                f"the signed confirmation is refused: {'; '.join(check.problems)}",
                where="--confirmation",
                hint="ask the recipient to sign the instruction it received with its declared key",
            )
        rows = confirmation.get("rows_deleted")
        return register.confirm(
            conn,
            purge_id,
            by="recipient",
            evidence=f"signed confirmation, key {check.key_id}",
            rows_deleted=rows if isinstance(rows, int) else None,
            confirmation=confirmation,
        )


def list_purges(bus: Bus, *, status: str | None = None, recipient: str | None = None) -> list[consent.Purge]:
    """Purges, oldest first; `status`: pending (not confirmed), issued, delivered or confirmed."""
    with bus.engine.connect() as conn:
        return purge_register(bus).find(conn, status=status, recipient=recipient)


# -- issuing ----------------------------------------------------------------------------


@contextmanager
def _holding(bus: Bus, subs: Sequence[Subscription]) -> Iterator[None]:
    """Hold the purge lock and the delivery locks of `subs` (sorted), so no delivery of
    theirs lands between reading the access index and recording the purges."""
    with ExitStack() as stack:
        stack.enter_context(bus.locked("purges"))
        for sub_id in sorted({s.id for s in subs}):
            stack.enter_context(bus.locked(f"deliver:{sub_id}"))
        yield


def erase_deliveries(
    bus: Bus,
    subject_id: str,
    ref: str,
    reason: str,
    keep: Callable[[DeliveryEntry], bool],
    scope: Sequence[Subscription],
    *,
    consent_id: str | None = None,
    revoke_at: datetime | None = None,
) -> PurgeRun:
    """Issue a purge for every delivery of the subject (`ref`, its audit pseudonym) that
    `keep` selects, one per subscription not yet covered, for `reason`.

    The one way the erasure room purges: a revoked consent (which it revokes here, in the
    same transaction, when `consent_id` is given), a right-to-erasure request and a
    data-life expiry (`consent_retention`) all come through it, under the purge lock and
    the delivery locks of `scope`, so no delivery lands between reading the access index
    and recording the purges.
    """
    run = PurgeRun()
    register = purge_register(bus)
    key_id = bus.keys.signing_key().key_id
    fresh: Issued = {}
    with _holding(bus, scope):
        with bus.locked("ledger"), bus.engine.begin() as conn:
            if consent_id is not None and reason == CONSENT_REVOKED:  # a data_life purge keeps the consent
                run.revoked = bus.register.revoke(conn, consent_id, revoke_at)
            seqs = audit.deliveries_of_subject(conn, ref)
            groups: dict[str, list[tuple[int, DeliveryEntry]]] = defaultdict(list)
            for seq, entry in sorted(consent.delivery_entries(conn, seqs).items()):
                if keep(entry):
                    groups[entry.subscription].append((seq, entry))
            request_id = str(uuid.uuid4())
            for sub_id, items in sorted(groups.items()):
                covered = register.covered(conn, sub_id, ref)
                todo = [(seq, entry) for seq, entry in items if seq not in covered]
                if not todo:
                    continue
                purge = _new_purge(
                    bus, request_id, reason, sub_id, todo, subject_ref=ref, consent_id=consent_id
                )
                values = subject_values(bus, purge, subject_id, todo[0][1].purpose)
                data = consent.purge_instruction(purge, values, key_id=key_id)
                purge = register.issue(conn, replace(purge, instruction_sha256=sha256_hex(data)))
                fresh[purge.purge_id] = (purge, values, data)
            waiting = register.find(conn, status=ISSUED, subject_ref=ref)
            purposes = _purposes(conn, waiting)
    run.outcomes = deliver_all(
        bus, waiting, fresh, lambda p: subject_values(bus, p, subject_id, purposes.get(p.purge_id, ""))
    )
    return run


def _purge_statute(bus: Bus, statute_id: str) -> PurgeRun:
    run = PurgeRun()
    register = purge_register(bus)
    key_id = bus.keys.signing_key().key_id
    subs = sorted(
        (s for s in bus.catalog.subscriptions.values() if s.statute == statute_id), key=lambda s: s.id
    )
    fresh: Issued = {}
    with _holding(bus, subs):
        with bus.locked("ledger"), bus.engine.begin() as conn:
            request_id = str(uuid.uuid4())
            dv = state.deliveries
            for sub in subs:
                seqs = (
                    conn.execute(
                        sa.select(dv.c.ledger_seq).where(
                            dv.c.subscription_id == sub.id, dv.c.rows_delivered > 0
                        )
                    )
                    .scalars()
                    .all()
                )
                covered = register.covered(conn, sub.id, None)
                entries = consent.delivery_entries(conn, [s for s in seqs if s not in covered])
                todo = [(seq, e) for seq, e in sorted(entries.items()) if e.basis == f"statute:{statute_id}"]
                if not todo:
                    continue
                purge = _new_purge(bus, request_id, STATUTE_ENDED, sub.id, todo, statute=statute_id)
                data = consent.purge_instruction(purge, [], key_id=key_id)
                purge = register.issue(conn, replace(purge, instruction_sha256=sha256_hex(data)))
                fresh[purge.purge_id] = (purge, [], data)
            waiting = [
                p for p in register.find(conn, status=ISSUED, statute=statute_id) if p.subject_ref is None
            ]
    run.outcomes = deliver_all(bus, waiting, fresh, lambda p: [])
    return run


def _new_purge(
    bus: Bus,
    request_id: str,
    reason: str,
    sub_id: str,
    todo: Sequence[tuple[int, DeliveryEntry]],
    *,
    subject_ref: str | None = None,
    consent_id: str | None = None,
    statute: str | None = None,
) -> consent.Purge:
    first = todo[0][1]
    whole = subject_ref is None
    match_field, key_ids = (None, ()) if whole else match_column(bus, [e for _, e in todo])
    sub = bus.catalog.subscriptions.get(sub_id)
    return consent.Purge(
        purge_id=str(uuid.uuid4()),
        request_id=request_id,
        reason=reason,
        recipient=first.recipient,
        dataset=first.dataset,
        subscription=sub_id,
        channel=channel_for(bus, sub, whole=whole, matchable=match_field is not None),
        batches=seqs_and_batches([(seq, e.batch_id) for seq, e in todo]),
        issued_at=instants.utc_now(),
        subject_ref=subject_ref,
        match_field=match_field,
        pseudonym_key_ids=key_ids,
        consent_id=consent_id,
        statute=statute,
    )


def _purposes(conn: sa.Connection, purges: Sequence[consent.Purge]) -> dict[str, str]:
    """The purpose of each purge's deliveries (its first delivery's ledger entry says)."""
    entries = consent.delivery_entries(conn, [p.ledger_seqs[0] for p in purges])
    return {p.purge_id: entries[p.ledger_seqs[0]].purpose for p in purges if p.ledger_seqs[0] in entries}
