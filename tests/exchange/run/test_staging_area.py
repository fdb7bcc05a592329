"""Stages on shared storage: `GOVBUS_STAGING_URL` puts the staged segments at any fsspec
location. Tested over a real network file system (SFTP, the asyncssh server on 127.0.0.1
that the connector tests use): a worker stages there, a *second* bus (as another machine's
worker would) delivers from there, commit deletes them, and nothing is staged locally.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from exchange import Bus
from exchange.demo import deployment as demo
from exchange.run.staging import StagingArea, redact
from exchange.state.settings import Settings
from govbus.errors import BadConfiguration, TransientError
from tests.connectors.sftp.sftp_server import SftpTestServer
from tests.e2e.helpers import benefits_rows, source_rows

TAX = "tax.income"


@pytest.fixture
def sftp_root(tmp_path: Path) -> Iterator[tuple[SftpTestServer, str]]:
    (tmp_path / "shared-storage").mkdir()
    with SftpTestServer(tmp_path / "shared-storage") as server:
        (server.root / "stages").mkdir(parents=True)
        url = f"sftp://{server.username}:{server.password}@{server.host}:{server.port}/stages"
        yield server, url


def test_stages_on_shared_storage_are_delivered_by_another_worker(
    govbus_home: Path, sftp_root: tuple[SftpTestServer, str]
) -> None:
    server, url = sftp_root
    settings = dataclasses.replace(Settings.from_env(), staging_url=url)
    stager = Bus.open(settings)
    try:
        demo.seed(stager, rows=300)
        report = stager.stage(TAX)
        assert report.segments > 0
        segments = sorted((server.root / "stages").rglob("seg-*.parquet"))
        assert len(segments) == report.segments  # on the shared storage...
        assert not any((govbus_home / "staging").rglob("*.parquet"))  # ...and not locally
    finally:
        stager.close()

    worker = Bus.open(settings)  # another worker: it only shares the state DB and the storage
    try:
        delivered = worker.deliver(TAX, "benefits.tax-income")
        assert delivered.rows_delivered == report.rows_staged
        worker.run([TAX])  # the other deliveries, then commit
    finally:
        worker.close()
    assert not any((server.root / "stages").rglob("seg-*.parquet"))  # commit deleted them
    good = {r["return_id"] for r in source_rows(govbus_home)}
    assert {r["return_id"] for r in benefits_rows(govbus_home)} <= good
    assert len(benefits_rows(govbus_home)) == report.rows_staged


def test_an_unreachable_location_is_a_transient_error_without_the_password(tmp_path: Path) -> None:
    with pytest.raises(TransientError) as error:  # fsspec's SFTP connects when opened
        StagingArea("sftp://agency:S3cret-pw@127.0.0.1:1/stages", tmp_path)
    assert "S3cret-pw" not in f"{error.value} {error.value.hint}"
    assert "127.0.0.1" in str(error.value)


def test_an_unknown_protocol_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(BadConfiguration) as error:
        StagingArea("nosuchfs://bucket/stages", tmp_path)
    assert "GOVBUS_STAGING_URL" in error.value.where


def test_urls_are_shown_without_credentials() -> None:
    assert redact("sftp://u:p@host:22/x") == "sftp://***@host:22/x"
    assert redact("s3://bucket/x") == "s3://bucket/x"


def test_the_default_is_the_local_staging_folder(tmp_path: Path) -> None:
    area = StagingArea("", tmp_path / "staging")
    area.write_segment("s1", 3, pa.table({"a": [1, 2]}))
    assert (tmp_path / "staging" / "s1" / "seg-00003.parquet").is_file()
    assert area.read_segment("s1", 3).column("a").to_pylist() == [1, 2]
    area.discard("s1")
    area.discard("s1")  # absent is fine
    assert not (tmp_path / "staging" / "s1").exists()
