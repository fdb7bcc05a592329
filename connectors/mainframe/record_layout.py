"""A fixed-width record layout: where each field sits in a record and how it is encoded.

`connectors.mainframe.copybook.parse_copybook` builds one from a COBOL copybook; a caller may also
build one by hand. `connectors.mainframe.record_decode.decode_records` decodes records with it.

Field kinds and their Arrow types:

    kind     bytes                                         Arrow type
    text     `length` characters of the code page          string (trailing spaces/NULs stripped)
    zoned    `digits` bytes, sign overpunched in the last  int64 when scale 0 and digits <= 18,
    packed   `digits // 2 + 1` bytes (COMP-3)              else decimal128(digits, scale)
    binary   2, 4 or 8 bytes, big-endian (COMP/COMP-4)     (same rule; at most 18 digits)

`area` and `view` are set on fields that share storage through REDEFINES: `area` names
the storage (the redefined item and its offset), `view` the item (the redefined one or
a redefining one) the field belongs to. A record is rejected only when every view of
an area fails to decode; see `connectors.mainframe.record_decode`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

import pyarrow as pa

from govbus.errors import BadConfiguration

TEXT = "text"
ZONED = "zoned"
PACKED = "packed"
BINARY = "binary"
KINDS = (TEXT, ZONED, PACKED, BINARY)
MAX_INT64_DIGITS = 18
MAX_DIGITS = 38
BINARY_DIGITS = {2: 4, 4: 9, 8: 18}
"""Most PIC digits a big-endian binary field of that many bytes holds (COBOL's rule)."""

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,127}")


@dataclass(frozen=True)
class LayoutField:
    """One elementary field: `length` bytes at `offset` (0-based, within the record).

    `digits`, `scale` and `signed` describe numeric kinds (0, 0, False for text):
    PIC S9(5)V99 is digits=7, scale=2, signed=True. `line` is the copybook line (0 when
    the layout was built by hand).
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

    @property
    def arrow_type(self) -> pa.DataType:
        """string for text; int64 for integers of at most 18 digits; decimal128 otherwise."""
        if self.kind == TEXT:
            return pa.string()
        if self.scale == 0 and self.digits <= MAX_INT64_DIGITS:
            return pa.int64()
        return pa.decimal128(self.digits, self.scale)

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
        if not 1 <= self.digits <= MAX_DIGITS or not 0 <= self.scale <= self.digits:
            return f"needs 1 <= digits <= {MAX_DIGITS} and 0 <= scale <= digits"
        expected = {ZONED: self.digits, PACKED: self.digits // 2 + 1}.get(self.kind)
        if self.kind == BINARY:
            if BINARY_DIGITS.get(self.length, 0) < self.digits:
                return "binary fields hold 2, 4 or 8 bytes for at most 4, 9 or 18 digits"
        elif self.length != expected:
            return f"a {self.kind} field of {self.digits} digits takes {expected} bytes"
        return None


@dataclass(frozen=True)
class RecordLayout:
    """The fields of one record type, in layout order, and the record length in bytes.

    `source` names where the layout came from (the copybook file) for messages. Field
    names are unique; fields of REDEFINES views may overlap, others may too (the layout
    does not forbid it), and `record_length` covers every field.
    """

    fields: tuple[LayoutField, ...]
    record_length: int
    source: str = "layout"

    def __post_init__(self) -> None:
        if not self.fields:
            raise BadConfiguration("the layout has no fields", where=self.source)
        seen: set[str] = set()
        for field in self.fields:
            where = f"{self.source}:{field.line}" if field.line else self.source
            problem = field.problem()
            if problem:
                raise BadConfiguration(f"field {field.name!r} {problem}", where=where)
            if field.name in seen:
                raise BadConfiguration(
                    f"two fields are named {field.name}",
                    where=where,
                    hint="rename one, or parse the copybook with naming='path'",
                )
            seen.add(field.name)
            if field.offset + field.length > self.record_length:
                raise BadConfiguration(f"field {field.name} ends after the record", where=where)

    @cached_property
    def arrow_schema(self) -> pa.Schema:
        """The decoded columns, in layout order (without the source error columns)."""
        return pa.schema([pa.field(f.name, f.arrow_type, nullable=True) for f in self.fields])

    @property
    def names(self) -> tuple[str, ...]:
        """Field names in layout order."""
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> LayoutField:
        """The field called `name`; BadConfiguration naming it when there is none."""
        for field in self.fields:
            if field.name == name:
                return field
        raise BadConfiguration(f"no field {name} in the layout", where=self.source)
