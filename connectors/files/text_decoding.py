"""A UTF-8 view of a text file in any ASCII-compatible encoding, bad bytes marked, not fatal.

`TranscodedFile` is a read-only binary stream (what pyarrow's readers take) producing
the file's text as UTF-8. A run of bytes that does not decode becomes a *mark*
`\\uFDD0<n>\\uFDD1` (two Unicode noncharacters around the error's index) instead of
failing the read; `errors[n]` tells where it was (byte offset, 1-based line) and which
bytes. A parser downstream finds the marks in its values (`MARK`) and turns those
records into error rows. Newlines, delimiters and quotes are ASCII, so marking never
changes the record structure.

Only ASCII-compatible encodings are accepted (UTF-8, Latin-1, Windows-125x, ISO-8859-x,
…): the line counting and the parsers rely on ASCII bytes meaning themselves. UTF-16/32
and EBCDIC are refused (convert the file, or use the fixed-width connector for EBCDIC).
"""

from __future__ import annotations

import codecs
import io
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from govbus.errors import BadConfiguration

MARK = re.compile("\ufdd0([0-9]+)\ufdd1")
MARK_START = "\ufdd0"
_HANDLER = "govbus-mark"
_ASCII_PROBE = "\n\r,;|\t\"'\\ azAZ09"
_CHUNK = 1 << 20
_ACTIVE = threading.local()


@dataclass(frozen=True)
class DecodeError:
    """Undecodable bytes: where (byte offset from the file's start, 1-based line) and what."""

    offset: int
    line: int
    raw: bytes


def check_encoding(encoding: object, where: str = "encoding") -> str:
    """The codec's canonical name, if it exists and is ASCII-compatible."""
    if not isinstance(encoding, str) or not encoding:
        raise BadConfiguration("must name a text encoding", where=where)
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        hint = "e.g. utf-8, cp1252, iso-8859-15"
        raise BadConfiguration("is not a known text encoding", where=where, hint=hint) from None
    try:
        compatible = _ASCII_PROBE.encode("ascii").decode(info.name) == _ASCII_PROBE
    except (UnicodeError, LookupError):
        compatible = False
    if not compatible or info.name.startswith(("utf-16", "utf-32")):
        raise BadConfiguration(
            "only ASCII-compatible encodings are supported",
            where=where,
            hint="convert the file to UTF-8 (EBCDIC exports go through the fixed-width connector)",
        )
    return info.name


def _mark(exc: UnicodeError) -> tuple[str, int]:
    reader = getattr(_ACTIVE, "reader", None)
    if reader is None or not isinstance(exc, UnicodeDecodeError):
        raise exc
    return reader.marked(exc), exc.end


codecs.register_error(_HANDLER, _mark)


class TranscodedFile(io.RawIOBase):
    """The UTF-8 text of `path` (in `encoding`), undecodable bytes marked (module doc)."""

    def __init__(self, path: Path, encoding: str) -> None:
        super().__init__()
        self._handle = open(path, "rb")  # closed by close()
        name = codecs.lookup(encoding).name
        if name == "utf-8-sig":  # strip the BOM here so offsets stay exact
            name = "utf-8"
            if self._handle.read(3) != codecs.BOM_UTF8:
                self._handle.seek(0)
        self._offset = self._handle.tell()  # of the next raw byte to decode
        self._decoder = codecs.getincrementaldecoder(name)(errors=_HANDLER)
        self._lines = 0  # newlines before `_offset`
        self._object_base = 0
        self._counted = (0, 0)  # (position in the decoder's input, newlines before it)
        self._object: bytes = b""
        self._pending = b""
        self._eof = False
        self.errors: list[DecodeError] = []

    def readable(self) -> bool:
        """True: a read-only stream (`RawIOBase` says False unless told)."""
        return True

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes of UTF-8 (all the rest when negative); fewer only at the end, b"" after."""
        while not self._eof and (size < 0 or len(self._pending) < size):
            self._fill()
        if size < 0 or size >= len(self._pending):
            out, self._pending = self._pending, b""
        else:
            out, self._pending = self._pending[:size], self._pending[size:]
        return out

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        """Fill `buffer` from `read`; the number of bytes put in, 0 at the end of the file."""
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        """Close the file underneath too; `errors` stays readable."""
        self._handle.close()
        super().close()

    def _fill(self) -> None:
        raw = self._handle.read(_CHUNK)
        self._eof = not raw
        buffered = self._decoder.getstate()[0]
        self._object = buffered + raw
        self._object_base = self._offset - len(buffered)
        self._counted = (0, self._lines - buffered.count(b"\n"))
        _ACTIVE.reader = self
        try:
            text = self._decoder.decode(raw, final=self._eof)
        finally:
            _ACTIVE.reader = None
        self._offset += len(raw)
        self._lines += raw.count(b"\n")
        self._pending += text.encode("utf-8")

    def marked(self, exc: UnicodeDecodeError) -> str:
        """Record an undecodable run and return its mark (called by the codec)."""
        start = exc.start
        if exc.object is not self._object and len(exc.object) != len(self._object):
            # some codecs hand over a copy or a tail: locate it from the end of our input
            start += len(self._object) - len(exc.object)
        position, newlines = self._counted
        if start >= position:
            newlines += self._object.count(b"\n", position, start)
            self._counted = (start, newlines)
        index = len(self.errors)
        raw = bytes(exc.object[exc.start : exc.end])
        self.errors.append(DecodeError(self._object_base + start, newlines + 1, raw))
        return f"\ufdd0{index}\ufdd1"


def unmark(text: str, errors: list[DecodeError]) -> str:
    """`text` with each mark replaced by its bytes as backslash escapes (for raw columns)."""

    def escaped(match: re.Match[str]) -> str:
        index = int(match.group(1))
        if index >= len(errors):
            return match.group(0)
        return errors[index].raw.decode("latin-1").encode("unicode_escape").decode("ascii")

    return MARK.sub(escaped, text)


def line_at(path: Path, offset: int, encoding: str, limit: int = 1 << 16) -> str:
    """The physical line holding byte `offset` (at most `limit` bytes each side), decoded
    with undecodable bytes as backslash escapes."""
    with open(path, "rb") as handle:
        start = max(0, offset - limit)
        handle.seek(start)
        window = handle.read(offset - start + limit)
    relative = offset - start
    begin = window.rfind(b"\n", 0, relative) + 1
    end = window.find(b"\n", relative)
    line = window[begin : end if end >= 0 else len(window)].rstrip(b"\r")
    return line.decode(encoding, errors="backslashreplace")
