"""Consent retention: when a consent's `data_life` has elapsed, the recipient must purge.

A consent may state `data_life` (DEPA's "dataLife", an ISO 8601 duration such as `P1Y`,
`P30D`, `PT12H`): how long the recipient may keep what it received under that consent.
`purge_lapsed_data_life(bus)` — run by `govbus privacy retention`, schedule it daily —
finds, for every consent stating one, the deliveries that relied on it (the access index:
the subject's deliveries; the delivery ledger entry: consent basis, the consent's
recipient, dataset and purpose, delivered while the consent was in force) and were made
at least `data_life` ago, and issues a purge for them through the erasure machinery
(`exchange.erasure.purges`: the same channels, signed instructions and ledger entries as
a revocation with erasure, with reason `data-life-ended` and the consent's id). The
consent itself stays as it is: it may still allow new deliveries, each with its own clock.

Idempotent: a delivery already covered by a purge of the subject (this one's, an earlier
retention run's, a revocation's or an erasure order's) is never purged again; a purge
left undelivered (the recipient's database down) is delivered by the next run.

Naming the subject to the recipient needs the subject's id, which the bus never stores
beside a consent (the register keeps the audit pseudonym only). It is found in the bus's
own copy of the dataset — the snapshot (ADR 0006), matched by audit pseudonym — and used
in memory only, as an erasure order uses the id its requester gives. When the bus no
longer holds the subject (the row aged out under the contract's own `data_life`, or was
erased), nothing is issued and the consent is reported as `unresolved`: the operator
issues an erasure order for that recipient (`govbus consent erase SUBJECT --recipient R
--dataset D`). The ledger's `purge.issued` entries carry the consent id and the audit
pseudonym, never the id.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from dateutil.relativedelta import relativedelta

import audit
import consent
from audit import DeliveryEntry
from exchange.erasure.delivery import PurgeOutcome, purge_register
from exchange.erasure.purges import erase_deliveries
from exchange.run import snapshots
from govbus.errors import BadInput
from govbus.instants import as_utc, utc_now

if TYPE_CHECKING:
    from exchange.bus import Bus

__all__ = ["ConsentRetention", "data_life_delta", "purge_lapsed_data_life"]

_PART = re.compile(r"(\d+)([YMWDHS])")
_DURATION = re.compile(r"P(?:\d+[YMWD])*(?:T(?:\d+[HMS])+)?")


@dataclass
class ConsentRetention:
    """What one retention run did for consents' `data_life`.

    `outcomes`: the purges this run issued or delivered again (see `PurgeOutcome`);
    `unresolved`: ids of consents with deliveries due whose subject the bus no longer holds
    (no purge issued: see the module doc); `due_deliveries`: deliveries past their consent's
    data_life and not covered by an earlier purge, when the run started.
    """

    outcomes: list[PurgeOutcome] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)
    due_deliveries: int = 0

    @property
    def issued(self) -> list[PurgeOutcome]:
        """The purges this run issued."""
        return [o for o in self.outcomes if o.new]

    @property
    def failed(self) -> list[PurgeOutcome]:
        """Purges not delivered (each `problem` says why); the next run retries them."""
        return [o for o in self.outcomes if o.problem is not None]


def data_life_delta(text: str) -> relativedelta:
    """A consent's `data_life` (`P1Y`, `P6M`, `P2W`, `P30D`, `PT12H`) as a relativedelta.

    The register checked the form when the consent was recorded (`consent.register.terms`);
    calendar years and months count as calendar years and months.
    """
    if not isinstance(text, str) or not _DURATION.fullmatch(text):
        raise BadInput("data_life must be an ISO 8601 duration", where="data_life", hint="for example P1Y")
    date_part, _, time_part = text[1:].partition("T")
    units = {unit: int(count) for count, unit in _PART.findall(date_part)}
    clock = {unit: int(count) for count, unit in _PART.findall(time_part)}
    return relativedelta(
        years=units.get("Y", 0),
        months=units.get("M", 0),
        weeks=units.get("W", 0),
        days=units.get("D", 0),
        hours=clock.get("H", 0),
        minutes=clock.get("M", 0),
        seconds=clock.get("S", 0),
    )


def purge_lapsed_data_life(bus: Bus, *, now: datetime | None = None) -> ConsentRetention:
    """Purge, at each recipient, what it received under a consent longer ago than the consent's
    `data_life` (`now`: default the current instant); see the module doc."""
    when = as_utc(now) if now is not None else utc_now()
    run = ConsentRetention()
    with bus.engine.connect() as conn:
        due = _due(bus, conn, bus.register.with_data_life(conn), when)
    run.due_deliveries = sum(len(pairs) for _, pairs in due)
    subjects = _subject_ids(bus, {(record.dataset, record.subject_ref) for record, _ in due})
    for record, pairs in due:
        subject_id = subjects.get((record.dataset, record.subject_ref))
        if subject_id is None:
            run.unresolved.append(record.consent_id)
            continue
        scope = [
            s
            for s in bus.catalog.subscriptions.values()
            if s.statute is None
            and (s.agency, s.dataset, s.purpose) == (record.recipient, record.dataset, record.purpose)
        ]

        def lapsed(entry: DeliveryEntry, pairs: frozenset[tuple[str, str]] = pairs) -> bool:
            return (entry.subscription, entry.batch_id) in pairs

        done = erase_deliveries(
            bus,
            subject_id,
            record.subject_ref,
            consent.DATA_LIFE_ENDED,
            lapsed,
            scope,
            consent_id=record.consent_id,
        )
        seen = {o.purge.purge_id for o in run.outcomes}
        run.outcomes.extend(o for o in done.outcomes if o.purge.purge_id not in seen)
    return run


def _due(
    bus: Bus, conn: sa.Connection, records: list[consent.ConsentRecord], when: datetime
) -> list[tuple[consent.ConsentRecord, frozenset[tuple[str, str]]]]:
    """Each consent with deliveries past its data_life that no purge of the subject covers yet,
    and those deliveries as (subscription, batch id)."""
    register = purge_register(bus)
    found = []
    for record in records:
        if record.data_life is None:
            continue
        cutoff = when - data_life_delta(record.data_life)
        start = as_utc(record.valid_from)
        if start > cutoff:
            continue  # every delivery under it came after its start: none is due yet
        end = min((as_utc(t) for t in (record.valid_until, record.revoked_at) if t is not None), default=None)
        seqs = audit.deliveries_of_subject(conn, record.subject_ref)
        times = _entry_times(conn, seqs)
        covered: dict[str, set[int]] = defaultdict(set)
        pairs = set()
        for seq, entry in consent.delivery_entries(conn, seqs).items():
            at = times.get(seq)
            if (
                at is None
                or entry.basis != consent.CONSENT_BASIS
                or entry.rows_delivered <= 0
                or (entry.recipient, entry.dataset, entry.purpose)
                != (record.recipient, record.dataset, record.purpose)
                or at < start
                or (end is not None and at >= end)
                or at > cutoff
            ):
                continue
            if entry.subscription not in covered:
                covered[entry.subscription] = register.covered(conn, entry.subscription, record.subject_ref)
            if seq not in covered[entry.subscription]:
                pairs.add((entry.subscription, entry.batch_id))
        if pairs:
            found.append((record, frozenset(pairs)))
    return found


def _entry_times(conn: sa.Connection, seqs: list[int]) -> dict[int, datetime]:
    """When each ledger entry was appended (a delivery's entry: when the batch was delivered)."""
    table = audit.ledger_table
    times: dict[int, datetime] = {}
    wanted = sorted(set(seqs))
    for start in range(0, len(wanted), 500):
        rows = conn.execute(
            sa.select(table.c.seq, table.c.at).where(table.c.seq.in_(wanted[start : start + 500]))
        )
        times.update((row.seq, as_utc(row.at)) for row in rows)
    return times


def _subject_ids(bus: Bus, wanted: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The subject id behind each (dataset, audit pseudonym), read from the dataset's snapshot
    (one pass over its subject column per dataset; kept in memory only)."""
    by_dataset: dict[str, set[str]] = defaultdict(set)
    for dataset, ref in wanted:
        by_dataset[dataset].add(ref)
    found: dict[tuple[str, str], str] = {}
    for dataset, refs in sorted(by_dataset.items()):
        known = bus.catalog.datasets.get(dataset)
        if known is None:
            continue
        subject_field = known.contract.subject_field
        with bus.engine.connect() as conn:
            snap = snapshots.current(conn, dataset)
        targets = pa.array(sorted(refs), pa.string())
        for part in snap.parts:
            ids = pc.cast(
                bus.staging.read_table(snap.path(part), columns=[subject_field])[subject_field], pa.string()
            )
            # Computed rather than read from `_subject_ref`: snapshots older than that column hold it not.
            table_refs = bus.register.subject_refs(ids)
            hits = pc.fill_null(pc.is_in(table_refs, value_set=targets), False)
            for ref, subject_id in zip(
                pc.filter(table_refs, hits).to_pylist(), pc.filter(ids, hits).to_pylist(), strict=True
            ):
                found[(dataset, ref)] = subject_id
            if all((dataset, ref) in found for ref in refs):
                break
    return found
