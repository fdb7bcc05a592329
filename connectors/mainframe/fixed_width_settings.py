"""The `fixed_width` connector's format settings (in a contract's `source:`), read into
the keywords of `FixedWidthFormat`. `FORMAT_SETTINGS` lists them; the local connector adds
`path` or the drop-folder settings, an SFTP drop folder its server settings.

    copybook             the copybook file (required)
    copybook_library     folders where COPY members are looked for (relative: from the
                         copybook's folder; the copybook's own folder is always first)
    copybook_format      auto (default), fixed or free
    naming               leaf (default) or path
    encoding             cp037 (default) … (connectors.mainframe.code_pages.ENCODINGS)
    record_format        fixed (default), rdw, vb, text, odo
    record_length        fixed records longer than the copybook
    rdw_endianness       big (default) or little
    rdw_includes_header  true (default, IBM) or false: the RDW's length counts the RDW itself
    rdw_adjustment       a number of bytes added to every RDW length (default 0)
    bdw_endianness, bdw_includes_header, bdw_adjustment   the same for VB block descriptors
    file_header_bytes    bytes to skip at the start of each file (default 0)
    file_footer_bytes    bytes to skip at the end of each file (default 0)
    on_bad_value         reject (default), null or zero
    on_blank_number      null (default), zero or reject
    on_short_record      reject (default), null or keep
    field_policies       {field: {on_bad_value: …, on_blank_number: …}}
    text_trim            right (default), both, left or none
    float_format         ibm (default), ibm_little_endian, ieee754, ieee754_little_endian
    odo_storage          actual (default) or maximum
    segments             see connectors.mainframe.segments

Policies and their defaults are explained in `connectors.mainframe.decode_options`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.files.settings import SettingsReader
from connectors.mainframe.code_pages import ENCODINGS
from connectors.mainframe.copybook import NAMINGS
from connectors.mainframe.copybook_text import FORMS
from connectors.mainframe.decode_options import (
    BAD_VALUE_POLICIES,
    BLANK_POLICIES,
    FLOAT_FORMATS,
    ODO_STORAGES,
    SHORT_POLICIES,
    TRIMS,
    DecodeOptions,
    FieldPolicy,
)
from connectors.mainframe.fixed_width_format import RECORD_FORMATS
from connectors.mainframe.record_framing import RdwConvention
from govbus.errors import BadConfiguration

FORMAT_SETTINGS = (
    "copybook", "copybook_library", "copybook_format", "naming", "encoding", "record_format",
    "record_length", "rdw_endianness", "rdw_includes_header", "rdw_adjustment", "bdw_endianness",
    "bdw_includes_header", "bdw_adjustment", "file_header_bytes", "file_footer_bytes", "on_bad_value",
    "on_blank_number", "on_short_record", "field_policies", "text_trim", "float_format", "odo_storage",
    "segments",
)  # fmt: skip
_POLICY_KEYS = {"on_bad_value", "on_blank_number"}


def format_options(reader: SettingsReader, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The keywords of `FixedWidthFormat` for these settings (every one checked)."""
    library = reader.texts("copybook_library", ())
    policy = FieldPolicy(
        reader.choice("on_bad_value", "reject", BAD_VALUE_POLICIES),
        reader.choice("on_blank_number", "null", BLANK_POLICIES),
    )
    return {
        "copybook": reader.text("copybook"),
        "copybook_library": library or (),
        "copybook_format": reader.choice("copybook_format", "auto", FORMS),
        "naming": reader.choice("naming", "leaf", NAMINGS),
        "encoding": reader.choice("encoding", "cp037", ENCODINGS),
        "record_format": reader.choice("record_format", "fixed", RECORD_FORMATS),
        "record_length": settings.get("record_length"),
        "rdw": _convention(reader, settings, "rdw"),
        "bdw": _convention(reader, settings, "bdw"),
        "file_header_bytes": _whole(settings, "file_header_bytes"),
        "file_footer_bytes": _whole(settings, "file_footer_bytes"),
        "options": DecodeOptions(
            policy=policy,
            field_policies=_field_policies(settings.get("field_policies"), policy),
            short_record=reader.choice("on_short_record", "reject", SHORT_POLICIES),
            text_trim=reader.choice("text_trim", "right", TRIMS),
            float_format=reader.choice("float_format", "ibm", FLOAT_FORMATS),
            odo_storage=reader.choice("odo_storage", "actual", ODO_STORAGES),
        ),
        "segments": settings.get("segments"),
    }


def _convention(reader: SettingsReader, settings: Mapping[str, Any], word: str) -> RdwConvention:
    adjustment = settings.get(f"{word}_adjustment", 0)
    if isinstance(adjustment, bool) or not isinstance(adjustment, int) or abs(adjustment) > 0xFFFF:
        raise BadConfiguration("must be a whole number of bytes", where=f"{word}_adjustment")
    return RdwConvention(
        big_endian=reader.choice(f"{word}_endianness", "big", ("big", "little")) == "big",
        includes_header=reader.flag(f"{word}_includes_header", True),
        adjustment=adjustment,
    )


def _whole(settings: Mapping[str, Any], name: str) -> int:
    value = settings.get(name, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadConfiguration("must be a whole number of bytes", where=name)
    return value


def _field_policies(value: Any, default: FieldPolicy) -> dict[str, FieldPolicy]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise BadConfiguration("must map field names to policies", where="field_policies")
    policies = {}
    for name, policy in value.items():
        where = f"field_policies.{name}"
        if not isinstance(policy, Mapping) or not set(policy) <= _POLICY_KEYS:
            raise BadConfiguration(f"must be a mapping of {', '.join(sorted(_POLICY_KEYS))}", where=where)
        bad = policy.get("on_bad_value", default.bad_value)
        blank = policy.get("on_blank_number", default.blank)
        if bad not in BAD_VALUE_POLICIES or blank not in BLANK_POLICIES:
            bads, blanks = " | ".join(BAD_VALUE_POLICIES), " | ".join(BLANK_POLICIES)
            raise BadConfiguration(f"must be on_bad_value: {bads}; on_blank_number: {blanks}", where=where)
        policies[str(name)] = FieldPolicy(bad, blank)
    return policies
