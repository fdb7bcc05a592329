"""Who may see what in the portal: the three roles and their visibility rules.

* **admin** runs the bus: every dataset, subscription, run, quarantine count and the
  ledger — but not the subject search (only auditors look people up).
* **agency** sees its own corner: the datasets it owns (with every subscriber, their
  runs and their quarantine counts) and the datasets it subscribes to (only its own
  subscriptions and the delivery runs to it). Nothing about other agencies' exchanges.
* **auditor** sees every audit view and is the only role that may search by subject.

The ledger and the audit report (volumes per agency and purpose, read from the ledger)
are for auditors and admins, who run the bus and already see every run.

Every query in `queries.py` asks these rules, so the HTML pages and the JSON API
cannot disagree. A refusal is a `NotAllowed` (HTTP 403); asking about a dataset one may
not see at all is `NotVisible` (HTTP 404), so an agency learns nothing from probing.
"""

from __future__ import annotations

from dataclasses import dataclass

from exchange.catalog.loader import Catalog, Subscription
from govbus.errors import BadInput

ADMIN = "admin"
AGENCY = "agency"
AUDITOR = "auditor"
ROLES = (ADMIN, AGENCY, AUDITOR)


class NotAllowed(BadInput):
    """The caller's role does not cover this request (the portal answers 403)."""


class NotVisible(BadInput):
    """Unknown to the caller: no such thing, or one it may not know of (the portal answers 404)."""


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a role and, for the agency role, which agency."""

    role: str
    agency: str | None = None

    @property
    def label(self) -> str:
        """How the page header names the caller (`agency tax`, `auditor`)."""
        return f"{self.role} {self.agency}" if self.agency else self.role

    @property
    def sees_everything(self) -> bool:
        """Admins and auditors see every dataset, subscription, run and quarantine count."""
        return self.role in (ADMIN, AUDITOR)

    @property
    def can_read_ledger(self) -> bool:
        """The ledger and the audit report: admins and auditors."""
        return self.role in (ADMIN, AUDITOR)

    @property
    def can_search_subjects(self) -> bool:
        """Subject search and the citizen's report: auditors only, not admins."""
        return self.role == AUDITOR

    def owns(self, catalog: Catalog, dataset_id: str) -> bool:
        """Whether the caller's agency owns the dataset; False if unknown, and for admins and auditors."""
        dataset = catalog.datasets.get(dataset_id)
        return dataset is not None and self.agency is not None and dataset.contract.owner == self.agency

    def can_see_dataset(self, catalog: Catalog, dataset_id: str) -> bool:
        """Admins and auditors see every catalog dataset, an agency those it owns or subscribes to."""
        if dataset_id not in catalog.datasets:
            return False
        if self.sees_everything or self.owns(catalog, dataset_id):
            return True
        return any(s.agency == self.agency for s in catalog.subscriptions_for(dataset_id))

    def can_see_subscription(self, catalog: Catalog, sub: Subscription) -> bool:
        """Admins and auditors see every subscription, an agency its own and those to datasets it owns."""
        return self.sees_everything or sub.agency == self.agency or self.owns(catalog, sub.dataset)

    def can_see_quarantine(self, catalog: Catalog, dataset_id: str) -> bool:
        """Quarantine counts by reason: admins, auditors and the dataset's owner, not its subscribers."""
        return self.sees_everything or self.owns(catalog, dataset_id)

    def can_see_run(self, catalog: Catalog, dataset_id: str, subscription_id: str | None) -> bool:
        """Owners see every step of their datasets; subscribers only deliveries to them."""
        if self.sees_everything or self.owns(catalog, dataset_id):
            return True
        sub = catalog.subscriptions.get(subscription_id or "")
        return sub is not None and sub.agency == self.agency

    def visible_dataset_ids(self, catalog: Catalog) -> list[str]:
        """The catalog's datasets the caller may see, sorted by id."""
        return [d for d in sorted(catalog.datasets) if self.can_see_dataset(catalog, d)]

    def require_dataset(self, catalog: Catalog, dataset_id: str) -> None:
        """Raise NotVisible (404) unless the caller may see the dataset: unknown and not-yours look alike."""
        if not self.can_see_dataset(catalog, dataset_id):
            raise NotVisible("no such dataset", where="dataset", hint="see the catalog page for yours")

    def require_ledger(self) -> None:
        """Raise NotAllowed (403) unless the caller is an admin or an auditor."""
        if not self.can_read_ledger:
            raise NotAllowed("only admins and auditors read the ledger", where="ledger")

    def require_audit_report(self) -> None:
        """The activity report (volumes per agency and purpose) is read from the ledger."""
        if not self.can_read_ledger:
            raise NotAllowed("only auditors and admins read the audit report", where="audit report")

    def require_subject_search(self) -> None:
        """Raise NotAllowed (403) unless the caller is an auditor; every subject lookup calls it itself."""
        if not self.can_search_subjects:
            raise NotAllowed(
                "only auditors may search deliveries by subject",
                where="subject search",
                hint="ask an auditor; every search is an audit act",
            )
