"""What a page, a report or a command shows of a subject id someone typed: `******1234`.

A typed national id is the one value the bus is asked to show back (the citizen's own
report, the subject search, `govbus consent show`); it never appears in full, nor its
length, nor its audit pseudonym.
"""

from __future__ import annotations

__all__ = ["mask_id"]


def mask_id(typed: str) -> str:
    """`******1234`: the last four characters only, and never the length of the id.

    An id shorter than eight characters is masked whole.
    """
    typed = typed.strip()
    return "******" + (typed[-4:] if len(typed) >= 8 else "")
