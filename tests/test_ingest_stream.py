"""Ingest in one pass: a photo is verified and encrypted at rest as its bytes arrive.

Whatever way the bytes come (one PATCH, many small ones, a stream given up and rebuilt from the
part file), the photo is filed bit-exact; the image header is checked on the first bytes kept
when they suffice and on the whole photo when they do not; a refusal leaves nothing staged.
The full decode waits while photos arrive, within a bound.
"""
from __future__ import annotations

import io
import struct
import uuid
from typing import Any

import pytest
from PIL import Image, PngImagePlugin

from sync_server.errors import ApiError
from sync_server.ingest import decoder as decoder_module
from sync_server.ingest import service as ingest_service
from sync_server.ingest.images import HEADER_PREFIX, NeedsWholeImage, inspect_header
from sync_server.storage.objects import ObjectStore
from tests.support.photos import make_jpeg, make_png, manifest, seal, sequence_form
from tests.support.waiting import decoder_idle, wait_for


def with_big_header(jpeg: bytes, size: int = HEADER_PREFIX + 50_000) -> bytes:
    """The JPEG with comment segments (COM) right after SOI: its EXIF lands past the first ``size`` bytes."""
    segments = b""
    while len(segments) < size:
        text = b"c" * 65_000
        segments += b"\xff\xfe" + struct.pack(">H", len(text) + 2) + text
    return jpeg[:2] + segments + jpeg[2:]


def send(device: Any, plaintext: bytes, chunk_size: int = 1 << 20) -> tuple[dict[str, Any], Any, Any]:
    public, kid = device.seal_key()
    sequence_id = str(uuid.uuid4())
    photo = seal(plaintext, public, kid, sequence_id)
    doc = manifest(device.device_id or "", [sequence_form(sequence_id)], [photo], seal_key=(public, kid))
    assert device.propose(doc).status_code == 201
    return doc, photo, device.upload(doc["batch_id"], photo.photo_id, photo.sealed, chunk_size=chunk_size)


def stored(services: Any, photo_id: str) -> bytes:
    return services.objects.get(ObjectStore.key_for(photo_id, "original"), services.keys.keks)


def staged(settings: Any) -> list[Any]:
    return list((settings.objects_dir / ".staging").glob("*"))


def test_a_photo_sent_in_many_small_patches_is_filed_bit_exact(device, services, settings):
    jpeg = make_jpeg(640, 480, seed=11)
    doc, photo, answer = send(device, jpeg, chunk_size=7_001)
    assert answer.status_code == 204
    assert stored(services, photo.photo_id) == jpeg
    assert device.commit(doc["batch_id"]).status_code == 200
    assert staged(settings) == []


def test_an_upload_whose_stream_was_given_up_is_rebuilt_from_its_part_file(device, services, settings, monkeypatch):
    monkeypatch.setattr(ingest_service, "SUSPENDED_STREAMS", 0)  # every paused upload loses its stream
    jpeg = make_jpeg(640, 480, seed=12)
    doc, photo, answer = send(device, jpeg, chunk_size=10_000)
    assert answer.status_code == 204
    assert stored(services, photo.photo_id) == jpeg
    assert staged(settings) == []


def test_a_header_longer_than_the_prefix_is_checked_on_the_whole_photo(device, services, settings):
    jpeg = with_big_header(make_jpeg(640, 480, seed=13))
    doc, photo, answer = send(device, jpeg)
    assert answer.status_code == 204
    assert stored(services, photo.photo_id) == jpeg
    assert staged(settings) == []


def test_location_metadata_past_the_prefix_is_still_refused(device, services, settings, call):
    jpeg = with_big_header(make_jpeg(640, 480, seed=14, gps=True))
    with pytest.raises(NeedsWholeImage):
        inspect_header(jpeg[:HEADER_PREFIX], 40_000_000, size=len(jpeg))
    doc, photo, answer = send(device, jpeg)
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "image_location_metadata"
    assert not list(settings.objects_dir.rglob(f"{photo.photo_id}*"))
    assert staged(settings) == []
    state = call(services.store.fetch_val, "SELECT state FROM photo WHERE id = :id", {"id": photo.photo_id})
    assert state == "expected"


def _png_with_text() -> bytes:
    out = io.BytesIO()
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "x" * 30_000, zip=True)
    Image.new("RGB", (64, 64), (1, 2, 3)).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


