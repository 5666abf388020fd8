"""Every kind of bad input: a stable code, the right 4xx, an audit entry, nothing stored, never a 500."""
from __future__ import annotations

import io
import json
import struct
import uuid
import zlib
from typing import Any, Callable

import pytest
from PIL import Image

from sync_server.clock import FixedClock, use_clock, utc_now

from tests.conftest import Batch
from tests.conftest import both_backends
from tests.support.client import SyncClient
from tests.support.photos import make_jpeg, make_png, manifest, seal, sequence_form


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """Every test here runs on the embedded SQLite and on a real PostgreSQL."""
    return both_backends(request)


def refused(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    if response.request.method != "HEAD":
        assert response.json()["error"]["code"] == code
        assert response.json()["error"]["message"]


def audited(call: Callable[..., Any], services: Any, code: str) -> dict[str, Any]:
    rows = call(services.store.fetch_all, "SELECT * FROM audit_entry ORDER BY seq DESC")
    for row in rows:
        if json.loads(row["detail"]).get("code") == code:
            assert row["outcome"] == "4"
            return row
    raise AssertionError(f"no audit entry for {code}")


def nothing_stored(call: Callable[..., Any], services: Any, settings: Any, photo_id: str) -> None:
    assert not list(settings.objects_dir.rglob(f"{photo_id}*"))
    assert not list(settings.uploads_dir.glob("*.part"))
    state = call(services.store.fetch_val, "SELECT state FROM photo WHERE id = :id", {"id": photo_id})
    assert state in (None, "expected")


def single_photo_batch(device: SyncClient, plaintext: bytes, mime: str = "image/jpeg", **entry: Any) -> tuple[dict, Any]:
    public, kid = device.seal_key()
    sequence_id = str(uuid.uuid4())
    photo = seal(plaintext, public, kid, sequence_id, mime=mime)
    doc = manifest(device.device_id or "", [sequence_form(sequence_id)], [photo], seal_key=(public, kid))
    doc["photos"][0].update(entry)
    return doc, photo


def upload_refused(device, call, services, settings, plaintext: bytes, code: str, status: int = 422,
                   mime: str = "image/jpeg", **entry: Any) -> None:
    doc, photo = single_photo_batch(device, plaintext, mime, **entry)
    assert device.propose(doc).status_code == 201
    refused(device.upload(doc["batch_id"], photo.photo_id, photo.sealed), status, code)
    audited(call, services, code)
    nothing_stored(call, services, settings, photo.photo_id)
    refused(device.commit(doc["batch_id"]), 409, "batch_incomplete")


def test_wrong_sealed_hash_is_refused(device, call, services, settings):
    upload_refused(device, call, services, settings, make_jpeg(), "sealed_hash_mismatch", sealed_sha256="ab" * 32)


def test_wrong_plaintext_hash_is_refused(device, call, services, settings):
    upload_refused(device, call, services, settings, make_jpeg(), "plaintext_hash_mismatch", sha256="cd" * 32)


def test_truncated_blob_is_refused_at_creation(device, call, services, settings, batch_of):
    batch = batch_of(1)
    device.propose(batch.manifest)
    photo = batch.photos[0]
    refused(device.create_upload(batch.batch_id, photo.photo_id, len(photo.sealed) - 100), 409, "sealed_size_mismatch")
    audited(call, services, "sealed_size_mismatch")
    nothing_stored(call, services, settings, photo.photo_id)


def test_truncated_blob_described_as_such_does_not_open(device, call, services, settings):
    public, kid = device.seal_key()
    sequence_id = str(uuid.uuid4())
    photo = seal(make_jpeg(), public, kid, sequence_id)
    photo.sealed = photo.sealed[:-200]
    doc = manifest(device.device_id or "", [sequence_form(sequence_id)], [photo], seal_key=(public, kid))
    device.propose(doc)
    refused(device.upload(doc["batch_id"], photo.photo_id, photo.sealed), 422, "seal_invalid")
    audited(call, services, "seal_invalid")
    nothing_stored(call, services, settings, photo.photo_id)


def test_a_blob_sealed_for_another_photo_is_refused(device, call, services, settings):
    public, kid = device.seal_key()
    sequence_id = str(uuid.uuid4())
    genuine = seal(make_jpeg(), public, kid, sequence_id)
    impostor_id = str(uuid.uuid4())
    doc = manifest(device.device_id or "", [sequence_form(sequence_id)], [genuine], seal_key=(public, kid))
    doc["photos"][0]["photo_id"] = impostor_id  # same bytes and hashes, replayed under another photo id
    device.propose(doc)
    refused(device.upload(doc["batch_id"], impostor_id, genuine.sealed), 422, "seal_wrong_photo")
    audited(call, services, "seal_wrong_photo")
    nothing_stored(call, services, settings, impostor_id)


def test_not_an_image_is_refused(device, call, services, settings):
    upload_refused(device, call, services, settings, b"%PDF-1.7 not a photo" * 50, "image_unsupported")


def test_a_pixel_bomb_is_refused_from_its_header(device, call, services, settings):
    jpeg = bytearray(make_jpeg(64, 64))
    sof = jpeg.find(b"\xff\xc0")
    struct.pack_into(">HH", jpeg, sof + 5, 60000, 60000)  # height, width: 3.6 gigapixels
    upload_refused(device, call, services, settings, bytes(jpeg), "image_too_large")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def test_a_png_decompression_bomb_is_refused(device, call, services, settings):
    png = make_png()
    bomb = _png_chunk(b"zTXt", b"comment\x00\x00" + zlib.compress(b"\x00" * (64 * 1024 * 1024), 9))
    crafted = png[:33] + bomb + png[33:]  # after the 8-byte signature and the 25-byte IHDR chunk
    upload_refused(device, call, services, settings, crafted, "image_decompression_bomb", mime="image/png")


def test_a_png_declaring_huge_dimensions_is_refused(device, call, services, settings):
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    png = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")
    upload_refused(device, call, services, settings, png, "image_too_large", mime="image/png")


def test_an_image_with_gps_exif_is_refused(device, call, services, settings):
    upload_refused(device, call, services, settings, make_jpeg(gps=True), "image_location_metadata")


def test_a_manifest_over_the_size_limit_is_refused(device, call, services):
    refused(device.http.post("/api/v1/batches", content=b"{" + b" " * (300 * 1024) + b"}",
                             headers={**device.auth, "Content-Type": "application/json"}), 413, "body_too_large")
    audited(call, services, "body_too_large")


def test_an_upload_over_the_size_limit_is_refused(device, batch_of, call, services):
    batch = batch_of(1)
    device.propose(batch.manifest)
    refused(device.create_upload(batch.batch_id, batch.photos[0].photo_id, 9 * 1024 * 1024), 413, "upload_too_large")
    audited(call, services, "upload_too_large")


def test_a_patch_running_past_the_declared_length_is_refused(device, batch_of, call, services, settings):
    batch = batch_of(1)
    photo = batch.photos[0]
    device.propose(batch.manifest)
    location = device.create_upload(batch.batch_id, photo.photo_id, len(photo.sealed)).headers["location"]
    refused(device.patch(location, 0, photo.sealed + b"extra"), 413, "upload_overflow")
    audited(call, services, "upload_overflow")
    assert int(device.head(location).headers["upload-offset"]) == 0


def test_malformed_json_is_refused(device, call, services):
    refused(device.http.post("/api/v1/batches", content=b'{"batch_id": ',
                             headers={**device.auth, "Content-Type": "application/json"}), 400, "malformed_json")
    audited(call, services, "malformed_json")


def test_a_schema_invalid_manifest_is_refused_without_echoing_values(device, batch_of, call, services):
    batch = batch_of(1)
    batch.manifest["photos"][0]["sha256"] = "IPP-SECRET-PATIENT"
    answer = device.propose(batch.manifest)
    refused(answer, 422, "schema_invalid")
    assert "IPP-SECRET-PATIENT" not in answer.text
    audited(call, services, "schema_invalid")


@pytest.mark.parametrize("bad_id", ["../../etc/passwd", "A" * 5000, "5D2B1A3C-0000-4000-8000-000000000001", ""])
def test_path_traversal_or_absurd_ids_in_a_manifest_are_refused(device, batch_of, call, services, bad_id):
    batch = batch_of(1)
    batch.manifest["batch_id"] = bad_id
    refused(device.propose(batch.manifest), 400, "invalid_id")
    audited(call, services, "invalid_id")


def test_path_traversal_in_urls_and_upload_metadata_is_refused(device, batch_of, call, services):
    refused(device.http.get("/api/v1/batches/..%2F..%2Fetc%2Fpasswd", headers=device.auth), 404, "not_found")
    refused(device.http.get("/api/v1/batches/%2E%2E", headers=device.auth), 400, "invalid_id")
    refused(device.http.post("/api/v1/batches/not-a-uuid/commit", headers=device.auth), 400, "invalid_id")
    audited(call, services, "invalid_id")
    batch = batch_of(1)
    device.propose(batch.manifest)
    refused(device.create_upload(batch.batch_id, "../../../x", 10), 400, "invalid_id")
    refused(device.head("/api/v1/uploads/..%2F..%2Fclinphoto.db"), 404, "not_found")


def test_unknown_missing_and_malformed_credentials_are_refused(http, call, services):
    for headers in ({}, {"Authorization": "Bearer cpd_5d2b1a3c-0000-4000-8000-000000000001_nope"},
                    {"Authorization": "Basic dXNlcjpwYXNz"}):
        answer = http.post("/api/v1/batches", json={}, headers=headers)
        refused(answer, 401, "device_unauthenticated")
        assert "clear-site-data" not in answer.headers
    audited(call, services, "device_unauthenticated")


def test_a_revoked_device_is_refused_and_told_to_wipe(device, batch_of, call, services):
    from sync_server.auth.devices import revoke
    assert call(revoke, services.store, device.device_id)
    answer = device.propose(batch_of(1).manifest)
    refused(answer, 401, "device_revoked")
    assert answer.headers["clear-site-data"] == '"storage"'
    audited(call, services, "device_revoked")


def test_a_reused_enrolment_code_is_refused(http, new_code, call, services):
    code = new_code()
    assert SyncClient(http).enroll(code).status_code == 201
    refused(SyncClient(http).enroll(code), 400, "enrollment_code_invalid")
    row = audited(call, services, "enrollment_code_invalid")
    assert json.loads(row["detail"])["reason"] == "already_used"


def test_an_expired_enrolment_code_is_refused(http, new_code, call, services):
    with use_clock(FixedClock(utc_now())) as clock:  # the server's clock, moved on instead of waited for
        code = new_code(ttl=1)
        clock.advance(2)
        refused(SyncClient(http).enroll(code), 400, "enrollment_code_invalid")
    assert json.loads(audited(call, services, "enrollment_code_invalid")["detail"])["reason"] == "expired"


def test_enrolment_guessing_is_throttled(http, call, services):
    answers = [SyncClient(http).enroll("AAAA-BBBB-CCCC").status_code for _ in range(12)]
    assert answers[:10] == [400] * 10 and answers[10:] == [429, 429]
    audited(call, services, "enrollment_throttled")


def test_commit_with_missing_blobs_is_refused_and_names_them(device, batch_of, call, services):
    batch = batch_of(2)
    device.propose(batch.manifest)
    device.upload(batch.batch_id, batch.photos[0].photo_id, batch.photos[0].sealed)
    answer = device.commit(batch.batch_id)
    refused(answer, 409, "batch_incomplete")
    assert answer.json()["error"]["details"]["missing"] == [batch.photos[1].photo_id]
    audited(call, services, "batch_incomplete")


def test_commit_twice_is_refused_and_points_to_the_receipt(device, batch_of, call, services):
    batch = batch_of(1)
    device.propose(batch.manifest)
    device.upload(batch.batch_id, batch.photos[0].photo_id, batch.photos[0].sealed)
    assert device.commit(batch.batch_id).status_code == 200
    refused(device.commit(batch.batch_id), 409, "batch_already_committed")
    audited(call, services, "batch_already_committed")


def test_a_batch_id_reused_with_another_manifest_is_refused(device, batch_of, call, services):
    batch = batch_of(1)
    device.propose(batch.manifest)
    other = batch_of(1)
    other.manifest["batch_id"] = batch.batch_id
    refused(device.propose(other.manifest), 409, "batch_conflict")
    audited(call, services, "batch_conflict")


def test_tus_offset_mismatch_is_refused_and_keeps_the_bytes(device, batch_of, call, services):
    batch = batch_of(1)
    photo = batch.photos[0]
    device.propose(batch.manifest)
    location = device.create_upload(batch.batch_id, photo.photo_id, len(photo.sealed)).headers["location"]
    device.patch(location, 0, photo.sealed[:1000])
    answer = device.patch(location, 500, photo.sealed[500:2000])
    refused(answer, 409, "upload_offset_mismatch")
    assert answer.headers["tus-resumable"] == "1.0.0"
    audited(call, services, "upload_offset_mismatch")
    assert int(device.head(location).headers["upload-offset"]) == 1000


def test_tus_checksum_mismatch_discards_the_chunk(device, batch_of, call, services):
    batch = batch_of(1)
    photo = batch.photos[0]
    device.propose(batch.manifest)
    location = device.create_upload(batch.batch_id, photo.photo_id, len(photo.sealed)).headers["location"]
    headers = {"Tus-Resumable": "1.0.0", **device.auth, "Upload-Offset": "0",
               "Content-Type": "application/offset+octet-stream",
               "Upload-Checksum": "sha256 " + "A" * 43 + "="}
    refused(device.http.patch(location, content=photo.sealed[:1000], headers=headers), 460, "upload_checksum_mismatch")
    audited(call, services, "upload_checksum_mismatch")
    assert int(device.head(location).headers["upload-offset"]) == 0


def test_tus_requests_without_the_protocol_version_are_refused(device):
    refused(device.http.post("/api/v1/uploads", headers={**device.auth, "Upload-Length": "10"}), 412,
            "tus_version_unsupported")


def _quarantined(device, call, services, plaintext: bytes) -> str:
    doc, photo = single_photo_batch(device, plaintext)
    device.propose(doc)
    assert device.upload(doc["batch_id"], photo.photo_id, photo.sealed).status_code == 204  # filed: nothing lost
    call(services.decoder.wait_idle)
    row = call(services.store.fetch_one, "SELECT state, quarantine_reason FROM photo WHERE id = :id",
               {"id": photo.photo_id})
    assert row["state"] == "quarantined", row
    assert not call(services.store.fetch_all, "SELECT * FROM rendition WHERE photo_id = :id", {"id": photo.photo_id})
    entry = call(services.store.fetch_one, "SELECT * FROM audit_entry WHERE action = 'photo.quarantine' "
                 "AND object = :o", {"o": f"photo/{photo.photo_id}"})
    assert entry is not None and entry["outcome"] == "8"
    key = f"{photo.photo_id[:2]}/{photo.photo_id[2:4]}/{photo.photo_id}.original"
    assert services.objects.get(key, services.keys.keks) == plaintext  # kept bit-exact
    assert device.commit(doc["batch_id"]).status_code == 200  # the hospital holds it: the receipt may say so
    return photo.photo_id


def test_a_truncated_jpeg_is_filed_then_quarantined(device, call, services):
    jpeg = make_jpeg(640, 480, seed=3)
    _quarantined(device, call, services, jpeg[: int(len(jpeg) * 0.7)])


@pytest.mark.parametrize("damage", ["zeros", "garbage"])
def test_a_jpeg_corrupted_in_its_middle_is_filed_then_quarantined(device, call, services, damage):
    import random
    jpeg = bytearray(make_jpeg(640, 480, seed=4))
    rng = random.Random(7)
    middle = len(jpeg) // 2
    if damage == "zeros":  # a zeroed block, as a failing flash write leaves: Pillow decodes it without a word
        jpeg[middle:middle + 2048] = bytes(2048)
        Image.open(io.BytesIO(bytes(jpeg))).load()
    else:
        jpeg[middle:middle + 2048] = bytes(rng.randrange(255) for _ in range(2048))
    _quarantined(device, call, services, bytes(jpeg))


def _png(width: int, height: int, rows: int | None = None, bad_crc: bytes | None = None) -> bytes:
    """A PNG with valid chunk structure: ``rows`` of pixel data only (a complete zlib stream, short of the
    height), or a wrong CRC on the chunk of type ``bad_crc`` with its data intact."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) ^ (0xFFFFFFFF if kind == bad_crc else 0)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)
    raw = b"".join(b"\x00" + bytes((x * 7 + y) % 256 for x in range(width * 3)) for y in range(rows or height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"tEXt", b"Comment\x00taken on the ward") + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("damage", ["short pixel data", "IDAT crc", "tEXt crc", "IEND crc"])
def test_a_damaged_png_is_filed_then_quarantined_as_strictly_as_a_jpeg(device, call, services, damage):
    png = {"short pixel data": lambda: _png(64, 64, rows=40), "IDAT crc": lambda: _png(64, 64, bad_crc=b"IDAT"),
           "tEXt crc": lambda: _png(64, 64, bad_crc=b"tEXt"), "IEND crc": lambda: _png(64, 64, bad_crc=b"IEND")}[damage]()
    doc, photo = single_photo_batch(device, png, mime="image/png")
    device.propose(doc)
    uploaded = device.upload(doc["batch_id"], photo.photo_id, photo.sealed)
    if uploaded.status_code == 422:  # refused from its header (a chunk before the pixels): stricter still
        assert damage == "tEXt crc" and uploaded.json()["error"]["code"] == "image_unsupported"
        return
    assert uploaded.status_code == 204  # filed: nothing lost
    call(services.decoder.wait_idle)
    row = call(services.store.fetch_one, "SELECT state, quarantine_reason FROM photo WHERE id = :id",
               {"id": photo.photo_id})
    assert row["state"] == "quarantined", (damage, dict(row))
    assert not call(services.store.fetch_all, "SELECT * FROM rendition WHERE photo_id = :id", {"id": photo.photo_id})


def test_a_sound_png_is_verified(device, call, services):
    doc, photo = single_photo_batch(device, _png(64, 64), mime="image/png")
    device.propose(doc)
    assert device.upload(doc["batch_id"], photo.photo_id, photo.sealed).status_code == 204
    call(services.decoder.wait_idle)
    assert call(services.store.fetch_val, "SELECT state FROM photo WHERE id = :id", {"id": photo.photo_id}) == "verified"


def test_no_bad_input_ever_yields_a_500(device, http):
    probes = [
        ("POST", "/api/v1/batches", {"content": b"\xff\xfe", "headers": {"Content-Type": "application/json"}}),
        ("POST", "/api/v1/batches", {"content": b"[]", "headers": {"Content-Type": "text/plain"}}),
        ("POST", "/api/v1/batches", {"json": {"batch_id": None}}),
        ("POST", "/api/v1/uploads", {"headers": {"Tus-Resumable": "1.0.0", "Upload-Length": "-1"}}),
        ("POST", "/api/v1/uploads", {"headers": {"Tus-Resumable": "1.0.0", "Upload-Length": "10",
                                                  "Upload-Metadata": "batch_id !!!"}}),
        ("PATCH", "/api/v1/uploads/" + "0" * 32, {"headers": {"Tus-Resumable": "1.0.0", "Upload-Offset": "x",
                                                            "Content-Type": "application/offset+octet-stream"}}),
        ("GET", "/api/v1/nope", {}),
        ("DELETE", "/api/v1/batches", {}),
        ("POST", "/api/v1/devices/enroll", {"json": {"code": 12}}),
        ("POST", "/api/v1/devices/enroll", {"content": b"nope", "headers": {"Content-Type": "application/json"}}),
    ]
    for method, path, kwargs in probes:
        headers = {**device.auth, **kwargs.pop("headers", {})}
        answer = http.request(method, path, headers=headers, **kwargs)
        assert 400 <= answer.status_code < 500, (method, path, answer.status_code, answer.text)
        assert answer.json()["error"]["code"]
