"""Building the SFTP drop-folder sources and sinks from connector settings.

One connector kind per file format, as for local files (`csv` ⇒ `sftp_csv`): each kind
takes the local kind's settings, with `directory` naming the folder on the server, plus
the server settings of `connectors.sftp.session` (host, port, username, password_env,
private_key_env, private_key_path, private_key_passphrase_env, known_hosts,
host_key_fingerprint, timeout_seconds):

    connector          source settings (drop folder)              sink settings
    sftp_csv           directory, pattern, archive_directory,     directory, delimiter
                       settle_seconds + the CSV options
    sftp_jsonl         directory, pattern, archive_directory,     directory
                       settle_seconds
    sftp_avro          (as sftp_jsonl)                            directory, codec
    sftp_parquet       (as sftp_jsonl)                            directory
    sftp_fixed_width   (as sftp_jsonl) + every format setting     -
                       of the local fixed_width connector
                       (connectors.mainframe.fixed_width_settings)

Required: host, username, directory, one of password_env / private_key_env /
private_key_path (and, for sftp_fixed_width, copybook: a local path). Defaults as for
local files; `settle_seconds` 1. Building validates the settings and contacts nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from connectors.files import avro_files, csv_files, jsonl_files, parquet_files
from connectors.files.drop_folder import FileFormat
from connectors.files.kinds import file_format_for, folder_options
from connectors.files.parquet import ParquetSink
from connectors.files.settings import SettingsReader
from connectors.files.sinks import AVRO_CODECS, AvroSink, CsvSink, JsonLinesSink
from connectors.mainframe.fixed_width import check_key_fields
from connectors.mainframe.fixed_width_format import FixedWidthFormat
from connectors.mainframe.fixed_width_settings import FORMAT_SETTINGS, format_options
from connectors.sftp.folder import SftpDropFolderSource
from connectors.sftp.session import SERVER_SETTINGS, SftpSettings
from connectors.sftp.sink import SftpSink

# The local fixed_width connector's format settings, all of them (RDW/BDW conventions,
# policies, segments, copybook_library …): a file read over SFTP is decoded the same way.
_FIXED_WIDTH = ("directory", "pattern", "archive_directory", "settle_seconds", *FORMAT_SETTINGS)
_SOURCE_SETTINGS = {
    "sftp_csv": csv_files.SETTINGS,
    "sftp_jsonl": jsonl_files.SETTINGS,
    "sftp_avro": avro_files.SETTINGS,
    "sftp_parquet": parquet_files.SETTINGS,
    "sftp_fixed_width": _FIXED_WIDTH,
}
_SINK_SETTINGS = {
    "sftp_csv": ("directory", "delimiter"),
    "sftp_jsonl": ("directory",),
    "sftp_avro": ("directory", "codec"),
    "sftp_parquet": ("directory",),
}
SFTP_SOURCES = tuple(_SOURCE_SETTINGS)
SFTP_SINKS = tuple(_SINK_SETTINGS)


def make_sftp_source(settings: Mapping[str, Any], *, key_fields: Sequence[str] = ()) -> SftpDropFolderSource:
    """An `SftpDropFolderSource` for `sftp_*` settings (see the module doc).

    Every record of each new file is delivered: key fields do not select rows (for
    sftp_fixed_width they must be fields of the copybook).
    """
    connector = str(settings.get("connector"))
    reader = SettingsReader(settings, connector, (*SERVER_SETTINGS, *_SOURCE_SETTINGS[connector]))
    server = SftpSettings.from_settings(reader, settings)
    file_format: FileFormat
    if connector == "sftp_fixed_width":
        file_format = _fixed_width(reader, settings, key_fields)
    else:
        file_format = file_format_for(connector.removeprefix("sftp_"), reader)
    return SftpDropFolderSource(
        file_format,
        server,
        reader.text("directory"),
        **folder_options(reader),
    )


def make_sftp_sink(settings: Mapping[str, Any]) -> SftpSink:
    """An `SftpSink` writing the file the matching local sink would (see the module doc)."""
    connector = str(settings.get("connector"))
    reader = SettingsReader(settings, connector, (*SERVER_SETTINGS, *_SINK_SETTINGS[connector]))
    server = SftpSettings.from_settings(reader, settings)
    directory = reader.text("directory")
    if connector == "sftp_csv":
        delimiter = reader.char("delimiter", ",") or ","
        CsvSink(".", delimiter=delimiter)  # refuses a bad delimiter now, not at the first write
        return SftpSink(server, directory, lambda folder: CsvSink(folder, delimiter=delimiter))
    if connector == "sftp_jsonl":
        return SftpSink(server, directory, JsonLinesSink)
    if connector == "sftp_avro":
        codec = reader.choice("codec", "deflate", AVRO_CODECS)
        return SftpSink(server, directory, lambda folder: AvroSink(folder, codec=codec))
    return SftpSink(server, directory, ParquetSink)


def _fixed_width(
    reader: SettingsReader, settings: Mapping[str, Any], key_fields: Sequence[str]
) -> FixedWidthFormat:
    """The fixed-width format of the settings, read as the local `fixed_width` connector reads them."""
    file_format = FixedWidthFormat(**format_options(reader, settings))
    check_key_fields(file_format, key_fields)
    return file_format
