"""What the catalog declares, as read: agencies, datasets, subscriptions, the whole catalog.

`exchange.catalog.loader` reads and checks the files into these; everything else in the bus
reads them. Kept apart so the reader stays about reading (and both stay small).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

import consent
import contracts
import schemas
from govbus.errors import BadConfiguration


@dataclass(frozen=True)
class Agency:
    """A member. `max_concurrent_reads`: how many reads of its systems may run at once
    (Airflow gives each source agency a pool of that many slots; 1 unless declared).
    `delivery_targets`: path or URL prefixes (and `env:NAME`, `conn:ID` for secrets) that
    the sinks of subscriptions it requests at run time may name (never needed in git).
    `delivery_key`: its X25519 public key (from `delivery_public_key`, a PEM file in the
    catalog), to which encrypted deliveries and reversible-field keys are sealed; its id
    (`delivery_key_id`) is what the catalog audit compares."""

    id: str
    name: str
    max_concurrent_reads: int = 1
    delivery_key_id: str | None = None
    delivery_key: X25519PublicKey | None = field(default=None, compare=False, repr=False)
    # Where subscriptions it *requests* may deliver (exchange.subscriptions.targets); empty:
    # its own folder and SQLite files under $GOVBUS_HOME/agencies/<id>/ only.
    delivery_targets: tuple[str, ...] = ()
    # Who it is as a controller, for consent receipts (Kantara CR v1.1 / ISO/IEC TS 27560):
    # identifier, address, email, phone, contact, url, jurisdiction, policy_url,
    # withdrawal, rights (agencies.yaml `controller:`); empty when not declared.
    controller: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    # Its Ed25519 public key (agencies.yaml `signing_public_key:`, a PEM file in the catalog):
    # purge confirmations it signs are checked against it (consent.erasure.confirmations).
    signing_key: Ed25519PublicKey | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Dataset:
    """A dataset's contract with its current schema and every earlier version."""

    id: str
    contract: contracts.Contract
    schema: schemas.AvroSchema
    versions: tuple[schemas.AvroSchema, ...]
    directory: Path


@dataclass(frozen=True)
class Subscription:
    """An agency's standing order for a dataset, for one purpose, on one legal basis.

    `reversible_fields`: its fields the contract declares reversible by this agency
    (delivered as AES-SIV ciphertext); `encrypt_files`: delivered files are sealed.
    `sink` is a `CatalogSettings` when read from a catalog file: it remembers the catalog
    folder its relative paths resolve against (`exchange.catalog.connector_settings`).
    """

    id: str
    agency: str
    dataset: str
    purpose: str
    statute: str | None  # None: the basis is each subject's consent
    fields: tuple[str, ...]
    pseudonymize_subject: bool
    sink: Mapping[str, Any]
    schedule: str | None  # a preset or cron (see exchange.catalog.schedules)
    file: str
    line: int
    encrypt_files: bool = False
    reversible_fields: tuple[str, ...] = ()
    after: tuple[str, ...] = ()  # run when these datasets commit new data
    ends_on: date | None = None  # the last day it delivers; then it ends
    # `catalog` (declared in git) or `request` (asked for and approved at run time; then
    # `approval_seq` is the ledger seq of the decision that completed its approval)
    origin: str = "catalog"
    approval_seq: int | None = None
    # What the disclosure step does to its rows (its purpose's and its own `disclosure:`;
    # exchange.catalog.disclosure); None: rows leave as minimized.
    disclosure: consent.DisclosurePolicy | None = field(default=None, compare=False)

    @property
    def basis(self) -> str:
        """`statute:<id>` when a statute covers the subscription, else `consent` (as in the ledger)."""
        return f"statute:{self.statute}" if self.statute else "consent"


@dataclass
class Catalog:
    """The whole catalog as loaded and checked: agencies, purposes, statutes, datasets, subscriptions."""

    root: Path
    agencies: dict[str, Agency] = field(default_factory=dict)
    purposes: dict[str, Any] = field(default_factory=dict)
    statutes: dict[str, Any] = field(default_factory=dict)
    datasets: dict[str, Dataset] = field(default_factory=dict)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)

    def dataset(self, dataset_id: str) -> Dataset:
        """The dataset with this id; a BadInput naming the known ids otherwise."""
        try:
            return self.datasets[dataset_id]
        except KeyError:
            known = ", ".join(sorted(self.datasets)) or "none"
            raise BadConfiguration(
                f"unknown dataset {dataset_id!r}", where=str(self.root), hint=f"known: {known}"
            ) from None

    def subscriptions_for(self, dataset_id: str) -> list[Subscription]:
        """The dataset's subscriptions in id order (the order deliveries run in)."""
        return sorted((s for s in self.subscriptions.values() if s.dataset == dataset_id), key=lambda s: s.id)
