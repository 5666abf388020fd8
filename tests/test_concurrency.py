"""Retries, duplicates, parallel uploads and parallel commits against the real server process."""
from __future__ import annotations

import concurrent.futures
import uuid

import httpx
import pytest

from tests.support.client import SyncClient
from tests.support.photos import make_jpeg, manifest, seal, sequence_form
from tests.support.server import ServerProcess
from tests.support.waiting import wait_for


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    process = ServerProcess(tmp_path_factory.mktemp("concurrency") / "data", CLINPHOTO_UPLOAD_EXPIRY_SECONDS="2")
    process.start()
    yield process
    process.stop()


def _client(server) -> SyncClient:
    client = SyncClient(httpx.Client(base_url=server.url, timeout=30))
    assert client.enroll(server.enrollment_code()).status_code == 201
    return client


def _batch(client: SyncClient, count: int):
    public, kid = client.seal_key()
    sequence_id = str(uuid.uuid4())
    photos = [seal(make_jpeg(640, 480, seed=i), public, kid, sequence_id) for i in range(count)]
    return manifest(client.device_id or "", [sequence_form(sequence_id)], photos, seal_key=(public, kid)), photos


def test_parallel_uploads_of_one_batch_are_all_filed(server):
    client = _client(server)
    doc, photos = _batch(client, 12)
    client.propose(doc)
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda p: client.upload(doc["batch_id"], p.photo_id, p.sealed, 16 * 1024), photos))
    assert [a.status_code for a in answers] == [204] * 12
    assert client.commit(doc["batch_id"]).json()["receipt"]["photo_count"] == 12


def test_the_same_photo_uploaded_twice_at_once_is_filed_once(server):
    client = _client(server)
    doc, photos = _batch(client, 1)
    client.propose(doc)
    photo = photos[0]
    locations = [client.create_upload(doc["batch_id"], photo.photo_id, len(photo.sealed)).headers["location"]
                 for _ in range(2)]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda loc: client.patch(loc, 0, photo.sealed), locations))
    assert [a.status_code for a in answers] == [204, 204]
    signed = client.commit(doc["batch_id"]).json()
    assert [p["photo_id"] for p in signed["receipt"]["photos"]] == [photo.photo_id]


def test_parallel_commits_of_one_batch_yield_one_receipt(server):
    client = _client(server)
    doc, photos = _batch(client, 2)
    client.propose(doc)
    for p in photos:
        client.upload(doc["batch_id"], p.photo_id, p.sealed)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: client.commit(doc["batch_id"]), range(4)))
    codes = sorted(a.status_code for a in answers)
    assert codes == [200, 409, 409, 409]
    winner = next(a.json() for a in answers if a.status_code == 200)
    assert client.receipt(doc["batch_id"]).json() == winner


def test_parallel_proposals_of_the_same_manifest_are_idempotent(server):
    client = _client(server)
    doc, _ = _batch(client, 3)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        codes = sorted(a.status_code for a in pool.map(lambda _: client.propose(doc), range(4)))
    assert codes == [200, 200, 200, 201]


def test_an_upload_expires_and_says_so(server):
    client = _client(server)
    doc, photos = _batch(client, 1)
    client.propose(doc)
    created = client.create_upload(doc["batch_id"], photos[0].photo_id, len(photos[0].sealed))
    assert "upload-expires" in created.headers
    wait_for(lambda: client.head(created.headers["location"]).status_code == 410, timeout=15,
             what="the upload to expire (2 s)")
    answer = client.patch(created.headers["location"], 0, photos[0].sealed)
    assert answer.status_code == 410 and answer.json()["error"]["code"] == "upload_expired"
    assert client.upload(doc["batch_id"], photos[0].photo_id, photos[0].sealed).status_code == 204
