"""Reading copybook text: source format, comments, and entries split at their periods.

Fixed format (columns 1-6 sequence numbers, 7 the indicator, code in 8-72) is assumed
when every non-blank line's first six columns are blank or six digits and column 7 is
blank or an indicator (`*`, `/`, `-`, `D`); otherwise the text is free format. (A free
format copybook indented by seven spaces or more reads the same either way, unless a
line runs past column 72.)
Comments: `*` or `/` in column 7 (fixed), a line starting with `*` (free), and anything
after `*>`. A quoted literal is one token; literals continued across lines are not
supported. A last entry without its closing period is accepted.
"""

from __future__ import annotations

import re

from govbus.errors import BadConfiguration

_FIXED_PREFIX = re.compile(r"[0-9]{6}| {0,6}")
_TOKEN = re.compile(r"'[^']*'|\"[^\"]*\"|[^\s'\"]+|['\"]")


def _code_lines(text: str) -> list[tuple[int, str]]:
    """(line number, code) of every line holding code, comments and margins removed."""
    lines = text.splitlines()
    fixed = all(
        _FIXED_PREFIX.fullmatch(line[:6]) and (len(line) < 7 or line[6] in " *-/Dd")
        for line in lines
        if line.strip()
    )
    code_lines = []
    for number, line in enumerate(lines, 1):
        if fixed:
            if len(line) > 6 and line[6] in "*/Dd":
                continue
            code = line[7:72]
        elif line.lstrip().startswith("*"):
            continue
        else:
            code = line
        code = code.split("*>", 1)[0]
        if code.strip():
            code_lines.append((number, code))
    return code_lines


def entries(text: str, source: str) -> list[tuple[int, list[str]]]:
    """Data description entries: (line of the first token, tokens), split at periods."""
    entries: list[tuple[int, list[str]]] = []
    tokens: list[str] = []
    first = 0
    for number, code in _code_lines(text):
        for token in _TOKEN.findall(code):
            if token in ("'", '"'):
                raise BadConfiguration("unterminated literal", where=f"{source}:{number}")
            if not tokens:
                first = number
            ends = token.endswith(".") and token[0] not in "'\""
            token = token[:-1] if ends else token
            if token:
                tokens.append(token)
            if ends and tokens:
                entries.append((first, tokens))
                tokens = []
    if tokens:
        entries.append((first, tokens))  # a last entry without its period is accepted
    return entries
