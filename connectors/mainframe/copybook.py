"""COBOL copybook → `RecordLayout`: level numbers and groups flattened into named fields.

What a caller must know:

* Fixed or free source format, comments: see `connectors.mainframe.copybook_text`.
* Names: each elementary item is named after itself in snake_case (BIRTH-DATE →
  birth_date). With `naming="leaf"` (the default) a name shared by several items is
  qualified with their enclosing groups, innermost first, until unique (the
  COBOL "YEAR OF BIRTH-DATE" rule: birth_date_year); `naming="path"` always prefixes
  every enclosing group, the 01 level included (resident_birth_date_year).
* FILLER (or an unnamed item) takes its bytes but yields no field.
* OCCURS n [TIMES] repeats an item or group n times; its fields get suffixes _1.._n
  (nested: _2_3, outer first). OCCURS ... DEPENDING ON is refused.
* REDEFINES X overlays X's storage; its fields are alternative views (same offsets),
  tagged with `area`/`view` in the layout; the record grows only if the redefining
  item is longer. Several 01 records in one copybook are alternative views of one
  record. Levels 66 (RENAMES) and 88 (conditions) hold no storage and are skipped.
* USAGE on a group applies to its items; PICTURE and USAGE rules: `copybook_picture`.
* Any problem raises BadConfiguration with `where="<copybook>:<line>"`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from connectors.mainframe.copybook_picture import UNSUPPORTED_USAGES, USAGES, PictureError, storage
from connectors.mainframe.copybook_text import entries
from connectors.mainframe.record_layout import LayoutField, RecordLayout
from govbus.errors import BadConfiguration

NAMINGS = ("leaf", "path")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_CLAUSES = {
    "PIC", "PICTURE", "USAGE", "REDEFINES", "OCCURS", "VALUE", "VALUES", "SIGN", "LEADING",
    "TRAILING", "SYNC", "SYNCHRONIZED", "JUST", "JUSTIFIED", "BLANK", "GLOBAL", "EXTERNAL",
    "INDEXED", "ASCENDING", "DESCENDING", *USAGES, *UNSUPPORTED_USAGES,
}  # fmt: skip


@dataclass(eq=False)
class _Item:
    level: int
    name: str | None
    line: int
    picture: str | None = None
    usage: str | None = None
    occurs: int | None = None
    redefines: str | None = None
    children: list[_Item] = field(default_factory=list)
    target: _Item | None = None  # the item whose storage this one redefines
    redefined: bool = False
    size: int = 0  # bytes of one occurrence
    rel: int = 0  # offset of the first occurrence within the parent's occurrence


def load_copybook(path: str | Path, *, naming: str = "leaf") -> RecordLayout:
    """Parse the copybook file at `path` (UTF-8 or ASCII text)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadConfiguration("the copybook does not exist", where=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadConfiguration(f"cannot read the copybook ({type(exc).__name__})", where=str(path)) from None
    return parse_copybook(text, name=path.name, naming=naming)


def parse_copybook(text: str, *, name: str = "copybook", naming: str = "leaf") -> RecordLayout:
    """Parse copybook `text`; `name` (the file name) is used in error locations."""
    if naming not in NAMINGS:
        raise BadConfiguration(f"naming must be one of {', '.join(NAMINGS)}", where="naming")
    root = _Item(level=0, name=None, line=0)
    stack = [root]
    for line, tokens in entries(text, name):
        item = _entry(tokens, line, name)
        if item is None:
            continue
        while stack[-1].level >= item.level:
            stack.pop()
        parent = stack[-1]
        if parent.picture is not None:
            raise _error(name, line, f"level {item.level} is under an elementary item (one with a PIC)")
        parent.children.append(item)
        stack.append(item)
    if not root.children:
        raise BadConfiguration("the copybook describes no item", where=name)
    _resolve_redefines(root, name)
    _measure(root, None, name)
    leaves: list[tuple[_Item, int, tuple[_Item, ...], str, tuple[str, str] | None]] = []
    _flatten(root, 0, (), "", None, leaves)
    names = _field_names([(item, ancestors) for item, _, ancestors, _, _ in leaves], naming, name)
    fields = []
    for item, offset, _, suffix, overlay in leaves:
        kept = storage(item.picture or "", item.usage)
        fields.append(
            LayoutField(
                name=names[item] + suffix,
                offset=offset,
                length=kept.length,
                kind=kept.kind,
                digits=kept.digits,
                scale=kept.scale,
                signed=kept.signed,
                area=overlay[0] if overlay else None,
                view=overlay[1] if overlay else None,
                line=item.line,
            )
        )
    if not fields:
        raise BadConfiguration("the copybook has no named elementary item", where=name)
    return RecordLayout(tuple(fields), record_length=root.size, source=name)


def _error(source: str, line: int, message: str, hint: str | None = None) -> BadConfiguration:
    return BadConfiguration(message, where=f"{source}:{line}", hint=hint)


def _entry(tokens: list[str], line: int, source: str) -> _Item | None:
    """One entry's item, or None for levels 66 and 88 (no storage)."""
    if not tokens[0].isdigit() or int(tokens[0]) not in (*range(1, 50), 66, 77, 88):
        raise _error(source, line, "expected a level number (01-49, 66, 77, 88)")
    level = int(tokens[0])
    if level in (66, 88):
        return None
    rest = tokens[1:]
    name = None
    if rest and rest[0].upper() not in _CLAUSES:
        word = rest.pop(0)
        if not _NAME.fullmatch(word) or not any(c.isalpha() for c in word):
            raise _error(source, line, "expected a data name after the level number")
        name = None if word.upper() == "FILLER" else word.upper()
    item = _Item(level=1 if level == 77 else level, name=name, line=line)
    _clauses(item, rest, source)
    return item


def _clauses(item: _Item, tokens: list[str], source: str) -> None:
    words = [t.upper() for t in tokens]
    i = 0

    def take(what: str) -> str:
        nonlocal i
        if i >= len(words):
            raise _error(source, item.line, f"expected {what} at the end of the entry")
        i += 1
        return tokens[i - 1]

    def skip(*optional: str) -> None:
        nonlocal i
        while i < len(words) and words[i] in optional:
            i += 1

    while i < len(words):
        word = words[i]
        i += 1
        if word in ("PIC", "PICTURE"):
            skip("IS")
            item.picture = take("a picture string")
        elif word in ("USAGE", *USAGES, *UNSUPPORTED_USAGES):
            if word == "USAGE":
                skip("IS")
                word = take("a usage").upper()
            if word in UNSUPPORTED_USAGES:
                raise _error(source, item.line, f"USAGE {word} ({UNSUPPORTED_USAGES[word]}) is not supported")
            if word not in USAGES:
                raise _error(source, item.line, "unknown USAGE")
            item.usage = USAGES[word]
        elif word == "REDEFINES":
            item.redefines = take("the name of the redefined item").upper()
        elif word == "OCCURS":
            count = take("a count")
            if not count.isdigit() or not 1 <= int(count) <= 100_000:
                raise _error(source, item.line, "OCCURS needs a count from 1 to 100000")
            item.occurs = int(count)
            if i < len(words) and words[i] in ("TO", "DEPENDING"):
                raise _error(
                    source, item.line, "OCCURS ... DEPENDING ON is not supported",
                    hint="declare the maximum count; the unused occurrences read as values or nulls",
                )  # fmt: skip
            skip("TIMES")
        elif word in ("VALUE", "VALUES", "INDEXED", "ASCENDING", "DESCENDING", "JUST", "JUSTIFIED", "BLANK"):
            while i < len(words) and words[i] not in _CLAUSES:
                i += 1  # the literal(s), index names, keys, RIGHT, WHEN ZERO: nothing to keep
        elif word in ("SIGN", "LEADING", "TRAILING"):
            skip("IS")
            position = word if word != "SIGN" else take("LEADING or TRAILING").upper()
            if position == "LEADING" or (i < len(words) and words[i] == "SEPARATE"):
                raise _error(source, item.line, "only the default sign (TRAILING, overpunched) is supported")
        elif word in ("SYNC", "SYNCHRONIZED"):
            raise _error(source, item.line, "SYNCHRONIZED (slack bytes) is not supported")
        elif word not in ("GLOBAL", "EXTERNAL"):
            raise _error(
                source, item.line, "unknown clause", hint="a period may be missing at the end of an entry"
            )


def _resolve_redefines(group: _Item, source: str) -> None:
    """Link each REDEFINES to its preceding sibling; later 01 records redefine the first."""
    first_record = next((c for c in group.children if group.level == 0 and c.level == 1), None)
    for index, child in enumerate(group.children):
        if child.redefines:
            earlier = [s for s in group.children[:index] if s.name == child.redefines]
            if not earlier:
                raise _error(source, child.line, "REDEFINES names no preceding item at the same level")
            target = earlier[-1]
            child.target = target.target or target
        elif first_record is not None and child.level == 1 and child is not first_record:
            child.target = first_record
        if child.target is not None:
            child.target.redefined = True
            if child.target.occurs is not None:
                raise _error(source, child.line, "redefining an item with OCCURS is not supported")
        _resolve_redefines(child, source)


def _measure(item: _Item, usage: str | None, source: str) -> None:
    """Set `size` of one occurrence and each child's `rel` (REDEFINES share the target's)."""
    usage = item.usage or usage
    if not item.children:
        if item.picture is None:
            raise _error(source, item.line, "an elementary item needs a PIC clause")
        try:
            item.size = storage(item.picture, usage).length
        except PictureError as exc:
            raise _error(source, item.line, str(exc)) from None
        item.usage = usage
        return
    position = end = 0
    for child in item.children:
        _measure(child, usage, source)
        child.rel = child.target.rel if child.target is not None else position
        child_end = child.rel + child.size * (child.occurs or 1)
        position = end = max(end, child_end)
    item.size = end


def _flatten(
    item: _Item,
    base: int,
    ancestors: tuple[_Item, ...],
    suffix: str,
    overlay: tuple[str, str] | None,
    out: list[tuple[_Item, int, tuple[_Item, ...], str, tuple[str, str] | None]],
) -> None:
    """Append (item, offset, named ancestors, OCCURS suffix, overlay) for each named leaf."""
    for k in range(item.occurs or 1):
        start = base + k * item.size
        here = suffix + (f"_{k + 1}" if item.occurs is not None else "")
        if not item.children:
            if item.name is not None:
                out.append((item, start, ancestors, here, overlay))
            continue
        inner = ancestors + ((item,) if item.name is not None else ())
        for child in item.children:
            child_overlay = overlay
            if child.target is not None or child.redefined:
                area = child.target or child
                area_key = f"{_snake(area.name or 'filler')}{here}@{start + area.rel}"
                child_overlay = (area_key, _snake(child.name or "filler") + here)
            _flatten(child, start + child.rel, inner, here, child_overlay, out)


def _field_names(leaves: list[tuple[_Item, tuple[_Item, ...]]], naming: str, source: str) -> dict[_Item, str]:
    """A unique snake_case base name per item (before OCCURS suffixes)."""
    ancestry = {item: ancestors for item, ancestors in leaves}
    depth = {item: len(ancestors) if naming == "path" else 0 for item, ancestors in ancestry.items()}

    def named(item: _Item) -> str:
        parts = [a.name or "" for a in ancestry[item][len(ancestry[item]) - depth[item] :]]
        text = "_".join(_snake(p) for p in [*parts, item.name or ""])
        return f"f_{text}" if text[0].isdigit() else text

    while True:
        by_name: dict[str, list[_Item]] = {}
        for item in ancestry:
            by_name.setdefault(named(item), []).append(item)
        clashes = [items for items in by_name.values() if len(items) > 1]
        if not clashes:
            return {item: named(item) for item in ancestry}
        for items in clashes:
            deeper = [item for item in items if depth[item] < len(ancestry[item])]
            if not deeper:
                raise _error(
                    source, items[-1].line, f"two fields would be named {named(items[-1])}",
                    hint="give the items different names or enclosing groups",
                )  # fmt: skip
            for item in deeper:
                depth[item] += 1


def _snake(name: str) -> str:
    return name.lower().replace("-", "_")
