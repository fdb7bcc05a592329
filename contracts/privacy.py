"""What a field's tags say about privacy: contradictions with its classification, retention.

Why here: the tags are the contract's, and the whole bus must read them one way. A
field tagged with a special category of personal data (`contracts.SPECIAL_CATEGORY_TAGS`,
GDPR art. 9 and 10) *is* special category whatever its `classification` says: receipts
mark it sensitive, the catalog shows it, and a request for it needs the data-protection
officer (`exchange.subscriptions.decisions`). A field tagged `quasi-identifier` is one
that, combined with others, can single a person out in another copy of the data (a
municipality, an exact income): disclosure policies generalize those and count
equivalence classes over them (`consent.disclosure`).

`tag_warnings(contract)` lists where a classification contradicts the tags (what
`govbus check` warns about); `parse_data_life` reads a contract's `data_life` (how long
the bus may keep a row of the dataset: staged, in the snapshot, in quarantine).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from dateutil.relativedelta import relativedelta

from contracts.model import DIRECT_IDENTIFIER, Problem, special_categories

if TYPE_CHECKING:
    from contracts.model import Contract, FieldSpec

__all__ = ["DATA_LIFE_PATTERN", "parse_data_life", "tag_warnings"]

DATA_LIFE_PATTERN = r"^P(?=\d)(?:\d{1,3}Y)?(?:\d{1,4}M)?(?:\d{1,4}W)?(?:\d{1,5}D)?$"
"""A retention period: years, months, weeks and days (`P7Y`, `P18M`, `P90D`)."""
_DATA_LIFE = re.compile(DATA_LIFE_PATTERN)
_PART = re.compile(r"(\d+)([YMWD])")


def parse_data_life(text: str) -> relativedelta:
    """`P7Y`, `P18M`, `P2Y6M`, `P90D` → a relativedelta; ValueError saying what is wrong.

    Calendar years and months are allowed (unlike an SLA's durations): a retention rule
    reads "seven years", and `now - P7Y` is one well-defined instant.
    """
    if not isinstance(text, str) or not _DATA_LIFE.match(text):
        raise ValueError("not a retention period such as P7Y, P18M or P90D (years, months, weeks, days)")
    parts = {unit: int(count) for count, unit in _PART.findall(text)}
    return relativedelta(
        years=parts.get("Y", 0), months=parts.get("M", 0), weeks=parts.get("W", 0), days=parts.get("D", 0)
    )


def tag_warnings(contract: Contract) -> list[Problem]:
    """Fields whose classification contradicts (or understates) their tags.

    Warnings, not errors: the tags win (a `health` field is special category however it
    is classified), but the owner should make the two agree.
    """
    file = str(contract.path) if contract.path is not None else contract.id
    return [
        Problem(file, contract.line_of(f"fields.{name}"), f"fields.{name}", message)
        for name, spec in contract.fields.items()
        for message in _field_warnings(spec)
    ]


def _field_warnings(spec: FieldSpec) -> list[str]:
    messages = []
    categories = special_categories(spec.tags)
    if categories and spec.classification != "sensitive":
        said = "contradicts" if spec.classification in ("public", "internal") else "understates"
        messages.append(
            f"tagged {', '.join(categories)} (special category, GDPR art. 9/10) but classified "
            f"{spec.classification}: the classification {said} the tags; it is treated as special "
            "category (receipts, catalog, data-protection approval) whatever its classification"
        )
    if DIRECT_IDENTIFIER in spec.tags and spec.classification in ("public", "internal"):
        messages.append(
            f"tagged {DIRECT_IDENTIFIER} but classified {spec.classification}: an identifier of a "
            "person is personal data; classify it personal"
        )
    if "financial" in spec.tags and spec.classification == "public":
        messages.append("tagged financial but classified public: classify it personal or internal")
    return messages
