"""RestSink and signed manifests: every body is listed by its SHA-256, the manifest POSTed as is."""

from __future__ import annotations

import base64
import hashlib

import pyarrow as pa
import pytest

from connectors import DeliveryManifest, ManifestStore, make_sink
from govbus.errors import BadConfiguration
from tests.connectors.rest.test_rest_http import FAST, ApiServer, Reply, Seen, reply

SCHEMA = pa.schema([pa.field("id", pa.int64()), pa.field("name", pa.string())])
MANIFEST = DeliveryManifest(
    batch_id="b-1",
    key_id="0123456789abcdef",
    data=b'{"batch_id":"b-1","manifest":"govbus-delivery-manifest/1"}',
    signature=bytes(range(64)),
    public_key_pem=b"-----BEGIN PUBLIC KEY-----\n",
    names=("b-1.manifest.json", "b-1.manifest.sig", "govbus-signing-0123456789abcdef.pub.pem"),
)


def _accept(request: Seen) -> Reply:
    return reply({"status": "applied"}, 201)


def _sink(url: str, **extra: object) -> ManifestStore:
    made = make_sink(
        {"connector": "rest", "url": f"{url}/ingest", **FAST, **extra}, key_fields=[], schema=SCHEMA
    )
    assert isinstance(made, ManifestStore)
    return made


def test_each_body_is_listed_and_the_manifest_is_posted_with_its_signature() -> None:
    with ApiServer(_accept) as api:
        sink = _sink(api.url, manifest_url=f"{api.url}/manifests", max_records=2)
        receipt = sink.write("b-1", pa.table({"id": [1, 2, 3], "name": ["a", "é", None]}, schema=SCHEMA))  # type: ignore[attr-defined]
        where = sink.write_manifest(MANIFEST)
        sink.close()  # type: ignore[attr-defined]
    bodies = [s for s in api.seen if s.path == "/ingest"]
    assert receipt.files == tuple(
        (f"{s.headers['idempotency-key']}.json", hashlib.sha256(s.body).hexdigest()) for s in bodies
    )
    assert [name for name, _ in receipt.files] == ["b-1.0.json", "b-1.1.json"]
    [posted] = [s for s in api.seen if s.path == "/manifests"]
    assert posted.body == MANIFEST.data  # the exact signed bytes
    assert base64.b64decode(posted.headers["x-govbus-signature"]) == MANIFEST.signature
    assert posted.headers["x-govbus-key-id"] == MANIFEST.key_id
    assert posted.headers["idempotency-key"] == "b-1.manifest"
    assert where == f"{api.url}/manifests"


def test_without_manifest_url_nothing_is_sent() -> None:
    with ApiServer(_accept) as api:
        sink = _sink(api.url)
        assert sink.write_manifest(MANIFEST) == ""
    assert api.seen == []


@pytest.mark.parametrize("url", ["ftp://example.org/m", "https://user:pw@example.org/m", "manifests"])
def test_a_manifest_url_that_is_not_plain_http_is_refused(url: str) -> None:
    with pytest.raises(BadConfiguration) as caught:
        make_sink(
            {"connector": "rest", "url": "https://example.org/in", "manifest_url": url},
            key_fields=[],
            schema=SCHEMA,
        )
    assert caught.value.where == "manifest_url"
    assert "pw" not in str(caught.value)
