"""The sync protocol end to end: propose, upload over tus, commit, receipt.

Every test runs three ways: in process on the embedded SQLite, in process on a real PostgreSQL, and
on a ward of three ``clinphoto serve`` processes sharing one PostgreSQL and one data folder behind a
real nginx (deploy/nginx.conf, TLS by host name), whose round robin sends each request of a phone to
the next process: an upload is created on one, continued on another, committed on a third. The
in-process server of that last case is a fourth member of the ward that answers no phone; the test
reads the database and the storage through it."""
from __future__ import annotations

import pytest

from pathlib import Path
from typing import Any, Callable, Iterator

from crypto import CryptoError, verify_document
from sync_server.audit.log import verify_chain
from sync_server.settings import Settings
from tests.support.client import SyncClient
from tests.support.waiting import wait_for
from tests.support.ward import Ward


@pytest.fixture(params=["sqlite", "postgresql", "ward"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    return None if request.param == "sqlite" else request.getfixturevalue("pg_database_url")


@pytest.fixture
def wire(request: pytest.FixtureRequest, http: Any, settings: Settings) -> Iterator[Any]:
    """What the phones talk to: the in-process server, or nginx in front of the ward's three processes."""
    if request.node.callspec.params["database_url"] != "ward":
        yield http
        return
    ward = Ward(Path(settings.data_dir), settings.resolved_database_url, CLINPHOTO_MAX_PIXELS=str(settings.max_pixels),
                CLINPHOTO_MAX_BLOB_BYTES=str(settings.max_blob_bytes),
                CLINPHOTO_MAX_JSON_BYTES=str(settings.max_json_bytes))
    try:
        with ward.client(timeout=30) as client:
            yield client
        assert ward.nginx is not None
        answered = ward.nginx.upstreams_used()  # round robin: any three requests in a row reach all three
        if sum(answered.values()) >= 3:
            assert len(answered) == 3, f"nginx did not spread the work: {answered}"
    finally:
        ward.stop()


@pytest.fixture
def device(wire: Any, new_code: Callable[..., str]) -> SyncClient:
    client = SyncClient(wire)
    assert client.enroll(new_code()).status_code == 201
    return client


def _photo_rows(call: Callable[..., Any], services: Any) -> dict[str, dict[str, Any]]:
    rows = call(services.store.fetch_all, "SELECT * FROM photo")
    return {r["id"]: r for r in rows}


def test_a_batch_is_filed_and_the_receipt_names_every_photo_with_its_hashes(device, batch_of, services, call):
    batch = batch_of(3)
    proposed = device.propose(batch.manifest)
    assert proposed.status_code == 201
    assert sorted(proposed.json()["missing"]) == sorted(p.photo_id for p in batch.photos)
    for photo in batch.photos:
        assert device.upload(batch.batch_id, photo.photo_id, photo.sealed, chunk_size=4096).status_code == 204
    committed = device.commit(batch.batch_id)
    assert committed.status_code == 200
    signed = committed.json()
    verify_document(signed["receipt"], signed["signature"], device.sign_keys())
    listed = {p["photo_id"]: p for p in signed["receipt"]["photos"]}
    for photo in batch.photos:
        assert listed[photo.photo_id]["sha256"] == photo.sha256
        assert listed[photo.photo_id]["sealed_sha256"] == photo.sealed_sha256
        stored = services.objects.get(f"{photo.photo_id[:2]}/{photo.photo_id[2:4]}/{photo.photo_id}.original",
                                      services.keys.keks)
        assert stored == photo.plaintext  # bit-exact original
    assert call(verify_chain, services.store).ok


def test_a_tampered_receipt_fails_verification(device, batch_of):
    batch = batch_of(1)
    device.propose(batch.manifest)
    device.upload(batch.batch_id, batch.photos[0].photo_id, batch.photos[0].sealed)
    signed = device.commit(batch.batch_id).json()
    signed["receipt"]["photos"][0]["sha256"] = "0" * 64
    try:
        verify_document(signed["receipt"], signed["signature"], device.sign_keys())
    except CryptoError:
        return
    raise AssertionError("a tampered receipt verified")


def test_proposing_the_same_batch_again_is_harmless_and_reports_what_is_held(device, batch_of):
    batch = batch_of(2)
    assert device.propose(batch.manifest).status_code == 201
    device.upload(batch.batch_id, batch.photos[0].photo_id, batch.photos[0].sealed)
    again = device.propose(batch.manifest)
    assert again.status_code == 200
    assert again.json()["have"] == [batch.photos[0].photo_id]
    assert again.json()["missing"] == [batch.photos[1].photo_id]


def test_a_photo_already_filed_in_an_earlier_batch_is_not_asked_for_again(device, batch_of):
    first = batch_of(1)
    device.propose(first.manifest)
    device.upload(first.batch_id, first.photos[0].photo_id, first.photos[0].sealed)
    retry = dict(first.manifest, batch_id="5d2b1a3c-0000-4000-8000-000000000001")
    answer = device.propose(retry)
    assert answer.status_code == 201
    assert answer.json()["missing"] == [] and answer.json()["have"] == [first.photos[0].photo_id]
    assert device.commit(retry["batch_id"]).status_code == 200


def test_an_interrupted_upload_resumes_at_the_offset_the_server_reports(device, batch_of):
    batch = batch_of(1)
    photo = batch.photos[0]
    device.propose(batch.manifest)
    location = device.create_upload(batch.batch_id, photo.photo_id, len(photo.sealed)).headers["location"]
    half = len(photo.sealed) // 2
    assert device.patch(location, 0, photo.sealed[:half]).status_code == 204
    head = device.head(location)
    assert head.status_code == 200 and int(head.headers["upload-offset"]) == half
    assert head.headers["tus-resumable"] == "1.0.0" and head.headers["cache-control"] == "no-store"
    done = device.patch(location, half, photo.sealed[half:])
    assert done.status_code == 204 and int(done.headers["upload-offset"]) == len(photo.sealed)
    assert device.commit(batch.batch_id).status_code == 200


def test_tus_discovery_advertises_version_extensions_and_checksum(wire):
    answer = wire.options("/api/v1/uploads")
    assert answer.status_code == 204
    assert answer.headers["tus-version"] == "1.0.0"
    assert set(answer.headers["tus-extension"].split(",")) == {"creation", "checksum", "termination", "expiration"}
    assert answer.headers["tus-checksum-algorithm"] == "sha256"
    assert int(answer.headers["tus-max-size"]) > 0


def test_termination_removes_the_upload_and_its_bytes(device, batch_of, settings):
    batch = batch_of(1)
    photo = batch.photos[0]
    device.propose(batch.manifest)
    created = device.create_upload(batch.batch_id, photo.photo_id, len(photo.sealed))
    assert "upload-expires" in created.headers
    location = created.headers["location"]
    device.patch(location, 0, photo.sealed[:100])
    assert device.http.delete(location, headers={"Tus-Resumable": "1.0.0", **device.auth}).status_code == 204
    assert device.head(location).status_code == 410
    assert list(settings.uploads_dir.glob("*.part")) == []


def test_the_decode_worker_verifies_sound_photos_and_makes_metadata_free_renditions(device, batch_of, services, call):
    batch = batch_of(1)
    device.propose(batch.manifest)
    device.upload(batch.batch_id, batch.photos[0].photo_id, batch.photos[0].sealed)
    call(services.decoder.wait_idle)  # on the ward, the process that filed it decodes it
    wait_for(lambda: _photo_rows(call, services)[batch.photos[0].photo_id]["state"] == "verified", 30,
             "the photo to be checked")
    renditions = call(services.store.fetch_all, "SELECT * FROM rendition WHERE photo_id = :p",
                      {"p": batch.photos[0].photo_id})
    assert {r["kind"] for r in renditions} == {"thumbnail", "preview"}
    import io

    from PIL import Image
    for r in renditions:
        data = services.objects.get(r["storage_key"], services.keys.keks)
        with Image.open(io.BytesIO(data)) as image:
            assert not image.getexif() and "icc_profile" not in image.info and "exif" not in image.info


def test_two_devices_sync_at_once_without_mixing_their_batches(wire, new_code):
    from tests.conftest import Batch
    a, b = SyncClient(wire), SyncClient(wire)
    a.enroll(new_code("a"))
    b.enroll(new_code("b"))
    batch_a, batch_b = Batch(a, 2), Batch(b, 2, patient_id="IPP-0043")
    assert a.propose(batch_a.manifest).status_code == 201
    assert b.propose(batch_b.manifest).status_code == 201
    assert b.commit(batch_a.batch_id).status_code == 404  # another device's batch is not visible
    for (client, batch) in ((a, batch_a), (b, batch_b)):
        for p in batch.photos:
            assert client.upload(batch.batch_id, p.photo_id, p.sealed).status_code == 204
    assert a.commit(batch_a.batch_id).json()["receipt"]["photo_count"] == 2
    assert b.commit(batch_b.batch_id).json()["receipt"]["photo_count"] == 2


def test_the_receipt_is_served_again_for_a_device_whose_commit_answer_was_lost(device, batch_of):
    batch = batch_of(1)
    device.propose(batch.manifest)
    device.upload(batch.batch_id, batch.photos[0].photo_id, batch.photos[0].sealed)
    first = device.commit(batch.batch_id).json()
    again = device.receipt(batch.batch_id)
    assert again.status_code == 200 and again.json() == first