@pytest.mark.parametrize("image", [
    make_jpeg(320, 240, seed=1), make_jpeg(320, 240, seed=2, gps=True), with_big_header(make_jpeg(320, 240, seed=3)),
    with_big_header(make_jpeg(320, 240, seed=4, gps=True)), make_png(), _png_with_text(),
    b"not an image at all" * 100,
], ids=["jpeg", "jpeg-gps", "jpeg-big-header", "jpeg-big-header-gps", "png", "png-text", "garbage"])
@pytest.mark.parametrize("prefix", [16, 1000, 20_000, HEADER_PREFIX])
def test_the_header_check_on_a_prefix_agrees_with_the_whole_or_asks_for_it(image, prefix):
    def outcome(data: bytes, size: int | None = None) -> Any:
        try:
            return inspect_header(data, 40_000_000, size=size)
        except ApiError as error:
            return error.code
    whole = outcome(image)
    try:
        assert outcome(image[:prefix], size=len(image)) == whole
    except NeedsWholeImage:
        assert prefix < len(image)


def photo_state(call: Any, services: Any, photo_id: str) -> str:
    return call(services.store.fetch_val, "SELECT state FROM photo WHERE id = :id", {"id": photo_id})


def test_decoding_waits_while_photos_arrive_then_catches_up(device, call, services, monkeypatch):
    monkeypatch.setattr(decoder_module, "QUIET_SECONDS", 0.2)
    call(services.sync._count_streaming, +1)  # another device is in the middle of an upload
    doc, photo, answer = send(device, make_jpeg(320, 240, seed=21))
    assert answer.status_code == 204
    # the checker has taken the photo from its queue and, another upload streaming, holds it back
    wait_for(lambda: services.decoder._queue.empty() and photo.photo_id in services.decoder._pending, timeout=10,
             what="the decode checker to take the photo")
    assert photo_state(call, services, photo.photo_id) == "filed"
    call(services.sync._count_streaming, -1)
    decoder_idle(call, services)
    assert photo_state(call, services, photo.photo_id) == "verified"


def test_a_photo_waits_for_quiet_no_longer_than_the_limit(device, call, services, monkeypatch):
    monkeypatch.setattr(decoder_module, "MAX_DEFER_SECONDS", 0.5)
    call(services.sync._count_streaming, +1)  # uploads that never stop
    try:
        doc, photo, answer = send(device, make_jpeg(320, 240, seed=22))
        decoder_idle(call, services, timeout=10)  # the limit is 0.5 s: fails, not hangs, if it is not kept
        assert photo_state(call, services, photo.photo_id) == "verified"
    finally:
        call(services.sync._count_streaming, -1)


def test_a_jpeg_holding_several_pictures_is_refused_as_unsupported():
    first, second = Image.new("RGB", (64, 48), (10, 20, 30)), Image.new("RGB", (64, 48), (30, 20, 10))
    out = io.BytesIO()
    first.save(out, format="MPO", save_all=True, append_images=[second])
    with pytest.raises(ApiError) as refused:
        inspect_header(out.getvalue(), 40_000_000)
    assert refused.value.code == "image_unsupported"


def _chunks_swapped(blob: bytes) -> bytes:
    from crypto.seal import CHUNK_CT_SIZE, WRAPPED_LEN, parse_seal_header

    start = parse_seal_header(blob).length + WRAPPED_LEN
    first, second = blob[start:start + CHUNK_CT_SIZE], blob[start + CHUNK_CT_SIZE:start + 2 * CHUNK_CT_SIZE]
    return blob[:start] + second + first + blob[start + 2 * CHUNK_CT_SIZE:]


def _cut_at_a_chunk_boundary(blob: bytes) -> bytes:
    from crypto.seal import CHUNK_CT_SIZE, WRAPPED_LEN, parse_seal_header

    return blob[: parse_seal_header(blob).length + WRAPPED_LEN + 2 * CHUNK_CT_SIZE]


@pytest.mark.parametrize("damage", [_chunks_swapped, _cut_at_a_chunk_boundary], ids=["swapped", "cut"])
@pytest.mark.parametrize("chunk_size", [1 << 20, 7_001])
def test_a_seal_with_chunks_moved_or_cut_is_refused_with_nothing_staged(device, call, services, settings, damage,
                                                                      chunk_size):
    # the manifest describes the damaged bytes, so only the seal itself can catch it
    public, kid = device.seal_key()
    sequence_id = str(uuid.uuid4())
    photo = seal(make_jpeg(1600, 1200, seed=21), public, kid, sequence_id)
    assert len(photo.plaintext) > 3 * (64 << 10)
    photo.sealed = damage(photo.sealed)
    doc = manifest(device.device_id or "", [sequence_form(sequence_id)], [photo], seal_key=(public, kid))
    assert device.propose(doc).status_code == 201
    answer = device.upload(doc["batch_id"], photo.photo_id, photo.sealed, chunk_size=chunk_size)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "seal_invalid"
    assert staged(settings) == []
    assert not services.objects.exists(ObjectStore.key_for(photo.photo_id, "original"))
    state = call(services.store.fetch_val, "SELECT state FROM photo WHERE id = :id", {"id": photo.photo_id})
    assert state == "expected"
