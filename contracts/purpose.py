"""A contract's `purpose:` — why the dataset is shared — and why the linter asks for it.

Subscriptions and statutes are reviewed against what the owner says a dataset is for;
a contract that does not say leaves every reviewer (and every later auditor) guessing.
So `lint_contract` asks for a purpose: missing, empty or still the placeholder
`govbus discover` drafts (`PURPOSE_PLACEHOLDER`, or any text starting with `TODO`) is a
problem. The same rule is in the published JSON Schema (`PURPOSE_PATTERN`), so an
editor flags what the linter will refuse.
"""

from __future__ import annotations

import re

PURPOSE_PLACEHOLDER = "TODO: say why this dataset is shared and which decisions it supports"
"""What `govbus discover` drafts when it is not given `--purpose`; lint refuses it."""

PURPOSE_HELP = (
    "say in a sentence why the dataset is shared and which decisions it supports "
    "(as in 'Lets agencies entitled by statute check a person's assessed income.')"
)
"""What to write, appended to every purpose problem and shown by editors."""

PURPOSE_PATTERN = r"^(?!\s*TODO\b)\s*\S"
"""A purpose has text, and it does not start with `TODO` (the placeholder's mark)."""

_PURPOSE = re.compile(PURPOSE_PATTERN)


def purpose_problem(value: str | None) -> str | None:
    """What is wrong with a contract's purpose (`None`: the key is missing), or None if
    nothing is. Also used by `govbus discover` to refuse a `--purpose` lint would refuse."""
    if value is None:
        return f"required key is missing: {PURPOSE_HELP}"
    if _PURPOSE.match(value):
        return None
    if not value.strip():
        return f"is empty: {PURPOSE_HELP}"
    return f"still holds the TODO placeholder: {PURPOSE_HELP}"
