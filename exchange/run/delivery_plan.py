"""What stays the same for every piece of one subscription's delivery run.

Built once when the run starts (`plan_delivery`): the statute or the consent timeline the
decisions come from, the policy version every ledger entry of the run records, the
dataset's sensitive fields and the recipient's reversible-field keys. Shared by the sending
side (`exchange.run.deliver`) and the logging side (`exchange.run.batch_log`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import consent

if TYPE_CHECKING:
    from exchange.catalog.loader import Dataset, Subscription
    from exchange.ctx import StepContext

__all__ = ["DeliveryPlan", "plan_delivery"]


@dataclass
class DeliveryPlan:
    """What stays the same for every segment of one delivery run."""

    sub: Subscription
    dataset: Dataset
    statute: consent.Statute | None
    timeline: Any  # consent.ConsentTimeline for consent subscriptions, else None
    policy_version: str
    sensitive: tuple[str, ...]
    # {field: (key id, AES-SIV key)} for the recipient's reversible fields, read once per run.
    field_keys: dict[str, tuple[str, bytes]] = field(default_factory=dict)


def plan_delivery(ctx: StepContext, sub: Subscription, dataset: Dataset) -> DeliveryPlan:
    """What stays the same for every piece of the subscription's run."""
    statute = ctx.catalog.statutes[sub.statute] if sub.statute else None
    timeline = None
    if statute is None:
        # Loaded once per delivery run; each segment asks it for the consents in force now.
        with ctx.engine.connect() as conn:
            timeline = ctx.register.timeline(
                conn, recipient=sub.agency, dataset=sub.dataset, purpose=sub.purpose, fields=sub.fields
            )
    return DeliveryPlan(
        sub,
        dataset,
        statute,
        timeline,
        consent.policy_version(
            dataset=sub.dataset,
            recipient=sub.agency,
            purpose=sub.purpose,
            fields=sub.fields,
            statute=statute,
            disclosure=sub.disclosure.fingerprint if sub.disclosure is not None else None,
        ),
        dataset.contract.fields_classified("sensitive"),
        _field_keys(ctx, sub),
    )


def _field_keys(ctx: StepContext, sub: Subscription) -> dict[str, tuple[str, bytes]]:
    keys = {}
    for name in sub.reversible_fields:
        key_id = ctx.keys.field_key_id(sub.agency, name)
        keys[name] = (key_id, ctx.keys.field_key(sub.agency, name, key_id))
    return keys
