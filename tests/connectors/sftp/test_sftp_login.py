"""SFTP logins against a real SFTP server on 127.0.0.1: keys, refused logins, host keys, errors.

No message may show a password, a key or a passphrase; unknown host keys are refused,
never added; an unreachable server is a transient error naming host:port.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from connectors import SftpDropFolderSource, SftpSink, make_sink, make_source
from govbus.errors import BadConfiguration, GovBusError, TransientError
from tests.connectors.sftp.sftp_server import PASSWORD_ENV, SftpTestServer, stranger_host_key
from tests.connectors.sftp.test_sftp import drop, read_all, source, source_settings


def test_private_keys_log_in_from_the_environment_or_a_file(
    sftp_server: SftpTestServer, sftp_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drop(sftp_folder, "a.csv", [7])
    monkeypatch.setenv("GOVBUS_TEST_SFTP_KEY", sftp_server.ed25519_key)
    by_env = source_settings(sftp_server, sftp_folder, private_key_env="GOVBUS_TEST_SFTP_KEY")
    del by_env["password_env"]
    assert read_all(make_source(by_env, key_fields=(), cursor_field=None), None)[0] == [7]
    key_file = tmp_path / "id_ecdsa"
    key_file.write_text(sftp_server.ecdsa_key)  # PKCS#8 PEM, encrypted
    monkeypatch.setenv("GOVBUS_TEST_SFTP_PASSPHRASE", sftp_server.key_passphrase)
    by_file = {**by_env, "private_key_path": str(key_file)}
    by_file["private_key_passphrase_env"] = "GOVBUS_TEST_SFTP_PASSPHRASE"
    del by_file["private_key_env"]
    assert read_all(make_source(by_file, key_fields=(), cursor_field=None), None)[0] == [7]
    monkeypatch.setenv("GOVBUS_TEST_SFTP_PASSPHRASE", "wrong-passphrase")
    with pytest.raises(BadConfiguration) as error:
        read_all(make_source(by_file, key_fields=(), cursor_field=None), None)
    assert error.value.where == "private_key_path"
    assert "wrong-passphrase" not in str(error.value) and "PRIVATE KEY" not in str(error.value)


def test_a_refused_login_names_the_setting_and_never_the_password(
    sftp_server: SftpTestServer, sftp_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "Wr0ng-passw0rd-value")
    with pytest.raises(BadConfiguration) as error:
        read_all(source(sftp_server, sftp_folder), None)
    assert error.value.where == "password_env"
    shown = f"{error.value} {error.value!r} {error.value.hint}"
    assert "Wr0ng-passw0rd-value" not in shown and sftp_server.password not in shown
    monkeypatch.delenv(PASSWORD_ENV)
    with pytest.raises(BadConfiguration) as error:
        read_all(source(sftp_server, sftp_folder), None)
    assert error.value.where == "password_env" and PASSWORD_ENV in str(error.value)


def test_unknown_or_changed_host_keys_are_refused(
    sftp_server: SftpTestServer, sftp_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drop(sftp_folder, "a.csv", [1])
    pinned = source_settings(sftp_server, sftp_folder)
    del pinned["host_key_fingerprint"]

    def refusal(**trust: str) -> BadConfiguration:
        with pytest.raises(BadConfiguration) as error:
            read_all(make_source({**pinned, **trust}, key_fields=(), cursor_field=None), None)
        return error.value

    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ssh/known_hosts: nothing is trusted
    error = refusal()
    assert error.where == "host_key_fingerprint" and "not trusted" in error.message
    assert not (tmp_path / ".ssh").exists()  # and nothing was added
    other_fingerprint, other_line = stranger_host_key(sftp_server.host, sftp_server.port)
    assert refusal(host_key_fingerprint=other_fingerprint).where == "host_key_fingerprint"
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    assert refusal(known_hosts=str(known_hosts)).where == "known_hosts"
    known_hosts.write_text(sftp_server.known_hosts_line())
    trusted = make_source({**pinned, "known_hosts": str(known_hosts)}, key_fields=(), cursor_field=None)
    assert read_all(trusted, None)[0] == [1]
    known_hosts.write_text(other_line)  # the address known with another key: changed, or an impostor
    error = refusal(known_hosts=str(known_hosts))
    assert error.where == "known_hosts" and "does not match" in error.message


def test_unreachable_or_silent_servers_are_transient_errors_naming_host_and_port(
    sftp_server: SftpTestServer, sftp_folder: Path
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with pytest.raises(TransientError) as error:
        read_all(source(sftp_server, sftp_folder, port=closed_port), None)
    assert f"127.0.0.1:{closed_port}" in str(error.value)
    with socket.socket() as silent:  # accepts connections, never speaks SSH
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(TransientError) as error:
            read_all(source(sftp_server, sftp_folder, port=port, timeout_seconds=0.3), None)
        assert f"127.0.0.1:{port}" in str(error.value) and time.monotonic() - started < 10


def test_a_missing_remote_folder_is_a_configuration_error(
    sftp_server: SftpTestServer, sftp_folder: Path
) -> None:
    with pytest.raises(BadConfiguration) as error:
        read_all(source(sftp_server, sftp_folder, directory=f"/{sftp_folder.name}/absent"), None)
    assert error.value.where == "directory"


def test_settings_are_checked_without_contacting_the_server(tmp_path: Path) -> None:
    base = {"connector": "sftp_csv", "host": "sftp.agency.example", "username": "u", "directory": "in"}
    made = make_source({**base, "password_env": "X"}, key_fields=(), cursor_field=None)
    assert isinstance(made, SftpDropFolderSource)
    for connector in ("sftp_csv", "sftp_jsonl", "sftp_avro", "sftp_parquet"):
        sink = {**base, "connector": connector, "password_env": "X"}
        assert isinstance(make_sink(sink, key_fields=(), schema=pa.schema([])), SftpSink)
    cases: list[tuple[dict[str, Any], str]] = [
        (base, "password_env"),  # no credentials at all
        ({**base, "password_env": "X", "port": 70000}, "port"),
        ({**base, "password_env": "X", "host_key_fingerprint": "MD5:ab:cd"}, "host_key_fingerprint"),
        ({**base, "password_env": "not a variable"}, "password_env"),
        ({**base, "password_env": "X", "password": "hunter2"}, "password"),  # secrets are never settings
        ({**base, "password_env": "X", "delimiter": ";;"}, "delimiter"),
        ({**base, "private_key_env": "K", "host": ""}, "host"),
    ]
    for bad, where in cases:
        with pytest.raises(GovBusError) as error:
            make_source(bad, key_fields=(), cursor_field=None)
        assert isinstance(error.value, BadConfiguration) and error.value.where == where
        assert "hunter2" not in str(error.value)
    with pytest.raises(BadConfiguration) as error:
        make_sink({**base, "password_env": "X", "pattern": "*.csv"}, key_fields=(), schema=pa.schema([]))
    assert error.value.where == "pattern" and "host_key_fingerprint" in (error.value.hint or "")


def test_an_airflow_connection_gives_server_login_and_secret(
    sftp_server: SftpTestServer, sftp_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`conn_id` alone names the server, the login and the password (or extra.private_key)."""
    import json

    drop(sftp_folder, "a.csv", [3, 4])
    settings = source_settings(sftp_server, sftp_folder, conn_id="agency_sftp")
    for name in ("host", "port", "username", "password_env"):
        del settings[name]
    connection = {
        "conn_type": "sftp",
        "host": sftp_server.host,
        "port": sftp_server.port,
        "login": sftp_server.username,
        "password": sftp_server.password,
    }
    monkeypatch.setenv("AIRFLOW_CONN_AGENCY_SFTP", json.dumps(connection))
    assert read_all(make_source(settings, key_fields=(), cursor_field=None), None)[0] == [3, 4]

    by_key = {**connection, "password": None, "extra": {"private_key": sftp_server.ed25519_key}}
    monkeypatch.setenv("AIRFLOW_CONN_AGENCY_SFTP", json.dumps(by_key))
    assert read_all(make_source(settings, key_fields=(), cursor_field=None), None)[0] == [3, 4]

    monkeypatch.setenv("AIRFLOW_CONN_AGENCY_SFTP", json.dumps({**connection, "password": "N0t-the-one"}))
    with pytest.raises(BadConfiguration) as error:
        read_all(make_source(settings, key_fields=(), cursor_field=None), None)
    assert error.value.where == "conn_id" and "N0t-the-one" not in f"{error.value} {error.value.hint}"
    monkeypatch.delenv("AIRFLOW_CONN_AGENCY_SFTP")
    with pytest.raises(BadConfiguration) as error:
        make_source(settings, key_fields=(), cursor_field=None)
    assert "agency_sftp" in str(error.value)
