"""Why a field (or a whole record) did not decode: codes and their reasons.

A decoder returns, per record, a code into `REASONS` (0: decoded). The reasons name the
rule, never the value; `connectors.mainframe.record_verdict` words them into the error
column with the file, byte, record number, field and copybook line.
"""

from __future__ import annotations

OK = 0
NOT_IN_CODE_PAGE = 1
BAD_ZONED_DIGIT = 2
BAD_ZONED_SIGN = 3
BAD_PACKED_DIGIT = 4
BAD_PACKED_SIGN = 5
NEGATIVE_UNSIGNED = 6
TOO_MANY_DIGITS = 7
SHORT_RECORD = 8
BAD_EDITED = 9
BLANK_NUMBER = 10
FLOAT_RANGE = 11
COUNT_OUT_OF_RANGE = 12
UNKNOWN_SEGMENT = 13
REASONS = (
    "",
    "byte not in the code page",
    "bad zoned digit",
    "bad zoned sign",
    "bad packed digit",
    "bad packed sign nibble",
    "negative sign in an unsigned field",
    "value exceeds the PIC digits",
    "the record ends inside the field",
    "bad character in an edited number",
    "blank number (all spaces)",
    "value beyond the range of a single-precision float",
    "OCCURS DEPENDING ON count outside the table's range",
    "segment id not in the segment map",
)
