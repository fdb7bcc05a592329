"""How a purge reaches its recipient: the channel, the subject as the recipient knows it,
and carrying the instruction out (see `exchange.erasure.purges` for when purges are issued).

* `delete`: the subscription's sink can delete (`SqlSink.purge` / `purge_all`, or a
  plug-in sink with the same methods): the bus deletes in the recipient's database and
  confirms at once (`purge.confirmed`, by the bus, with the number of rows deleted).
* `tombstone`: a local file sink (parquet, csv, jsonl, avro): the signed instruction
  `purge-<id>.json` + `.sig` goes into the delivery folder (`purge.delivered`); the
  recipient applies it and its confirmation is recorded with `govbus consent
  purge-confirm`.
* `manual`: everything else (REST, SFTP, plug-ins without `purge`, a subscription gone
  from the catalog, a recipient that received neither the subject id nor a pseudonym, a
  statute's purge of a table another subscription shares): recorded as issued only.

A delivery that fails (the recipient's database down, its folder unwritable) leaves the
purge issued; running the same command again delivers it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

import consent
from audit import DeliveryEntry
from consent import DELETE, MANUAL, TOMBSTONE
from exchange.catalog.loader import expand_settings
from exchange.run.columns import PSEUDONYM_COLUMN
from exchange.run.deliver import delivered_schema
from govbus.errors import GovBusError

if TYPE_CHECKING:
    from exchange.bus import Bus
    from exchange.catalog.loader import Subscription

log = logging.getLogger("govbus.exchange")

TOMBSTONE_CONNECTORS = ("parquet", "csv", "jsonl", "avro")
# purge id -> (the purge as issued, the subject values, the instruction's bytes)
Issued = dict[str, tuple[consent.Purge, list[str], bytes]]


@dataclass
class PurgeOutcome:
    """One purge after this call: `new` if this call issued it; `problem` if delivery failed."""

    purge: consent.Purge
    new: bool
    problem: str | None = None


def purge_register(bus: Bus) -> consent.PurgeRegister:
    """The purge register of this bus (it logs to the bus's ledger)."""
    return consent.PurgeRegister(bus.ledger)


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of a signed purge instruction, as the purge register records it (`instruction_sha256`)."""
    return hashlib.sha256(data).hexdigest()


def match_column(bus: Bus, entries: Sequence[DeliveryEntry]) -> tuple[str | None, tuple[str, ...]]:
    """The column the recipient holds the subject in, and the pseudonym key ids used.

    The raw subject field where every batch delivered it, else the pseudonym column where
    every batch delivered that; None (the rows cannot be matched) otherwise.
    """
    dataset = bus.catalog.datasets.get(entries[0].dataset)
    subject_field = dataset.contract.subject_field if dataset is not None else None
    columns = set()
    for entry in entries:
        fields = entry.fields
        columns.add(
            subject_field
            if subject_field in fields
            else PSEUDONYM_COLUMN
            if PSEUDONYM_COLUMN in fields
            else None
        )
    if len(columns) != 1 or None in columns:
        return None, ()
    column = columns.pop()
    if column != PSEUDONYM_COLUMN:
        return column, ()
    return column, tuple(sorted({e.pseudonym_key_id for e in entries if e.pseudonym_key_id}))


def channel_for(bus: Bus, sub: Subscription | None, *, whole: bool, matchable: bool) -> str:
    """How a purge of `sub` is carried out (`whole`: every row, not one subject's)."""
    if sub is None or not (whole or matchable):
        return MANUAL
    connector = sub.sink.get("connector")
    if connector in TOMBSTONE_CONNECTORS and "directory" in sub.sink:
        return TOMBSTONE
    if whole and any(o.id != sub.id and o.sink == sub.sink for o in bus.catalog.subscriptions.values()):
        return MANUAL  # deleting every row would delete another subscription's rows too
    if connector == "sql":
        return DELETE  # the sink is built (and its secret read) when the purge is delivered
    try:  # a plug-in sink may offer the same methods
        sink = _sink(bus, sub)
    except GovBusError:
        return MANUAL
    try:
        return DELETE if callable(getattr(sink, "purge_all" if whole else "purge", None)) else MANUAL
    finally:
        sink.close()


def _sink(bus: Bus, sub: Subscription) -> Any:
    return bus.sink_for(sub, delivered_schema(bus.catalog.dataset(sub.dataset), sub))


def subject_values(bus: Bus, purge: consent.Purge, subject_id: str, purpose: str) -> list[str]:
    """The subject as this recipient holds it: the raw id, or each pseudonym it was given."""
    if purge.match_field is None:
        return []
    if purge.match_field != PSEUDONYM_COLUMN:
        return [subject_id]
    ids = pa.array([subject_id], pa.string())
    key_ids = purge.pseudonym_key_ids or (bus.keys.pseudonym_key_id(purge.recipient, purpose),)
    keys = [bus.keys.pseudonym_key(purge.recipient, purpose, kid) for kid in key_ids]
    return sorted({consent.pseudonymize(ids, key)[0].as_py() for key in keys})


def deliver_all(
    bus: Bus, waiting: Sequence[consent.Purge], fresh: Issued, values_of: Callable[[consent.Purge], list[str]]
) -> list[PurgeOutcome]:
    """Deliver the purges just issued (`fresh`) and those an earlier call left issued.

    An earlier one gets its instruction again (with a new nonce, so a new hash, which
    its `purge.delivered` or `purge.confirmed` entry records).
    """
    outcomes = []
    key_id = bus.keys.signing_key().key_id
    for purge in waiting:
        new = purge.purge_id in fresh
        if new:
            purge, values, data = fresh[purge.purge_id]
        elif purge.channel == MANUAL:
            outcomes.append(PurgeOutcome(purge, new=False))
            continue
        else:
            values = values_of(purge)
            data = consent.purge_instruction(purge, values, key_id=key_id)
        outcomes.append(_deliver(bus, purge, values, data, new=new))
    return outcomes


def _deliver(bus: Bus, purge: consent.Purge, values: list[str], data: bytes, *, new: bool) -> PurgeOutcome:
    """Carry out or hand over one purge; a failure leaves it issued, to retry later."""
    if purge.channel == MANUAL:
        return PurgeOutcome(purge, new=new)
    sub = bus.catalog.subscriptions.get(purge.subscription)
    if sub is None:
        problem = "its subscription is no longer in the catalog: tell the recipient by hand, then confirm"
        return PurgeOutcome(purge, new=new, problem=problem)
    digest = sha256_hex(data)
    register = purge_register(bus)
    try:
        if purge.channel == DELETE:
            sink = _sink(bus, sub)
            try:
                rows = (
                    sink.purge_all() if purge.match_field is None else sink.purge(purge.match_field, values)
                )
            finally:
                sink.close()
            with bus.locked("ledger"), bus.engine.begin() as conn:
                register.confirm(conn, purge.purge_id, by="bus", rows_deleted=rows, instruction_sha256=digest)
        elif purge.channel == TOMBSTONE:
            settings = expand_settings(sub.sink, env=bus.environment(), where=f"{sub.file}: sink")
            path = consent.write_purge_instruction(Path(settings["directory"]), data, bus.keys.signing_key())
            with bus.locked("ledger"), bus.engine.begin() as conn:
                register.mark_delivered(conn, purge.purge_id, instruction_sha256=digest, file=path.name)
    except GovBusError as exc:
        log.warning("purge %s for %s not delivered: %s", purge.purge_id, purge.recipient, exc)
        return PurgeOutcome(purge, new=new, problem=str(exc))
    except OSError as exc:
        problem = f"cannot write the instruction into the recipient's folder ({type(exc).__name__})"
        log.warning("purge %s for %s not delivered: %s", purge.purge_id, purge.recipient, problem)
        return PurgeOutcome(purge, new=new, problem=problem)
    with bus.engine.connect() as conn:
        stored = register.get(conn, purge.purge_id)
    log.info("purge %s for %s: %s", purge.purge_id, purge.recipient, stored.status if stored else "?")
    return PurgeOutcome(stored or purge, new=new)
