"""Every supported code page decodes all 256 bytes exactly as IBM's table, checked against
glibc's `iconv -f IBM<page>` (and ASCII / ISO 8859-1) on this machine."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from connectors import decode_records, parse_copybook
from connectors.mainframe.code_pages import EBCDIC_PAGES, ENCODINGS
from connectors.mainframe.decode_options import DecodeOptions

EVERY_BYTE = np.arange(256, dtype=np.uint8).reshape(1, 256)
LAYOUT = parse_copybook("01 R.\n 05 T PIC X(256).")
UNTRIMMED = DecodeOptions(text_trim="none")
ICONV_NAMES = {"ascii": "ASCII", "latin1": "ISO-8859-1", **{p: "IBM" + p[2:] for p in EBCDIC_PAGES}}

needs_iconv = pytest.mark.skipif(shutil.which("iconv") is None, reason="no iconv on this machine")


def iconv(encoding: str, data: bytes) -> str:
    done = subprocess.run(
        ["iconv", "-f", ICONV_NAMES[encoding], "-t", "UTF-8"], input=data, capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"this iconv does not know {ICONV_NAMES[encoding]}")
    return done.stdout.decode("utf-8")


@needs_iconv
@pytest.mark.parametrize("encoding", [*EBCDIC_PAGES, "latin1"])
def test_all_256_bytes_equal_iconv(encoding: str) -> None:
    decoded = decode_records(EVERY_BYTE, LAYOUT, encoding, options=UNTRIMMED).column("t")[0].as_py()
    expected = iconv(encoding, bytes(range(256)))
    differences = [hex(b) for b in range(256) if decoded[b] != expected[b]]
    assert decoded == expected, f"{encoding} differs from IBM's table at {differences}"


@needs_iconv
def test_ascii_is_the_first_half_and_rejects_the_second() -> None:
    low = EVERY_BYTE[:, :128]
    layout = parse_copybook("01 R.\n 05 T PIC X(128).")
    assert decode_records(low, layout, "ascii", options=UNTRIMMED).column("t")[0].as_py() == iconv(
        "ascii", bytes(range(128))
    )
    high = decode_records(np.full((1, 128), 0x80, dtype=np.uint8), layout, "ascii")
    assert high.column("_govbus_source_error")[0].as_py().endswith("byte not in the code page")


def test_cp273_is_ibms_table_not_pythons_codec() -> None:
    """Python's cp273 codec has OVERLINE at 0xBC; IBM (and glibc) have MACRON."""
    layout = parse_copybook("01 R.\n 05 T PIC X.")
    value = decode_records(np.array([[0xBC]], dtype=np.uint8), layout, "cp273").column("t")[0].as_py()
    assert value == "\u00af" and bytes([0xBC]).decode("cp273") == "\u203e"


def test_every_page_is_listed_and_keeps_the_invariant_characters() -> None:
    assert set(ENCODINGS) == {*EBCDIC_PAGES, "ascii", "latin1"}
    digits_and_letters = np.frombuffer(bytes(range(0xF0, 0xFA)) + bytes(range(0xC1, 0xCA)), np.uint8)
    layout = parse_copybook("01 R.\n 05 T PIC X(19).")
    for page in EBCDIC_PAGES:
        row = decode_records(digits_and_letters.reshape(1, -1), layout, page).column("t")[0].as_py()
        assert row == "0123456789ABCDEFGHI", page
