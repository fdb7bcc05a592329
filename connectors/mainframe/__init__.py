"""Mainframe exports: COBOL copybooks, EBCDIC code pages, record framing and the
fixed-width source (zoned, packed-decimal and binary fields).
"""

from __future__ import annotations

__all__: list[str] = []
