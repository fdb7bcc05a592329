"""One data description entry → an `Item`: its level, name and clauses.

Clauses kept: PICTURE, USAGE (see `copybook_picture`), SIGN [IS] LEADING|TRAILING
[SEPARATE [CHARACTER]], OCCURS n [TIMES] and OCCURS [m TO] n [TIMES] DEPENDING [ON] name,
REDEFINES, BLANK WHEN ZERO; level 88 VALUE[S] (the condition's values, THRU ranges
included) and level 66 RENAMES a [THRU b]. Read and ignored: VALUE of other levels,
INDEXED BY, ASCENDING/DESCENDING KEY, JUSTIFIED, GLOBAL, EXTERNAL. Refused:
SYNCHRONIZED (slack bytes). Every error is a BadConfiguration naming the item and
`where="<file>:<line>"`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from connectors.mainframe.copybook_picture import UNSUPPORTED_USAGES, USAGES
from connectors.mainframe.copybook_text import Entry
from govbus.errors import BadConfiguration

MAX_OCCURS = 100_000
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_CLAUSES = {
    "PIC", "PICTURE", "USAGE", "REDEFINES", "OCCURS", "VALUE", "VALUES", "SIGN", "LEADING",
    "TRAILING", "SYNC", "SYNCHRONIZED", "JUST", "JUSTIFIED", "BLANK", "GLOBAL", "EXTERNAL",
    "INDEXED", "ASCENDING", "DESCENDING", "RENAMES", *USAGES, *UNSUPPORTED_USAGES,
}  # fmt: skip
_SKIPPED = ("VALUE", "VALUES", "INDEXED", "ASCENDING", "DESCENDING", "JUST", "JUSTIFIED")


@dataclass(eq=False)
class Item:
    """A data item of the copybook tree (levels 01-49 and 77; 88 and 66 entries too)."""

    level: int
    name: str | None
    line: int
    source: str
    picture: str | None = None
    usage: str | None = None
    sign: str | None = None
    occurs: int | None = None  # the (maximum) number of occurrences
    occurs_min: int | None = None
    depending: str | None = None
    redefines: str | None = None
    renames: tuple[str, str] | None = None
    values: tuple[str, ...] = ()
    blank_when_zero: bool = False
    children: list[Item] = field(default_factory=list)
    conditions: list[Item] = field(default_factory=list)
    target: Item | None = None  # the item whose storage this one redefines
    redefined: bool = False
    size: int = 0  # bytes of one occurrence
    rel: int = 0  # offset of the first occurrence within the parent's occurrence

    @property
    def where(self) -> str:
        """The entry's place in the copybook: "<file>:<line>"."""
        return f"{self.source}:{self.line}"

    def error(self, message: str, hint: str | None = None) -> BadConfiguration:
        """A BadConfiguration naming this item and its copybook line."""
        return BadConfiguration(f"{self.name or 'FILLER'}: {message}", where=self.where, hint=hint)


def parse_entry(entry: Entry) -> Item:
    """The item of one entry (a COPY statement has been expanded before)."""
    tokens = list(entry.tokens)
    where = f"{entry.source}:{entry.line}"
    if not tokens[0].isdigit() or int(tokens[0]) not in (*range(1, 50), 66, 77, 88):
        raise BadConfiguration("expected a level number (01-49, 66, 77, 88)", where=where)
    level = int(tokens[0])
    rest = tokens[1:]
    name = None
    if rest and rest[0].upper() not in _CLAUSES:
        word = rest.pop(0)
        if not _NAME.fullmatch(word) or not any(c.isalpha() for c in word):
            raise BadConfiguration("expected a data name after the level number", where=where)
        name = None if word.upper() == "FILLER" else word.upper()
    item = Item(level=1 if level == 77 else level, name=name, line=entry.line, source=entry.source)
    if level in (66, 88) and name is None:
        raise BadConfiguration(f"a level-{level} entry needs a name", where=where)
    if level == 88:
        item.values = _condition_values(item, rest)
    elif level == 66:
        item.renames = _renames(item, rest)
    else:
        _clauses(item, rest)
    return item


