"""The conformance kit on the fixed-width mainframe source (source only): one export file,
and a drop folder of exports.

The harness seeds the system the way a mainframe would: it writes a copybook for the
rows' columns (text as PIC X in cp037, integers and decimals as signed packed decimal)
and encodes each row with the IBM-format encoders of `test_fixed_width_encoding`, which
are written independently of `connectors`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from connectors import Source, make_source
from connectors.testing import TYPE_CASE_NAMES, ConnectorConformance, ConnectorHarness
from tests.connectors.mainframe.test_fixed_width_encoding import packed, text

ENCODING = "cp037"
NO_KIND = "fixed-width records hold text and zoned, packed or binary numbers only"
NO_NULL = "a fixed-width record has no null: every field holds bytes"
CARRIED = ("int", "long", "string", "uuid", "enum", "decimal", "decimal-38")
_NOT_SUPPORTED = {name: NO_KIND for name in TYPE_CASE_NAMES if name not in CARRIED} | {
    "null": NO_NULL,
    "optional": NO_NULL,
    "optional-bytes": NO_NULL,
    "unicode-string": "text is padded with spaces in an EBCDIC code page: edge spaces and "
    "characters outside cp037 do not survive",
    "decimal-wide": "COBOL numbers have at most 38 digits",
}
_READ_TYPES = {
    pa.int32(): pa.int64(),  # PIC S9(10) COMP-3: up to 18 digits read as int64
    pa.int64(): pa.decimal128(19, 0),  # int64's extremes need 19 digits: a decimal
    pa.dictionary(pa.int32(), pa.string()): pa.string(),  # enum symbols as text
}


def picture(field: pa.Field, values: pa.ChunkedArray) -> tuple[str, int, int]:
    """(PIC clause, digits, scale) for a column; digits 0 means text."""
    kind = field.type
    if pa.types.is_int32(kind):
        return "S9(10) COMP-3", 10, 0
    if pa.types.is_int64(kind):
        return "S9(19) COMP-3", 19, 0
    if pa.types.is_decimal(kind):
        return f"S9({kind.precision - kind.scale})V9({kind.scale}) COMP-3", kind.precision, kind.scale
    width = max([len(_text(value)) for value in values.to_pylist()] + [1])
    return f"X({width})", 0, 0


def _unscaled(value: Decimal | int, scale: int) -> int:
    """The integer a packed field stores: 12.50 at scale 2 is 1250 (exact at 38 digits)."""
    with localcontext(prec=80):
        return int(Decimal(value).scaleb(scale))


def _text(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


class FixedWidthHarness(ConnectorHarness):
    """Exports of `directory`: one file rewritten in place (`folder=False`) or new files."""

    has_sink = False
    reads_by_cursor_field = False
    types_not_supported = _NOT_SUPPORTED
    read_types = _READ_TYPES

    def __init__(self, directory: Path, *, folder: bool) -> None:
        self.directory, self.folder = directory, folder
        self.directory.mkdir(parents=True)
        self.copybook = directory.parent / "layout.cpy"
        self.layout: list[tuple[str, str, int, int]] | None = None  # (name, PIC, digits, scale)
        self.files = 0

    def make_source(self, *, key_fields: Sequence[str], cursor_field: str | None) -> Source:
        place = {"directory": str(self.directory), "settle_seconds": 0} if self.folder else {
            "path": str(self.directory / "export.dat")
        }  # fmt: skip
        settings = {"connector": "fixed_width", "copybook": str(self.copybook), "encoding": ENCODING, **place}
        return make_source(settings, key_fields=key_fields, cursor_field=None)

    def seed(self, table: pa.Table, *, key_fields: Sequence[str], cursor_field: str | None) -> None:
        """Encode the rows as records: a new export file, or appended to the one export."""
        if self.layout is None:
            self.layout = [(f.name, *picture(f, table[f.name])) for f in table.schema]
            lines = ["       01  ROW."] + [
                f"           05  {name.upper().replace('_', '-'):<24} PIC {pic}."
                for name, pic, _, _ in self.layout
            ]
            self.copybook.write_text("\n".join(lines) + "\n")
        records = b"".join(self._record(row) for row in table.to_pylist())
        if self.folder:
            self.files += 1
            temporary = self.directory / f".seed-{self.files:06d}.tmp"
            temporary.write_bytes(records)
            os.replace(temporary, self.directory / f"seed-{self.files:06d}.dat")
        else:
            with open(self.directory / "export.dat", "ab") as handle:
                handle.write(records)

    def _record(self, row: dict[str, Any]) -> bytes:
        assert self.layout is not None
        parts = []
        for name, pic, digits, scale in self.layout:
            if digits:
                parts.append(packed(_unscaled(row[name], scale), digits))
            else:
                parts.append(text(_text(row[name]), int(pic[2:-1]), ENCODING))
        return b"".join(parts)


class TestFixedWidthFolder(ConnectorConformance):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> FixedWidthHarness:
        return FixedWidthHarness(tmp_path / "exports", folder=True)


class TestFixedWidthFile(ConnectorConformance):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> FixedWidthHarness:
        harness = FixedWidthHarness(tmp_path / "export", folder=False)
        harness.not_supported = {
            "new_rows_only": "one export file is replaced whole and a new export is read from its "
            "start (a directory of exports delivers only the new files)",
        }
        return harness
