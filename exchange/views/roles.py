"""Who may see what in the portal: the four roles and their visibility rules.

Two kinds of information, two rules:

* **catalog metadata** — what each dataset is: owner, description, fields with types,
  classifications and tags, rules in words, SLA and freshness, purposes served, the
  statutes that allow which fields, how many subscribers (`exchange.views.catalog_entries`).
  Every signed-in role reads it for every dataset, so an agency can find what exists.
  It holds no data value and names no subscribing agency.
* **operations** — who subscribes, deliveries, runs, stage and quarantine counts:
  * **admin** runs the bus: every dataset, subscription, run, quarantine count and the
    ledger — but not the subject search (only auditors look people up).
  * **agency** sees its own corner: the datasets it owns (with every subscriber, their
    runs and their quarantine counts) and the datasets it subscribes to (only its own
    subscriptions and the delivery runs to it). Nothing about other agencies' exchanges.
  * **auditor** sees every audit view and is the only role that may search by subject.
  * **dpo** (the data-protection officer) sees no exchange at all: it reads the catalog
    and the access requests that need its decision (sensitive or special-category
    fields, `exchange.subscriptions.decisions.required_roles`), and decides on those.

Access requests follow the same lines: an agency asks for itself and sees its own
requests and those for the datasets it owns (on which it decides as the owner), never
another agency's request for a dataset it does not own; the dpo sees the requests
needing a data-protection decision; admins and auditors see every request, and decide
on none.

The ledger and the audit report (volumes per agency and purpose, read from the ledger)
are for auditors and admins, who run the bus and already see every run.

Every query in `queries.py` asks these rules, so the HTML pages and the JSON API
cannot disagree. Asking about an unknown dataset, or a run one may not see, is
`NotVisible` (HTTP 404); asking for the operations of a dataset one takes no part in
(its runs, its quarantine) is `NotAllowed` (HTTP 403): the dataset itself is public in
the catalog, what happens to it is not.
"""

from __future__ import annotations

from dataclasses import dataclass

from exchange.catalog.loader import Catalog, Subscription
from exchange.subscriptions.decisions import DATA_PROTECTION, OWNER
from govbus.errors import BadInput

ADMIN = "admin"
AGENCY = "agency"
AUDITOR = "auditor"
DPO = "dpo"
ROLES = (ADMIN, AGENCY, AUDITOR, DPO)


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

    @property
    def reads_operations(self) -> bool:
        """Whether the role takes part in exchanges at all (runs, quarantine); the dpo does not."""
        return self.role != DPO

    @property
    def can_request(self) -> bool:
        """Only an agency asks for a dataset, and only for itself (it is the recipient)."""
        return self.role == AGENCY and self.agency is not None

    def owns(self, catalog: Catalog, dataset_id: str) -> bool:
        """Whether the caller's agency owns the dataset; False if unknown, and for admins and auditors."""
        dataset = catalog.datasets.get(dataset_id)
        return dataset is not None and self.agency is not None and dataset.contract.owner == self.agency

    def can_read_catalog_entry(self, catalog: Catalog, dataset_id: str) -> bool:
        """Every role reads every known dataset's catalog metadata (never its data or operations)."""
        return dataset_id in catalog.datasets

    def can_see_dataset(self, catalog: Catalog, dataset_id: str) -> bool:
        """The dataset's operations (subscribers, runs, stage counts): admins and auditors for every
        dataset, an agency for those it owns or subscribes to. Its catalog entry is for everyone."""
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

    def can_see_request(
        self, catalog: Catalog, *, agency: str, dataset_id: str, needs_data_protection: bool
    ) -> bool:
        """An access request: admins and auditors see all, an agency its own and those for datasets
        it owns, the dpo those that need a data-protection decision (`needs_data_protection`)."""
        if self.sees_everything:
            return True
        if self.role == DPO:
            return needs_data_protection
        return agency == self.agency or self.owns(catalog, dataset_id)

    def decision_role(self, catalog: Catalog, dataset_id: str) -> str | None:
        """The role in which the caller decides on requests for the dataset, None if it decides on none.

        The owning agency decides as `owner`, the dpo as `data-protection`; admins and auditors
        only read. Whether a given request needs that role is `decisions.required_roles`.
        """
        if self.role == DPO:
            return DATA_PROTECTION
        if self.owns(catalog, dataset_id):
            return OWNER
        return None

    def visible_dataset_ids(self, catalog: Catalog) -> list[str]:
        """The datasets whose operations the caller may see (it takes part in), sorted by id."""
        return [d for d in sorted(catalog.datasets) if self.can_see_dataset(catalog, d)]

    def require_catalog_entry(self, catalog: Catalog, dataset_id: str) -> None:
        """Raise NotVisible (404) for a dataset the catalog does not have."""
        if not self.can_read_catalog_entry(catalog, dataset_id):
            raise NotVisible("no such dataset", where="dataset", hint="the catalog page lists every dataset")

    def require_dataset(self, catalog: Catalog, dataset_id: str) -> None:
        """Raise NotVisible (404) for an unknown dataset, NotAllowed (403) unless the caller may see
        its operations (`can_see_dataset`); its catalog entry stays readable."""
        self.require_catalog_entry(catalog, dataset_id)
        if not self.can_see_dataset(catalog, dataset_id):
            raise NotAllowed(
                "only its owner, its subscribers, admins and auditors see a dataset's runs and counts",
                where=f"dataset {dataset_id}",
                hint="its catalog entry (fields, rules, legal bases) is open to every agency",
            )

    def require_requester(self) -> None:
        """Raise NotAllowed (403) unless the caller is an agency (who asks, for itself)."""
        if not self.can_request:
            raise NotAllowed(
                "only an agency asks for a dataset, for itself",
                where="access request",
                hint="sign in with your agency's token",
            )

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
