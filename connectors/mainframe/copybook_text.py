"""Reading copybook text as a compiler does: source format, comments, continuation lines,
and entries split at their periods.

Fixed format (the IBM reference format): columns 1-6 are the sequence area and 73-80 the
identification area, both ignored whatever they hold; column 7 is the indicator: `*` or
`/` a comment line, `D` a debugging line (skipped), `-` a continuation line (the line goes
on the previous one: a word continues with its first non-blank character, a literal left
open at column 72 with the character after its opening quote); code is columns 8-72.
Free format: a line starting with `*` (after blanks) is a comment, code runs to the end
of the line. In both, `*>` starts a comment that runs to the end of the line, tabs count
as spaces up to the next multiple of 8, and a DOS end-of-file byte (0x1A) ends the text.

`form="auto"` (the default) reads the text as fixed format when that makes every entry
start with a level number (or a COPY statement); otherwise as free format. So sequence
numbers and labels in columns 1-6 and text in 73-80 are ignored, and a free-format
copybook indented by less than seven columns still reads as written.

A quoted literal is one token ('it''s' included), as are X'..' hex literals and COPY's
==pseudo-text==. Commas and semicolons followed by a space separate like spaces. A last
entry without its closing period is accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from govbus.errors import BadConfiguration

FORMS = ("auto", "fixed", "free")
DIRECTIVES = {"COPY", "REPLACE"}
_LISTING = {"EJECT", "SKIP1", "SKIP2", "SKIP3", "TITLE"}
_TOKEN = re.compile(r"""==.*?==|[XxNnGg]?'(?:[^']|'')*'|[XxNnGg]?"(?:[^"]|"")*"|[^\s'"]+|['"]""")
_INDICATORS = " *-/Dd$"


@dataclass(frozen=True)
class CodeLine:
    """The code of one source line (comments, margins and continuations resolved)."""

    source: str
    number: int
    code: str


@dataclass(frozen=True)
class Entry:
    """One data description entry (or a COPY statement): where it starts and its tokens."""

    source: str
    line: int
    tokens: tuple[str, ...]


def code_lines(text: str, source: str, form: str = "auto") -> list[CodeLine]:
    """The lines of `text` that hold code, read in `form` (see the module doc)."""
    if form not in FORMS:
        raise BadConfiguration(
            f"the copybook format must be one of {', '.join(FORMS)}", where="copybook_format"
        )
    cut = text.find("\x1a")
    if cut >= 0:
        text = text[:cut]
    lines = [line.expandtabs(8).rstrip("\r") for line in text.splitlines()]
    fixed = _read(lines, source, fixed=True) if form != "free" else None
    if form == "fixed" and fixed is None:
        raise BadConfiguration(
            "not a fixed-format copybook: column 7 must be blank or an indicator (* / - D)",
            where=source, hint="set copybook_format: free",
        )  # fmt: skip
    if fixed is not None and (form == "fixed" or _entries_start_well(fixed, source)):
        return fixed
    return _read(lines, source, fixed=False) or []


def entries(lines: list[CodeLine], source: str) -> list[Entry]:
    """Entries split at their periods: (file and line of the first token, tokens)."""
    found: list[Entry] = []
    tokens: list[str] = []
    first: CodeLine | None = None
    title = False
    for line in lines:
        for token in _TOKEN.findall(line.code):
            if token in ("'", '"'):
                raise BadConfiguration("unterminated literal", where=f"{line.source}:{line.number}")
            if not tokens and (title or token.upper().rstrip(".") in _LISTING):
                title = token.upper() == "TITLE"  # listing directives: EJECT, SKIPn, TITLE 'text'
                continue
            if first is None or not tokens:
                first = line
            ends = token.endswith(".") and token[0] not in "'\"="
            token = token[:-1] if ends else token
            if token[-1:] in (",", ";") and token[0] not in "'\"=":
                token = token[:-1]
            if token:
                tokens.append(token)
            if ends and tokens:
                found.append(Entry(first.source, first.number, tuple(tokens)))
                tokens = []
    if tokens and first is not None:
        found.append(Entry(first.source, first.number, tuple(tokens)))  # a last entry without its period
    return found


def _read(lines: list[str], source: str, *, fixed: bool) -> list[CodeLine] | None:
    """The code lines in one format; None when a fixed-format line has no valid indicator."""
    out: list[CodeLine] = []
    for number, line in enumerate(lines, 1):
        indicator = " "
        if fixed:
            indicator = line[6] if len(line) > 6 else " "
            if indicator not in _INDICATORS:
                return None
            if indicator in "*/Dd$":
                continue
            code = line[7:72].ljust(65)  # a literal left open runs to column 72
        elif line.lstrip().startswith("*") and not line.lstrip().startswith("*>"):
            continue
        else:
            code = line
        code = _strip_comment(code)
        if indicator == "-" and out:
            out[-1] = CodeLine(out[-1].source, out[-1].number, _continue(out[-1].code, code))
        elif code.strip():
            out.append(CodeLine(source, number, code))
    return out


def _strip_comment(code: str) -> str:
    """The code before a `*>` that is not inside a literal."""
    quote = ""
    for i, char in enumerate(code):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif code.startswith("*>", i):
            return code[:i]
    return code


def _continue(previous: str, code: str) -> str:
    """`previous` continued by a continuation line's `code` (IBM's rules)."""
    rest = code.lstrip()
    quote = _open_quote(previous)
    if quote and rest[:1] == quote:
        return previous + rest[1:]  # the literal ran to column 72, padded there
    return previous.rstrip() + rest


def _open_quote(code: str) -> str:
    quote = ""
    for char in code:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
    return quote


def _entries_start_well(lines: list[CodeLine], source: str) -> bool:
    try:
        found = entries(lines, source)
    except BadConfiguration:
        return False
    return bool(found) and all(e.tokens[0].isdigit() or e.tokens[0].upper() in DIRECTIVES for e in found)
