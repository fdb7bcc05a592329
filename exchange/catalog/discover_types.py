"""The Avro type of a sampled column, for `govbus discover --source` (`discover_files`).

Three sources of a type, in order of trust:

* a copybook's picture (`copybook_type`): PIC X(n) → string of at most n characters;
  PIC 9 without decimals → int up to 9 digits, long up to 18; else decimal(p,s);
* an Arrow type a typed format carries (`arrow_type`: Parquet, Avro, JSON's numbers,
  lists and objects), mapped as `govbus.avro_arrow`'s table read backwards;
* text (`text_type`: CSV fields, JSON strings), typed by what every sampled value looks
  like, the narrowest type the conform step converts all of them to exactly:
  `true`/`false` → boolean; whole numbers → int or long, except digits with a leading
  zero or in a column named like an identifier or code (kept as text: a number would
  drop the zeros); decimals → decimal(p,s) just wide enough (noted: widen it);
  exponents → double; `YYYY-MM-DD` → date; ISO 8601 instants → timestamp-micros (with
  an offset on every value) or local-timestamp-micros (none: noted); times of day →
  time-micros; UUIDs → uuid; anything else string.

What a person must review goes into `notes`, one line each.
"""

from __future__ import annotations

import re
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["SUBJECT_NAMES", "arrow_type", "copybook_type", "pascal", "text_type"]

