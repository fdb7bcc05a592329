"""A record layout: where each field sits in a record, how it is encoded, and how fields
share storage (REDEFINES) or repeat a variable number of times (OCCURS … DEPENDING ON).

`connectors.mainframe.copybook.parse_copybook` builds one from a COBOL copybook; a caller
may also build one by hand. `connectors.mainframe.record_decode.decode_records` decodes
records with it.

Field kinds and their Arrow types:

    kind     bytes                                          Arrow type
    text     `length` characters of the code page           string
    zoned    `digits` bytes (+1 for a separate sign)        int64 when the value has no
    packed   `digits // 2 + 1` bytes (COMP-3)               decimals and at most 18 digits,
    binary   1, 2, 4, 8 or more bytes (COMP, COMP-5, …)     else decimal128(precision, scale)
    edited   one byte per picture position (Z,ZZ9.99-)      (the same rule)
    float    4 or 8 bytes (COMP-1, COMP-2)                  float32, float64

A number's value is its stored digits × 10**`scaling` / 10**`scale` (`scaling`: P
positions right of the digits; P positions left of them are part of `scale`).

`area` and `view` are set on fields that share storage through REDEFINES: `area` names the
storage (the redefined item and its offset), `view` the item (the redefined one or a
redefining one) the field belongs to; `overlays` says which views each area has and, for
nested REDEFINES, which view of which area holds it. A record is rejected only when every
view of an area fails to decode (see `connectors.mainframe.record_verdict`).

`table` and `occurrence` are set on the fields of an OCCURS … DEPENDING ON table: the
record holds only the occurrences its counter says, and what follows the table moves up
(see `connectors.mainframe.record_odo`); field offsets here are those of a record whose
every table is full.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

import pyarrow as pa

from govbus.errors import BadConfiguration

TEXT = "text"
ZONED = "zoned"
PACKED = "packed"
BINARY = "binary"
EDITED = "edited"
FLOAT = "float"
KINDS = (TEXT, ZONED, PACKED, BINARY, EDITED, FLOAT)
NUMBERS = (ZONED, PACKED, BINARY, EDITED)
MAX_INT64_DIGITS = 18
MAX_DIGITS = 38
BINARY_DIGITS = {1: 2, 2: 4, 4: 9, 8: 18}
"""Most PIC digits a binary field of that many bytes holds (COBOL's rule; more bytes hold
more than 18 digits, see `connectors.mainframe.copybook_picture.binary_length`)."""
SIGNS = ("trailing", "leading", "trailing_separate", "leading_separate")

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,127}")


@dataclass(frozen=True)
class LayoutField:
    """One elementary field: `length` bytes at `offset` (0-based, within the record).

    `digits`, `scale` and `signed` describe numbers (0, 0, False for text): PIC S9(5)V99
    is digits=7, scale=2, signed=True. `sign` is where a zoned or edited number keeps its
    S sign; `native` marks COMP-5 (any value the bytes hold), `little_endian` COMP-9;
    `picture` is an edited field's picture, one symbol per byte ('cr' for CR, 'db' for DB,
    a leading 'S' when it has an S); `blank_when_zero` (BLANK WHEN ZERO) makes an all-space
    number 0. `line` and `source` are the copybook line and file (0 and "" when the layout
    was built by hand).
    """

    name: str
    offset: int
    length: int
    kind: str
    digits: int = 0
    scale: int = 0
    signed: bool = False
    area: str | None = None
    view: str | None = None
    line: int = 0
    sign: str = "trailing"
    scaling: int = 0
    native: bool = False
    little_endian: bool = False
    picture: str = ""
    table: str | None = None
    occurrence: int = 0
    source: str = ""
    blank_when_zero: bool = False

    @property
    def precision(self) -> int:
        """Digits of the value: stored digits, P positions right of them, or the scale."""
        return max(self.digits + self.scaling, self.scale)

    @property
    def arrow_type(self) -> pa.DataType:
        """string, float32/float64, int64 for whole numbers that fit, else decimal128."""
        if self.kind == TEXT:
            return pa.string()
        if self.kind == FLOAT:
            return pa.float32() if self.length == 4 else pa.float64()
        if self.scale == 0 and (
            self.precision <= MAX_INT64_DIGITS or (self.native and self.signed and self.length <= 8)
        ):
            return pa.int64()
        return pa.decimal128(self.precision, self.scale)

    @property
    def where(self) -> str:
        """The copybook line ("resident.cpy:12"), or "" for a hand-built field."""
        return f"{self.source}:{self.line}" if self.line and self.source else ""

    def problem(self) -> str | None:
        """What is inconsistent in this field's description, or None."""
        if not _NAME.fullmatch(self.name) or self.name.startswith("_govbus"):
            return "is not a usable field name (letters, digits and '_', starting with a letter)"
        if self.kind not in KINDS:
            return f"has unknown kind '{self.kind}' (known: {', '.join(KINDS)})"
        if self.offset < 0 or self.length < 1:
            return "needs offset >= 0 and length >= 1"
        if self.kind == TEXT:
            return None
        if self.kind == FLOAT:
            return None if self.length in (4, 8) else "a float field takes 4 or 8 bytes"
        if not 1 <= self.digits <= MAX_DIGITS or self.scale < 0 or self.scaling < 0:
            return f"needs 1 <= digits <= {MAX_DIGITS}, scale >= 0 and scaling >= 0"
        if self.precision > MAX_DIGITS:
            return f"holds more than {MAX_DIGITS} digits"
        if self.sign not in SIGNS:
            return f"has unknown sign position '{self.sign}' (known: {', '.join(SIGNS)})"
        separate = 1 if self.signed and self.sign.endswith("separate") else 0
        if self.kind == BINARY:
            if self.length in BINARY_DIGITS:
                fits = self.native or BINARY_DIGITS[self.length] >= self.digits
            else:
                fits = 9 <= self.length <= 16
            return None if fits else "binary fields hold 1, 2, 4 or 8 bytes for at most 2, 4, 9 or 18 digits"
        if self.kind == EDITED:
            body = self.picture[1:] if self.picture.startswith("S") else self.picture
            return (
                None if len(body) + separate == self.length else "an edited field has one byte per position"
            )
        expected = {ZONED: self.digits + separate, PACKED: self.digits // 2 + 1}[self.kind]
        if self.length != expected:
            return f"a {self.kind} field of {self.digits} digits takes {expected} bytes"
        return None


@dataclass(frozen=True)
class Overlay:
    """A REDEFINES area: its views in copybook order and, when nested, the (area, view) that
    holds it."""

    area: str
    views: tuple[str, ...]
    parent: tuple[str, str] | None = None


@dataclass(frozen=True)
class OccursTable:
    """An OCCURS … DEPENDING ON table: `maximum` occurrences of `size` bytes from `offset`
    (in a full record), as many as the field `counter` says (at least `minimum`)."""

    name: str
    counter: str
    offset: int
    size: int
    minimum: int
    maximum: int
    line: int = 0

    @property
    def end(self) -> int:
        """The offset after the full table."""
        return self.offset + self.size * self.maximum


@dataclass(frozen=True)
class Condition:
    """A level-88 condition name: the values (as written) that make `item` true; `fields`
    are the columns of `item` (one per OCCURS occurrence; none for a group)."""

    name: str
    item: str
    fields: tuple[str, ...]
    values: tuple[str, ...]
    line: int = 0


@dataclass(frozen=True)
class Renames:
    """A level-66 RENAMES: another name for the fields from `first` through `last`."""

    name: str
    first: str
    last: str
    fields: tuple[str, ...]
    line: int = 0


@dataclass(frozen=True)
class RecordLayout:
    """The fields of one record type, in layout order, and the record length in bytes.

    `source` names where the layout came from (the copybook file) for messages. Field
    names are unique; fields of REDEFINES views overlap, others may too (the layout does
    not forbid it), and `record_length` covers every field (full OCCURS tables).
    `conditions` and `renames` document levels 88 and 66; they add no column.
    """

    fields: tuple[LayoutField, ...]
    record_length: int
    source: str = "layout"
    overlays: tuple[Overlay, ...] = ()
    tables: tuple[OccursTable, ...] = ()
    conditions: tuple[Condition, ...] = field(default=(), compare=False)
    renames: tuple[Renames, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if not self.fields:
            raise BadConfiguration("the layout has no fields", where=self.source)
        seen: set[str] = set()
        for item in self.fields:
            where = item.where or self.source
            problem = item.problem()
            if problem:
                raise BadConfiguration(f"field {item.name!r} {problem}", where=where)
            if item.name in seen:
                raise BadConfiguration(
                    f"two fields are named {item.name}",
                    where=where,
                    hint="rename one, or parse the copybook with naming='path'",
                )
            seen.add(item.name)
            if item.offset + item.length > self.record_length:
                raise BadConfiguration(f"field {item.name} ends after the record", where=where)
        for table in self.tables:
            if table.counter not in seen:
                raise BadConfiguration(
                    f"table {table.name}: no counter field {table.counter}", where=self.source
                )

    @cached_property
    def arrow_schema(self) -> pa.Schema:
        """The decoded columns, in layout order (without the source error columns)."""
        return pa.schema([pa.field(f.name, f.arrow_type, nullable=True) for f in self.fields])

    @property
    def names(self) -> tuple[str, ...]:
        """Field names in layout order."""
        return tuple(f.name for f in self.fields)

    @cached_property
    def overlay_tree(self) -> dict[str, Overlay]:
        """Every area by name: the declared `overlays`, plus flat ones for areas that only
        the fields name (a hand-built layout)."""
        tree = {o.area: o for o in self.overlays}
        for item in self.fields:
            if item.area is not None and item.area not in tree:
                views = tuple(dict.fromkeys(f.view or "" for f in self.fields if f.area == item.area))
                tree[item.area] = Overlay(item.area, views)
        return tree

    def field(self, name: str) -> LayoutField:
        """The field called `name`; BadConfiguration naming it when there is none."""
        for item in self.fields:
            if item.name == name:
                return item
        raise BadConfiguration(f"no field {name} in the layout", where=self.source)
