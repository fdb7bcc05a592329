"""How values that do not decode, blank numbers and short records are treated, and the
other per-file decoding choices (text trimming, float format, OCCURS storage, segments).

Defaults (what a contract gets without saying anything):

* `on_bad_value: reject` — a field whose bytes are not a value of its PIC (a bad packed
  digit, a zoned byte that is not a digit, a binary value beyond the PIC digits …) rejects
  the record: it is quarantined whole, with the reason and its raw bytes. `null` makes
  the field null and keeps the record; `zero` makes it 0 (text: "") and keeps the record.
  Either way the bad bytes are lost for that field: keep `reject` unless the export is
  known to carry junk in some field.
* `on_blank_number: null` — a zoned, packed or edited number whose bytes are all spaces
  is null (the usual mainframe "no value"); `zero` reads it as 0 (what many mainframe
  readers do); `reject` treats it as a bad value. BLANK WHEN ZERO on the item always
  reads it as 0.
* `on_short_record: reject` — a record that ends inside or before a field (a short RDW or
  text line) is rejected; `null` makes every such field null; `keep` keeps what the
  record holds: text its characters present ("" if none), numbers null unless whole.
  Text records (`record_format: text`) read as if padded with spaces, since trailing
  spaces are often cut from text lines.
* `field_policies: {<field>: {on_bad_value: …, on_blank_number: …}}` overrides the first
  two per column.
* `text_trim: right` — trailing spaces and NULs (low-values) are removed from text;
  `both`, `left` or `none` instead.
* `float_format: ibm` — COMP-1/COMP-2 are IBM hexadecimal floating point, big-endian;
  `ibm_little_endian`, `ieee754`, `ieee754_little_endian` for exports converted on the way.
* `odo_storage: actual` — an OCCURS … DEPENDING ON table holds only the occurrences its
  counter says and what follows moves up (what a COBOL program writes); `maximum` for
  exports that always write the full table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from govbus.errors import BadConfiguration

if TYPE_CHECKING:
    from connectors.mainframe.segments import SegmentMap

BAD_VALUE_POLICIES = ("reject", "null", "zero")
BLANK_POLICIES = ("null", "zero", "reject")
SHORT_POLICIES = ("reject", "null", "keep")
TRIMS = ("right", "both", "left", "none")
FLOAT_FORMATS = ("ibm", "ibm_little_endian", "ieee754", "ieee754_little_endian")
ODO_STORAGES = ("actual", "maximum")


@dataclass(frozen=True)
class FieldPolicy:
    """What a field's bad value and its all-space (blank) number become."""

    bad_value: str = "reject"
    blank: str = "null"

    def __post_init__(self) -> None:
        if self.bad_value not in BAD_VALUE_POLICIES:
            raise BadConfiguration(f"must be one of {', '.join(BAD_VALUE_POLICIES)}", where="on_bad_value")
        if self.blank not in BLANK_POLICIES:
            raise BadConfiguration(f"must be one of {', '.join(BLANK_POLICIES)}", where="on_blank_number")


@dataclass(frozen=True)
class DecodeOptions:
    """Every decoding choice of one file format (see the module doc for the defaults)."""

    policy: FieldPolicy = FieldPolicy()
    field_policies: Mapping[str, FieldPolicy] = field(default_factory=dict)
    short_record: str = "reject"
    text_trim: str = "right"
    float_format: str = "ibm"
    odo_storage: str = "actual"
    segments: SegmentMap | None = None

    def __post_init__(self) -> None:
        for name, value, allowed in (
            ("on_short_record", self.short_record, SHORT_POLICIES),
            ("text_trim", self.text_trim, TRIMS),
            ("float_format", self.float_format, FLOAT_FORMATS),
            ("odo_storage", self.odo_storage, ODO_STORAGES),
        ):
            if value not in allowed:
                raise BadConfiguration(f"must be one of {', '.join(allowed)}", where=name)

    def policy_of(self, name: str) -> FieldPolicy:
        """The policy of field `name` (its own, or the file's)."""
        return self.field_policies.get(name, self.policy)


DEFAULT_OPTIONS = DecodeOptions()