_IDENTIFYING = re.compile(r"(^|_)(id|code|number|no|nr|phone|postal|zip|postcode|iban|account)($|_)", re.I)
_INSTANT = r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]{1,9})?)?"
_TEXT_RULES = (
    ("boolean", r"(?i)^(true|false)$"),
    ("integer", r"^[+-]?[0-9]+$"),
    ("decimal", r"^[+-]?([0-9]+\.[0-9]*|\.[0-9]+)$"),
    ("double", r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)[eE][+-]?[0-9]+$"),
    ("date", r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"),
    ("zoned", rf"^{_INSTANT}([Zz]|[+-][0-9]{{2}}(:?[0-9]{{2}})?)$"),
    ("local", rf"^{_INSTANT}$"),
    ("time", r"^[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?$"),
    ("uuid", r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$"),
)  # fmt: skip
_DECIMAL = {"type": "bytes", "logicalType": "decimal"}


def copybook_type(laid: Any) -> tuple[Any, int | None, str]:
    """(Avro type, most characters, the picture in words) of a copybook's `LayoutField`.

    The type is the one the fixed-width reader gives the column (`LayoutField.arrow_type`:
    text, IBM or IEEE floats, whole numbers that fit 64 bits, else decimals, with P
    scaling counted), so a draft never disagrees with what the source delivers.
    """
    picture = getattr(laid, "picture", "") or ""
    if laid.kind == "text":
        return "string", laid.length, picture or f"PIC X({laid.length})"
    if not picture:
        picture = f"PIC {'S' if laid.signed else ''}9({laid.digits - laid.scale})" + (
            f"V9({laid.scale})" if laid.scale else ""
        )
    kind = laid.arrow_type
    if pa.types.is_floating(kind):
        return ("float" if kind.bit_width <= 32 else "double"), None, picture
    if pa.types.is_integer(kind):
        return ("int" if laid.precision <= 9 else "long"), None, picture
    return {**_DECIMAL, "precision": kind.precision, "scale": kind.scale}, None, picture


def arrow_type(kind: pa.DataType, name: str, notes: list[str]) -> Any:
    """The Avro type of a typed column (Parquet, Avro, JSON's numbers, lists and objects)."""
    t = pa.types
    if t.is_null(kind) or t.is_string(kind) or t.is_large_string(kind):
        return "string"
    if t.is_boolean(kind):
        return "boolean"
    if t.is_integer(kind):
        if t.is_uint64(kind):
            notes.append("unsigned 64-bit integers: decimal(20,0) holds them all")
            return {**_DECIMAL, "precision": 20, "scale": 0}
        return (
            "int" if kind.bit_width < 32 or (kind.bit_width == 32 and t.is_signed_integer(kind)) else "long"
        )
    if t.is_floating(kind):
        return "float" if kind.bit_width <= 32 else "double"
    if t.is_decimal(kind):
        return {**_DECIMAL, "precision": kind.precision, "scale": kind.scale}
    if t.is_date(kind):
        return {"type": "int", "logicalType": "date"}
    if t.is_time(kind):
        logical = "time-millis" if kind.unit in ("s", "ms") else "time-micros"
        return {"type": "int" if logical == "time-millis" else "long", "logicalType": logical}
    if t.is_timestamp(kind):
        unit = {"s": "millis", "ms": "millis", "us": "micros", "ns": "nanos"}[kind.unit]
        if kind.tz is None:
            notes.append(
                "a timestamp without a zone: local-timestamp; make it timestamp if the files hold UTC"
            )
        return {"type": "long", "logicalType": f"{'' if kind.tz else 'local-'}timestamp-{unit}"}
    if t.is_fixed_size_binary(kind):
        return {"type": "fixed", "name": f"{pascal(name)}Bytes", "size": kind.byte_width}
    if t.is_binary(kind) or t.is_large_binary(kind):
        return "bytes"
    if t.is_dictionary(kind):
        return arrow_type(kind.value_type, name, notes)
    if t.is_list(kind) or t.is_large_list(kind):
        item = arrow_type(kind.value_type, f"{name}_item", notes)
        return {"type": "array", "items": ["null", item] if kind.value_field.nullable else item}
    if t.is_map(kind):
        return {"type": "map", "values": ["null", arrow_type(kind.item_type, name, notes)]}
    if t.is_struct(kind):
        fields = [
            {
                "name": child.name,
                "type": ["null", arrow_type(child.type, child.name, notes)],
                "default": None,
            }
            for child in kind
        ]
        return {"type": "record", "name": pascal(name), "fields": fields}
    notes.append(f"the {kind} values have no Avro type: drafted as string")
    return "string"


def text_type(name: str, values: pa.ChunkedArray, notes: list[str]) -> Any:
    """The narrowest Avro type every sampled text value converts to exactly (module doc)."""
    text = pc.utf8_trim_whitespace(values.combine_chunks().drop_null())
    text = text.filter(pc.not_equal(text, ""))
    if not len(text):
        return "string"
    kind = next(
        (k for k, rule in _TEXT_RULES if pc.all(pc.match_substring_regex(text, rule)).as_py()), "string"
    )
    if kind == "integer":
        leading_zero = pc.any(pc.match_substring_regex(text, r"^[+-]?0[0-9]")).as_py()
        if leading_zero or _IDENTIFYING.search(name) or name.lower() in SUBJECT_NAMES:
            notes.append("digits only, but an identifier or code (or with leading zeros): kept as text")
            return "string"
        widest = max(abs(int(v)) for v in pc.unique(text).to_pylist())
        if widest < 2**31:
            return "int"
        if widest < 2**63:
            return "long"
        return {**_DECIMAL, "precision": len(str(widest)), "scale": 0}
    if kind == "decimal":
        parts = [v.lstrip("+-").split(".") for v in pc.unique(text).to_pylist()]
        scale = max(len(fraction) for _, fraction in parts)
        digits = max(len(whole.lstrip("0")) for whole, _ in parts) + scale
        precision = max(digits, scale, 1)
        if precision > 38:
            notes.append("more than 38 digits: kept as text")
            return "string"
        notes.append(f"decimal({precision},{scale}) holds the sample exactly; widen it to the values' range")
        return {**_DECIMAL, "precision": precision, "scale": scale}
    simple: dict[str, Any] = {
        "boolean": "boolean",
        "double": "double",
        "date": {"type": "int", "logicalType": "date"},
        "zoned": {"type": "long", "logicalType": "timestamp-micros"},
        "local": {"type": "long", "logicalType": "local-timestamp-micros"},
        "time": {"type": "long", "logicalType": "time-micros"},
        "uuid": {"type": "string", "logicalType": "uuid"},
        "string": "string",
    }
    if kind == "local":
        notes.append("instants without an offset: local-timestamp; make it timestamp if the files hold UTC")
    return simple[kind]


SUBJECT_NAMES = frozenset({"national_id", "person_id", "citizen_id", "ssn", "personal_number"})


def pascal(name: str) -> str:
    """`events_2024` → `Events2024`: an Avro record name (prefixed `R` if it would start with a digit)."""
    text = "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name) if part)
    return text if text[:1].isalpha() else f"R{text}"
