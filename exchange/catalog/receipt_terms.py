"""What the catalog says around a consent, for its receipt: controller, recipient, purpose, notice.

A consent receipt (Kantara CR v1.1 / ISO/IEC TS 27560) must name the controller with its
identity and contact, the jurisdiction, the privacy policy, the notice the citizen was
shown, how to withdraw and how to exercise the other rights. All of it is declared in
the catalog — the owner agency's `controller:` in agencies.yaml, the purpose's
`notice_url` in purposes.yaml, the contract's special-category tags — and gathered here
so that every place that issues a receipt (the CLI, the citizen portal) says the same.
"""

from __future__ import annotations

import consent
import contracts
from exchange.catalog.model import Catalog

__all__ = ["CONTROLLER_FIELDS", "controller_gaps", "receipt_terms"]

CONTROLLER_FIELDS = (
    "identifier",
    "address",
    "email",
    "phone",
    "contact",
    "jurisdiction",
    "policy_url",
    "withdrawal",
    "rights",
)
"""What a controller declares for receipts (`url` is optional)."""


def receipt_terms(catalog: Catalog, *, dataset: str, purpose: str, recipient: str) -> consent.ReceiptTerms:
    """The receipt terms of a consent to `dataset` for `purpose` by `recipient`, from the catalog."""
    known = catalog.datasets.get(dataset)
    owner = catalog.agencies.get(known.contract.owner) if known else None
    stated = catalog.purposes.get(purpose)
    receiving = catalog.agencies.get(recipient)
    fields = known.contract.fields if known else {}
    return consent.ReceiptTerms(
        controller_name=owner.name if owner else consent.ReceiptTerms.controller_name,
        controller=dict(owner.controller) if owner else {},
        recipient_name=receiving.name if receiving else None,
        purpose_description=getattr(stated, "description", None),
        notice_url=getattr(stated, "notice_url", "") or "",
        sensitive_fields=known.contract.fields_classified("sensitive") if known else (),
        special_categories={
            name: contracts.special_categories(spec.tags)
            for name, spec in fields.items()
            if spec.special_category
        },
    )


def controller_gaps(catalog: Catalog) -> list[str]:
    """Owners of datasets subscribed on consent that leave a receipt field undeclared."""
    gaps = []
    consented = {s.dataset for s in catalog.subscriptions.values() if s.statute is None}
    for dataset_id in sorted(consented):
        dataset = catalog.datasets.get(dataset_id)
        owner = catalog.agencies.get(dataset.contract.owner) if dataset else None
        if owner is None:
            continue
        missing = [k for k in CONTROLLER_FIELDS if not owner.controller.get(k)]
        if missing:
            gaps.append(
                f"agencies.yaml: {owner.id}: controller: {', '.join(missing)} not declared; consent "
                f"receipts for {dataset_id} will say 'not declared' (Kantara CR v1.1 / ISO/IEC TS 27560)"
            )
    return gaps
