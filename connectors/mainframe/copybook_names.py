"""Column names for a copybook's elementary items: snake_case, qualified only to be unique.

`naming="leaf"`: each item is named after itself (BIRTH-DATE → birth_date); items that
would share a name are prefixed with their enclosing groups, innermost first, one level
at a time, until every name is unique. `naming="path"`: every enclosing group is always
a prefix. A name that would start with a digit gets an `f_` prefix.
"""

from __future__ import annotations

from typing import Protocol

from govbus.errors import BadConfiguration


class _Named(Protocol):
    name: str | None
    line: int
    source: str


def snake(name: str) -> str:
    """BIRTH-DATE → birth_date."""
    return name.lower().replace("-", "_")


def field_names(leaves: list[tuple[_Named, tuple[_Named, ...]]], naming: str) -> dict[_Named, str]:
    """A unique snake_case base name per item (before OCCURS suffixes)."""
    ancestry = {item: ancestors for item, ancestors in leaves}
    depth = {item: len(ancestors) if naming == "path" else 0 for item, ancestors in ancestry.items()}

    def named(item: _Named) -> str:
        parts = [a.name or "" for a in ancestry[item][len(ancestry[item]) - depth[item] :]]
        text = "_".join(snake(p) for p in [*parts, item.name or ""])
        return f"f_{text}" if text[0].isdigit() else text

    while True:
        by_name: dict[str, list[_Named]] = {}
        for item in ancestry:
            by_name.setdefault(named(item), []).append(item)
        clashes = [items for items in by_name.values() if len(items) > 1]
        if not clashes:
            return {item: named(item) for item in ancestry}
        for items in clashes:
            deeper = [item for item in items if depth[item] < len(ancestry[item])]
            if not deeper:
                last = items[-1]
                raise BadConfiguration(
                    f"two fields would be named {named(last)}",
                    where=f"{last.source}:{last.line}",
                    hint="give the items different names or enclosing groups",
                )
            for item in deeper:
                depth[item] += 1
