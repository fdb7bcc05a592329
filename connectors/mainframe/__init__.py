"""Mainframe exports: COBOL copybooks, EBCDIC code pages, record formats and the source.

What a caller must know (docs/mainframe.md has the tables):

* `copybook` parses a copybook as IBM's compiler reads it (`copybook_text`: reference
  format, continuation; `copybook_copy`: COPY … REPLACING; `copybook_items`: clauses;
  `copybook_picture`: PICTURE, USAGE, SIGN) into a `record_layout.RecordLayout`.
* `record_decode.decode_records` decodes a matrix of records on whole columns
  (`ebcdic_decode` per field, `decode_decimal` and `decode_binary` per kind,
  `record_odo` for OCCURS DEPENDING ON, `record_verdict` for which records are rejected);
  `decode_options` holds the per-file and per-field policies, `segments` the segment map.
* `fixed_width_format.FixedWidthFormat` frames files (`record_framing`: fixed, RDW in
  any convention, VB, text, OCCURS DEPENDING ON) and decodes them in bounded chunks;
  `fixed_width.FixedWidthSource` reads one file resumably; the connector's settings are
  read by `fixed_width_settings`.
* Code pages are IBM's tables byte for byte (`code_pages`, `code_page_tables`).

Other parts import these names through `connectors`' `__init__`.
"""

from __future__ import annotations

__all__: list[str] = []
