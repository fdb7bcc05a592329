"""COPY statements in a copybook: finding the member, REPLACING its text, nesting.

`COPY member [OF|IN library] [SUPPRESS] [REPLACING operand BY operand ...].` is replaced
by the member's entries, as the compiler's library processing does:

* The member is looked for in the folder of the copybook that copies it, then in each
  folder of the `library` list, as written, in lower and in upper case, with no
  extension or with .cpy, .cbl, .cob or .copy (a quoted name is a file name and is taken
  as written). `OF library` is accepted and not used to search. A member must lie inside
  the folder it is found in once `..` and symbolic links are resolved: a copybook cannot
  make the reader open a file elsewhere.
* REPLACING operands are ==pseudo-text==, a literal or a word. A pattern matches whole
  text words of the member's code (never comments), spaces between its words matching
  any run of spaces or line breaks; each piece of text is replaced once, left to right,
  by the first operand that matches there. Partial words follow IBM's convention: a
  pattern that starts or ends with a separator (==:TAG:==, ==(PFX)==) may touch the
  word next to it (:TAG:-NAME becomes CUST-NAME), and `LEADING ==X==` / `TRAILING ==X==`
  replace the start or end of words.
* Members may copy other members (at most `MAX_DEPTH` deep); a member that copies itself,
  directly or not, is refused. Errors name the member's file and line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from connectors.mainframe.copybook_text import CodeLine, Entry, code_lines, entries
from govbus.errors import BadConfiguration

MAX_DEPTH = 20
EXTENSIONS = ("", ".cpy", ".cbl", ".cob", ".copy")
_WORD_CHAR = re.compile(r"[A-Za-z0-9_-]")


def expand_copies(
    found: list[Entry],
    *,
    directory: Path | None,
    library: Sequence[Path],
    chain: tuple[Path, ...] = (),
) -> list[Entry]:
    """`found` with each COPY statement replaced by the member's (expanded) entries."""
    out: list[Entry] = []
    for entry in found:
        head = entry.tokens[0].upper()
        if head == "REPLACE":
            raise _error(entry, "the REPLACE statement is not supported", "use COPY … REPLACING")
        if head != "COPY":
            out.append(entry)
            continue
        member, replacing = _statement(entry)
        path = _find(member, entry, directory, library)
        if path in chain or len(chain) >= MAX_DEPTH:
            raise _error(entry, f"COPY {member} copies itself or nests more than {MAX_DEPTH} deep")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise _error(entry, f"COPY {member}: cannot read the member ({type(exc).__name__})") from None
        lines = _replace(code_lines(text, path.name), replacing, entry)
        inner = entries(lines, path.name)
        out += expand_copies(inner, directory=path.parent, library=library, chain=(*chain, path))
    return out


def _error(entry: Entry, message: str, hint: str | None = None) -> BadConfiguration:
    return BadConfiguration(message, where=f"{entry.source}:{entry.line}", hint=hint)


def _statement(entry: Entry) -> tuple[str, list[tuple[str, str, str]]]:
    """(member name, [(mode, pattern text, replacement text)]) of a COPY entry."""
    tokens = list(entry.tokens[1:])
    if not tokens:
        raise _error(entry, "COPY needs a member name")
    member = tokens.pop(0)
    if member[:1] in "'\"":
        member = member[1:-1]
    if tokens[:1] and tokens[0].upper() in ("OF", "IN"):
        tokens = tokens[2:]
    if tokens[:1] and tokens[0].upper() == "SUPPRESS":
        tokens = tokens[1:]
    replacing: list[tuple[str, str, str]] = []
    if tokens and tokens[0].upper() == "REPLACING":
        tokens = tokens[1:]
        while tokens:
            mode = tokens.pop(0).upper() if tokens[0].upper() in ("LEADING", "TRAILING") else "WHOLE"
            if len(tokens) < 3 or tokens[1].upper() != "BY":
                raise _error(entry, f"COPY {member} REPLACING: expected 'operand BY operand'")
            pattern, replacement = _operand(tokens[0]), _operand(tokens[2])
            if not pattern.split():
                raise _error(entry, f"COPY {member} REPLACING: an empty pattern")
            replacing.append((mode, pattern, replacement))
            tokens = tokens[3:]
    elif tokens:
        raise _error(entry, f"COPY {member}: unexpected words after the member name")
    return member, replacing


def _operand(token: str) -> str:
    return (
        token[2:-2].strip() if token.startswith("==") and token.endswith("==") and len(token) >= 4 else token
    )


def _find(member: str, entry: Entry, directory: Path | None, library: Sequence[Path]) -> Path:
    folders = ([directory] if directory is not None else []) + [Path(p) for p in library]
    quoted = entry.tokens[1][:1] in "'\""
    spellings = dict.fromkeys((member, member.lower(), member.upper()))
    extensions = dict.fromkeys((*EXTENSIONS, *(x.upper() for x in EXTENSIONS)))
    names = [member] if quoted else [name + extension for name in spellings for extension in extensions]
    for folder in folders:
        inside = Path(os.path.realpath(folder))
        for name in names:
            candidate = Path(os.path.realpath(folder / name))
            if candidate.is_file() and candidate.is_relative_to(inside):  # no '..', link or absolute name out
                return candidate
    raise _error(
        entry, f"COPY {member}: no such member",
        hint="put it next to the copybook or list its folder in copybook_library",
    )  # fmt: skip


def _replace(lines: list[CodeLine], replacing: list[tuple[str, str, str]], entry: Entry) -> list[CodeLine]:
    """The member's code lines with REPLACING applied (line numbers kept)."""
    if not replacing or not lines:
        return lines
    parts = []
    for index, (mode, pattern, _) in enumerate(replacing):
        words = pattern.split()
        body = r"\s+".join(re.escape(w) for w in words)
        before = "" if mode == "TRAILING" or not _WORD_CHAR.match(pattern[0]) else r"(?<![A-Za-z0-9_-])"
        after = "" if mode == "LEADING" or not _WORD_CHAR.match(pattern[-1]) else r"(?![A-Za-z0-9_-])"
        parts.append(f"(?P<r{index}>{before}{body}{after})")
    combined = re.compile("|".join(parts))

    def substitute(match: re.Match[str]) -> str:
        index = int(match.lastgroup[1:]) if match.lastgroup else 0
        return replacing[index][2] + "\n" * match.group(0).count("\n")  # keep the line count

    text = combined.sub(substitute, "\n".join(line.code for line in lines))
    codes = text.split("\n")
    if len(codes) != len(lines):  # pragma: no cover - the substitution keeps every line break
        raise _error(entry, "COPY REPLACING changed the member's line structure")
    return [CodeLine(line.source, line.number, code) for line, code in zip(lines, codes, strict=True)]
