"""COBOL copybook → `RecordLayout`: level numbers and groups flattened into named fields.

What a caller must know:

* Source format, comments, continuation lines: `connectors.mainframe.copybook_text`;
  COPY … REPLACING: `connectors.mainframe.copybook_copy` (members are looked for next to
  the copybook, then in `library`); clauses: `connectors.mainframe.copybook_items`;
  PICTURE, USAGE and SIGN: `connectors.mainframe.copybook_picture`.
* Names: each elementary item is named after itself in snake_case (BIRTH-DATE →
  birth_date). With `naming="leaf"` (the default) a name shared by several items is
  qualified with their enclosing groups, innermost first, until unique (the COBOL
  "YEAR OF BIRTH-DATE" rule: birth_date_year); `naming="path"` always prefixes every
  enclosing group, the 01 level included (resident_birth_date_year).
* FILLER (or an unnamed item) takes its bytes but yields no field.
* OCCURS n [TIMES] repeats an item or group n times; its fields get suffixes _1.._n
  (nested: _2_3, outer first). OCCURS [m TO] n DEPENDING ON counter declares a table of
  variable length: its n occurrences are columns, those past the counter's value are
  null, and what follows it moves up (`RecordLayout.tables`). Such a table may not sit
  inside another OCCURS or a REDEFINES, and its counter must be an elementary item
  before it, outside any table.
* REDEFINES X overlays X's storage; its fields are alternative views (same offsets),
  tagged with `area`/`view` and listed in `RecordLayout.overlays`; the record grows only
  if the redefining item is longer. Several 01 records in one copybook are alternative
  views of one record.
* Level 88 condition names are kept in `RecordLayout.conditions` (item, values); level 66
  RENAMES in `RecordLayout.renames`. Neither adds a column.
* USAGE and SIGN on a group apply to its items.
* Any problem raises BadConfiguration naming the item, with `where="<file>:<line>"`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from connectors.mainframe.copybook_copy import expand_copies
from connectors.mainframe.copybook_items import Item, parse_entry
from connectors.mainframe.copybook_names import field_names, snake
from connectors.mainframe.copybook_picture import PictureError, storage
from connectors.mainframe.copybook_text import FORMS, code_lines, entries
from connectors.mainframe.record_layout import (
    Condition,
    LayoutField,
    OccursTable,
    Overlay,
    RecordLayout,
    Renames,
)
from govbus.errors import BadConfiguration

NAMINGS = ("leaf", "path")


def load_copybook(
    path: str | Path, *, naming: str = "leaf", library: Sequence[str | Path] = (), form: str = "auto"
) -> RecordLayout:
    """Parse the copybook file at `path` (UTF-8 or ASCII text); COPY members are looked for
    next to it, then in the `library` folders (relative ones from the copybook's folder)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadConfiguration("the copybook does not exist", where=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadConfiguration(f"cannot read the copybook ({type(exc).__name__})", where=str(path)) from None
    folders = [path.parent / p for p in library]
    return parse_copybook(
        text, name=path.name, naming=naming, library=folders, directory=path.parent, form=form
    )


def parse_copybook(
    text: str,
    *,
    name: str = "copybook",
    naming: str = "leaf",
    library: Sequence[str | Path] = (),
    directory: Path | None = None,
    form: str = "auto",
) -> RecordLayout:
    """Parse copybook `text`; `name` (the file name) is used in error locations, `directory`
    and `library` to find COPY members, `form` is auto, fixed or free."""
    if naming not in NAMINGS:
        raise BadConfiguration(f"naming must be one of {', '.join(NAMINGS)}", where="naming")
    if form not in FORMS:
        raise BadConfiguration(f"must be one of {', '.join(FORMS)}", where="copybook_format")
    found = entries(code_lines(text, name, form), name)
    found = expand_copies(found, directory=directory, library=[Path(p) for p in library])
    root = Item(level=0, name=None, line=0, source=name)
    renames: list[Item] = []
    stack = [root]
    for entry in found:
        item = parse_entry(entry)
        if item.level == 88:
            if stack[-1] is root:
                raise item.error("a condition (level 88) must follow the item it belongs to")
            stack[-1].conditions.append(item)
            continue
        if item.level == 66:
            renames.append(item)
            continue
        while stack[-1].level >= item.level:
            stack.pop()
        parent = stack[-1]
        if parent.picture is not None:
            raise item.error(f"level {item.level} is under an elementary item (one with a PIC)")
        parent.children.append(item)
        stack.append(item)
    if not root.children:
        raise BadConfiguration("the copybook describes no item", where=name)
    _resolve_redefines(root)
    _measure(root, None, None)
    flat = _Flat()
    _flatten(root, 0, (), "", None, flat)
    names = field_names([(item, ancestors) for item, _, ancestors, _, _, _ in flat.leaves], naming)
    fields = [
        _field(item, offset, names[item] + suffix, overlay, table)
        for item, offset, _, suffix, overlay, table in flat.leaves
    ]
    if not fields:
        raise BadConfiguration("the copybook has no named elementary item", where=name)
    return RecordLayout(
        tuple(fields),
        record_length=root.size,
        source=name,
        overlays=tuple(Overlay(area, tuple(views), parent) for area, (views, parent) in flat.areas.items()),
        tables=_tables(flat, names),
        conditions=_conditions(root, flat, names),
        renames=tuple(_renamed(item, flat, fields) for item in renames),
    )


@dataclass
class _Flat:
    """What flattening collects: leaves, areas, variable tables and where items start."""

    leaves: list[tuple[Item, int, tuple[Item, ...], str, tuple[str, str] | None, tuple[str, int] | None]] = (
        field(default_factory=list)
    )
    areas: dict[str, tuple[list[str], tuple[str, str] | None]] = field(default_factory=dict)
    tables: list[tuple[Item, int, str]] = field(default_factory=list)  # (item, start, table name)
    starts: dict[Item, int] = field(default_factory=dict)  # the first occurrence's offset


def _field(
    item: Item, offset: int, name: str, overlay: tuple[str, str] | None, table: tuple[str, int] | None
) -> LayoutField:
    kept = storage(item.picture, item.usage, item.sign)
    return LayoutField(
        name=name, offset=offset, length=kept.length, kind=kept.kind, digits=kept.digits, scale=kept.scale,
        signed=kept.signed, area=overlay[0] if overlay else None, view=overlay[1] if overlay else None,
        line=item.line, sign=kept.sign, scaling=kept.scaling, native=kept.native,
        little_endian=kept.little_endian, picture=kept.picture, table=table[0] if table else None,
        occurrence=table[1] if table else 0, source=item.source, blank_when_zero=item.blank_when_zero,
    )  # fmt: skip


def _resolve_redefines(group: Item) -> None:
    """Link each REDEFINES to its preceding sibling; later 01 records redefine the first."""
    first_record = next((c for c in group.children if group.level == 0 and c.level == 1), None)
    for index, child in enumerate(group.children):
        if child.redefines:
            earlier = [s for s in group.children[:index] if s.name == child.redefines]
            if not earlier:
                raise child.error("REDEFINES names no preceding item at the same level")
            target = earlier[-1]
            child.target = target.target or target
        elif first_record is not None and child.level == 1 and child is not first_record:
            child.target = first_record
        if child.target is not None:
            child.target.redefined = True
            if child.target.occurs is not None:
                raise child.error("redefining an item with OCCURS is not supported")
        _resolve_redefines(child)


def _measure(item: Item, usage: str | None, sign: str | None) -> None:
    """Set `size` of one occurrence and each child's `rel` (REDEFINES share the target's)."""
    usage = item.usage or usage
    inherited, sign = sign, item.sign or sign
    if not item.children:
        signed = (item.picture or "").upper().startswith("S")
        applied = item.sign or (inherited if signed else None)  # a group's SIGN: its S items only
        try:
            kept = storage(item.picture, usage, applied)
        except PictureError as exc:
            raise item.error(str(exc)) from None
        item.usage, item.sign, item.size = usage, applied, kept.length
        return
    position = end = 0
    for child in item.children:
        _measure(child, usage, sign)
        child.rel = child.target.rel if child.target is not None else position
        child_end = child.rel + child.size * (child.occurs or 1)
        position = end = max(end, child_end)
    item.size = end


def _flatten(
    item: Item,
    base: int,
    ancestors: tuple[Item, ...],
    suffix: str,
    overlay: tuple[str, str] | None,
    flat: _Flat,
    table: tuple[str, int] | None = None,
) -> None:
    """Collect (item, offset, named ancestors, OCCURS suffix, overlay, table) per named leaf."""
    flat.starts.setdefault(item, base)
    if item.depending is not None:
        if suffix or table is not None:
            raise item.error("an OCCURS … DEPENDING ON inside another OCCURS is not supported")
        if overlay is not None:
            raise item.error("an OCCURS … DEPENDING ON inside a REDEFINES is not supported")
        flat.tables.append((item, base, snake(item.name or "filler")))
    for k in range(item.occurs or 1):
        start = base + k * item.size
        here = suffix + (f"_{k + 1}" if item.occurs is not None else "")
        inner_table = (flat.tables[-1][2], k + 1) if item.depending is not None else table
        if not item.children:
            if item.name is not None:
                flat.leaves.append((item, start, ancestors, here, overlay, inner_table))
            continue
        inner = ancestors + ((item,) if item.name is not None else ())
        for child in item.children:
            child_overlay = overlay
            if child.target is not None or child.redefined:
                area = child.target or child
                area_key = f"{snake(area.name or 'filler')}{here}@{start + area.rel}"
                views, _ = flat.areas.setdefault(area_key, ([], overlay))
                view = snake(child.name or "filler") + here
                view = view if view not in views else f"{view}_{len(views) + 1}"
                views.append(view)
                child_overlay = (area_key, view)
            _flatten(child, start + child.rel, inner, here, child_overlay, flat, inner_table)


def _tables(flat: _Flat, names: dict[Item, str]) -> tuple[OccursTable, ...]:
    """The OCCURS … DEPENDING ON tables, each with its counter field."""
    found = []
    for item, start, name in flat.tables:
        counters = [(leaf, offset, suffix, table) for leaf, offset, _, suffix, _, table in flat.leaves
                    if leaf.name == item.depending]  # fmt: skip
        if not counters:
            raise item.error("the DEPENDING ON counter is not a named elementary item of the copybook")
        leaf, offset, suffix, table = counters[-1]
        if suffix or table is not None or offset + leaf.size > start:
            raise item.error("the DEPENDING ON counter must come before its table, outside any OCCURS")
        found.append(
            OccursTable(
                name, names[leaf], start, item.size, item.occurs_min or 0, item.occurs or 1, item.line
            )
        )
    return tuple(found)


def _conditions(root: Item, flat: _Flat, names: dict[Item, str]) -> tuple[Condition, ...]:
    found = []
    pending = [root]
    while pending:
        item = pending.pop(0)
        pending = item.children + pending
        for condition in item.conditions:
            columns = tuple(names[leaf] + suffix for leaf, _, _, suffix, _, _ in flat.leaves if leaf is item)
            found.append(
                Condition(
                    snake(condition.name or ""),
                    item.name or "FILLER",
                    columns,
                    condition.values,
                    condition.line,
                )
            )
    return tuple(found)


def _renamed(item: Item, flat: _Flat, fields: list[LayoutField]) -> Renames:
    assert item.renames is not None
    first, last = item.renames
    by_name = {i.name: i for i in flat.starts if i.name is not None}
    if first not in by_name or last not in by_name:
        raise item.error("RENAMES names an item the copybook does not have")
    final = by_name[last]
    start, end = flat.starts[by_name[first]], flat.starts[final] + final.size * (final.occurs or 1)
    if end <= start:
        raise item.error("RENAMES … THRU must name a later item")
    covered = tuple(f.name for f in fields if start <= f.offset and f.offset + f.length <= end)
    return Renames(snake(item.name or ""), first, last, covered, item.line)
