"""Building the drop-folder file sources and the file sinks from connector settings.

    connector  source settings (drop folder)                   sink settings
    csv        directory, pattern, archive_directory,          directory, delimiter
               settle_seconds, encoding, delimiter, quote_char,
               escape_char, header, columns, null_values,
               newlines_in_values
    jsonl      directory, pattern, archive_directory,          directory
               settle_seconds
    avro       (as jsonl)                                      directory, codec
    parquet    (as jsonl; `path` instead reads one file by     directory (ParquetSink)
               cursor field, see connectors.files.parquet)

Every source also takes the limits of `connectors.files.bounds` (`max_field_bytes`,
`max_depth`, `max_file_bytes`, and `max_line_bytes` for csv and jsonl); a local drop
folder takes `allow_hard_links` (false: a hard-linked file is reported, not read).

Only `directory` is required. Defaults: `pattern` `*.<csv|jsonl|avro|parquet>`, no
archive (consumed files stay, listed in the cursor), `settle_seconds` 1, CSV as
`connectors.files.csv_files.CsvOptions` says. Errors name the setting and list the known ones.
A drop-folder source delivers every record of each new file: the contract's key and
cursor fields do not select rows here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.base import Sink
from connectors.files import avro_files, csv_files, jsonl_files, parquet_files
from connectors.files.avro_files import AvroFormat
from connectors.files.bounds import BINARY_LIMIT_SETTINGS, Limits
from connectors.files.csv_files import CsvFormat, CsvOptions
from connectors.files.drop_folder import DropFolderSource, FileFormat
from connectors.files.jsonl_files import JsonLinesFormat
from connectors.files.parquet_files import ParquetFormat
from connectors.files.settings import SettingsReader
from connectors.files.sinks import AVRO_CODECS, AvroSink, CsvSink, JsonLinesSink

FILE_CONNECTORS = ("avro", "csv", "jsonl")
_SOURCE_SETTINGS = {
    "csv": csv_files.SETTINGS,
    "jsonl": jsonl_files.SETTINGS,
    "avro": avro_files.SETTINGS,
    "parquet": parquet_files.SETTINGS,
}
_SINK_SETTINGS = {"csv": ("directory", "delimiter"), "jsonl": ("directory",), "avro": ("directory", "codec")}


def is_drop_folder(settings: Mapping[str, Any]) -> bool:
    """Do these settings ask for a drop-folder source (csv, jsonl, avro, parquet by directory)?"""
    connector = settings.get("connector")
    return connector in FILE_CONNECTORS or (
        connector == "parquet" and "directory" in settings and "path" not in settings
    )


def file_format_for(kind: str, reader: SettingsReader) -> FileFormat:
    """How files of `kind` (csv, jsonl, avro, parquet) are read, from the source's settings.

    Local and SFTP drop folders both take their reader from here (SFTP kinds drop the
    `sftp_` prefix), so a format's options mean the same wherever its files lie.
    """
    if kind == "csv":
        return CsvFormat(CsvOptions.from_settings(reader), Limits.from_settings(reader))
    if kind == "jsonl":
        return JsonLinesFormat(Limits.from_settings(reader))
    if kind == "avro":
        return AvroFormat(Limits.from_settings(reader, BINARY_LIMIT_SETTINGS))
    return ParquetFormat(Limits.from_settings(reader, BINARY_LIMIT_SETTINGS))


def make_file_source(settings: Mapping[str, Any]) -> DropFolderSource:
    """A `DropFolderSource` for csv / jsonl / avro / parquet settings (see the module doc)."""
    connector = str(settings.get("connector"))
    reader = SettingsReader(settings, connector, (*_SOURCE_SETTINGS[connector], "allow_hard_links"))
    return DropFolderSource(
        file_format_for(connector, reader),
        reader.text("directory"),
        allow_hard_links=reader.flag("allow_hard_links", False),
        **folder_options(reader),
    )


def folder_options(reader: SettingsReader) -> dict[str, Any]:
    """`pattern`, `archive_directory` and `settle_seconds` of a drop folder, as keyword
    arguments of its source.

    Local and SFTP drop folders both read them here, so their defaults and bounds cannot
    drift apart.
    """
    return {
        "pattern": reader.optional_text("pattern"),
        "archive_directory": reader.optional_text("archive_directory"),
        "settle_seconds": reader.number("settle_seconds", 1.0, minimum=0, maximum=3600),
    }


def make_file_sink(settings: Mapping[str, Any]) -> Sink:
    """A `CsvSink`, `JsonLinesSink` or `AvroSink` for the settings (see the module doc)."""
    connector = str(settings.get("connector"))
    reader = SettingsReader(settings, connector, _SINK_SETTINGS[connector])
    directory = reader.text("directory")
    if connector == "csv":
        return CsvSink(directory, delimiter=reader.char("delimiter", ",") or ",")
    if connector == "jsonl":
        return JsonLinesSink(directory)
    return AvroSink(directory, codec=reader.choice("codec", "deflate", AVRO_CODECS))
