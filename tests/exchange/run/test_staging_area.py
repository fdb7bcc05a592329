"""Stages on shared storage: `GOVBUS_STAGING_URL` puts the staged segments at any fsspec
location. Tested over a real network file system (SFTP, the asyncssh server on 127.0.0.1
that the connector tests use), an S3-compatible object store (moto's S3 server, over
HTTP, through s3fs) and a shared folder: a worker stages there, a *second* bus (as
another machine's worker would) delivers from there, commit deletes them, and nothing is
staged locally.
"""

from __future__ import annotations

import dataclasses
import os
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
        segments = sorted((server.root / "stages").rglob("seg-*.arrow"))
        assert len(segments) == report.segments  # on the shared storage...
        assert not any((govbus_home / "staging").rglob("seg-*"))  # ...and not locally
    finally:
        stager.close()

    worker = Bus.open(settings)  # another worker: it only shares the state DB and the storage
    try:
        delivered = worker.deliver(TAX, "benefits.tax-income")
        assert delivered.rows_delivered == report.rows_staged
        worker.run([TAX])  # the other deliveries, then commit
    finally:
        worker.close()
    assert not any((server.root / "stages").rglob("seg-*.arrow"))  # commit deleted them
    good = {r["return_id"] for r in source_rows(govbus_home)}
    assert {r["return_id"] for r in benefits_rows(govbus_home)} <= good
    assert len(benefits_rows(govbus_home)) == report.rows_staged


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto's S3 server on a free port of 127.0.0.1, with a bucket `govbus-stages`.

    s3fs finds it the way it finds MinIO or Ceph RGW in production: AWS_ENDPOINT_URL_S3
    and the AWS_* credentials (moto takes any).
    """
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for name, value in {
        "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_ACCESS_KEY_ID": "govbus-test",
        "AWS_SECRET_ACCESS_KEY": "govbus-test-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_MAX_ATTEMPTS": "1",
    }.items():
        monkeypatch.setenv(name, value)
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()  # built with another endpoint by an earlier test
    s3fs.S3FileSystem().makedirs("govbus-stages", exist_ok=True)  # moto's state is per process
    try:
        yield endpoint
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
        server.stop()


def _objects(prefix: str) -> list[str]:
    import s3fs

    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    return [p for p in fs.find(prefix) if p.endswith(".arrow")] if fs.exists(prefix) else []


def test_stages_on_an_s3_store_are_delivered_by_another_worker(govbus_home: Path, s3_endpoint: str) -> None:
    settings = dataclasses.replace(Settings.from_env(), staging_url="s3://govbus-stages/prod")
    stager = Bus.open(settings)
    try:
        demo.seed(stager, rows=300)
        report = stager.stage(TAX)
        staged = [p for p in _objects("govbus-stages/prod") if "/seg-" in p]
        assert len(staged) == report.segments > 0  # in the bucket...
        assert not any((govbus_home / "staging").rglob("seg-*"))  # ...and not locally
    finally:
        stager.close()
    worker = Bus.open(settings)  # another worker: it shares only the state DB and the bucket
    try:
        assert worker.deliver(TAX, "benefits.tax-income").rows_delivered == report.rows_staged
        worker.run([TAX])  # the other deliveries, then commit
    finally:
        worker.close()
    assert not [p for p in _objects("govbus-stages/prod") if report.stage_id and report.stage_id in p]
    assert len(benefits_rows(govbus_home)) == report.rows_staged
    good = {r["return_id"] for r in source_rows(govbus_home)}
    assert {r["return_id"] for r in benefits_rows(govbus_home)} <= good


def test_stages_in_a_shared_folder_are_delivered_by_another_worker(govbus_home: Path, tmp_path: Path) -> None:
    shared = tmp_path / "nfs-mount" / "stages"  # what every worker mounts at the same path
    settings = dataclasses.replace(Settings.from_env(), staging_url=f"file://{shared}")
    stager = Bus.open(settings)
    try:
        demo.seed(stager, rows=200)
        report = stager.stage(TAX)
    finally:
        stager.close()
    assert len(list(shared.rglob("seg-*.arrow"))) == report.segments > 0
    worker = Bus.open(settings)
    try:
        worker.run([TAX])
    finally:
        worker.close()
    assert not list(shared.rglob("seg-*.arrow"))
    assert len(benefits_rows(govbus_home)) == report.rows_staged


def test_an_unreachable_s3_store_is_a_transient_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import s3fs

    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "govbus-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", os.urandom(8).hex())
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    s3fs.S3FileSystem.clear_instance_cache()
    try:
        area = StagingArea("s3://govbus-stages/prod", tmp_path)
        with pytest.raises(TransientError) as error:
            area.write_segment("s1", 0, pa.table({"a": [1]}))
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
    assert "s3://govbus-stages/prod" in str(error.value)
    assert "GOVBUS_STAGING_URL" in error.value.where


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
    assert (tmp_path / "staging" / "s1" / "seg-00003.arrow").is_file()
    assert area.read_segment("s1", 3).column("a").to_pylist() == [1, 2]
    area.discard("s1")
    area.discard("s1")  # absent is fine
    assert not (tmp_path / "staging" / "s1").exists()