def _condition_values(item: Item, tokens: list[str]) -> tuple[str, ...]:
    words = [t.upper() for t in tokens]
    if not words or words[0] not in ("VALUE", "VALUES"):
        raise item.error("a condition (level 88) needs VALUE")
    values: list[str] = []
    for token, word in zip(tokens[1:], words[1:], strict=True):
        if word in ("IS", "ARE") and not values:
            continue
        if word in ("THRU", "THROUGH") and values:
            values[-1] += " THRU"
        elif values and values[-1].endswith(" THRU"):
            values[-1] += f" {token}"
        else:
            values.append(token)
    if not values or values[-1].endswith(" THRU"):
        raise item.error("a condition (level 88) needs its values")
    return tuple(values)


def _renames(item: Item, tokens: list[str]) -> tuple[str, str]:
    words = [t.upper() for t in tokens]
    if len(words) < 2 or words[0] != "RENAMES":
        raise item.error("a level-66 entry needs RENAMES")
    first = words[1]
    last = words[3] if len(words) >= 4 and words[2] in ("THRU", "THROUGH") else first
    if len(words) not in (2, 4):
        raise item.error("expected RENAMES name [THRU name]")
    return first, last


def _clauses(item: Item, tokens: list[str]) -> None:
    words = [t.upper() for t in tokens]
    i = 0

    def take(what: str) -> str:
        nonlocal i
        if i >= len(words):
            raise item.error(f"expected {what} at the end of the entry")
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
                raise item.error(f"USAGE {word} ({UNSUPPORTED_USAGES[word]}) is not supported")
            if word not in USAGES:
                raise item.error("unknown USAGE", hint="one of " + ", ".join(sorted(USAGES)))
            item.usage = USAGES[word]
        elif word == "REDEFINES":
            item.redefines = take("the name of the redefined item").upper()
        elif word == "OCCURS":
            i = _occurs(item, tokens, words, i)
        elif word in ("SIGN", "LEADING", "TRAILING"):
            skip("IS")
            position = word if word != "SIGN" else take("LEADING or TRAILING").upper()
            if position not in ("LEADING", "TRAILING"):
                raise item.error("SIGN must be LEADING or TRAILING")
            separate = i < len(words) and words[i] == "SEPARATE"
            skip("SEPARATE")
            skip("CHARACTER")
            item.sign = position.lower() + ("_separate" if separate else "")
        elif word == "BLANK":
            skip("WHEN")
            if take("ZERO").upper() not in ("ZERO", "ZEROS", "ZEROES"):
                raise item.error("expected BLANK WHEN ZERO")
            item.blank_when_zero = True
        elif word in _SKIPPED:
            while i < len(words) and words[i] not in _CLAUSES:
                i += 1  # the literal(s), index names, keys, RIGHT: nothing to keep
        elif word in ("SYNC", "SYNCHRONIZED"):
            raise item.error("SYNCHRONIZED (slack bytes) is not supported")
        elif word not in ("GLOBAL", "EXTERNAL"):
            shown = word if re.fullmatch(r"[A-Z0-9-]{1,30}", word) else "?"
            raise item.error(f"unknown clause {shown}", hint="a period may be missing at the end of an entry")


def _occurs(item: Item, tokens: list[str], words: list[str], i: int) -> int:
    """Read OCCURS [m TO] n [TIMES] [DEPENDING [ON] name [OF|IN qualifier]…] from word i."""

    def count(at: int) -> int:
        if at >= len(words) or not words[at].isdigit() or int(words[at]) > MAX_OCCURS:
            raise item.error(f"OCCURS needs counts from 0 to {MAX_OCCURS}")
        return int(words[at])

    low = high = count(i)
    i += 1
    ranged = i < len(words) and words[i] == "TO"
    if ranged:
        high = count(i + 1)
        i += 2
    if i < len(words) and words[i] == "TIMES":
        i += 1
    if i < len(words) and words[i] == "DEPENDING":
        i += 1 + (i + 1 < len(words) and words[i + 1] == "ON")
        if i >= len(words) or words[i] in _CLAUSES:
            raise item.error("OCCURS … DEPENDING ON needs the name of the counter")
        item.depending = words[i]
        i += 1
        while i + 1 < len(words) and words[i] in ("OF", "IN"):
            i += 2  # a qualified counter name: the first name is looked up
        if not ranged:
            low = 0  # OCCURS n TIMES DEPENDING ON: from 0 to n
    elif low != high:
        raise item.error("OCCURS m TO n needs DEPENDING ON")
    if high < 1 or low > high:
        raise item.error("OCCURS needs a maximum of at least 1 and a minimum not above it")
    item.occurs, item.occurs_min = high, low
    return i
