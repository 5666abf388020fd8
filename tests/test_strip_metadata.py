"""Nothing identifying leaves the server: camera metadata is removed losslessly from outbound JPEGs."""
from __future__ import annotations

import io
import struct

import pytest
from PIL import Image

from sync_server.strip import strip_jpeg_metadata
from tests.support.photos import make_jpeg

IDENTIFYING = [b"Exif", b"CameraMaker", b"ModelX-42", b"SN-998877", b"Dr Owner", b"2026:11:27 08:15:00",
               b"x:xmpmeta", b"Photoshop 3.0", b"taken in bloc 4 by Dr Owner", b"MakerNoteSecret"]


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def camera_jpeg(progressive: bool = False) -> bytes:
    image = Image.new("RGB", (96, 64))
    image.putdata([((x * 5) % 256, (y * 7) % 256, (x * y) % 256) for y in range(64) for x in range(96)])
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x013B] = "CameraMaker", "ModelX-42", "Dr Owner"
    exif[0x8769] = {0x9003: "2026:11:27 08:15:00", 0xA431: "SN-998877", 0x927C: b"MakerNoteSecret"}
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90, exif=exif.tobytes(), icc_profile=b"\x00" * 128,
               progressive=progressive, comment=b"taken in bloc 4 by Dr Owner")
    data = out.getvalue()
    extra = (_segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta>Dr Owner</x:xmpmeta>")
             + _segment(0xED, b"Photoshop 3.0\x00 8BIM Dr Owner"))
    return data[:2] + extra + data[2:]


@pytest.mark.parametrize("progressive", [False, True])
def test_camera_metadata_is_removed_and_the_pixels_are_untouched(progressive):
    original = camera_jpeg(progressive)
    for text in IDENTIFYING[:4]:
        assert text in original
    stripped = strip_jpeg_metadata(original)
    for text in IDENTIFYING:
        assert text not in stripped, text
    assert stripped.startswith(b"\xff\xd8") and stripped.endswith(b"\xff\xd9")
    assert b"ICC_PROFILE\x00" in stripped  # colours kept
    before, after = Image.open(io.BytesIO(original)), Image.open(io.BytesIO(stripped))
    assert before.tobytes() == after.tobytes()  # bit-identical pixels
    assert not after.getexif()
    assert strip_jpeg_metadata(stripped) == stripped  # nothing left to remove


def test_a_jpeg_without_metadata_goes_out_unchanged():
    plain = make_jpeg(64, 48)
    assert strip_jpeg_metadata(plain) == strip_jpeg_metadata(strip_jpeg_metadata(plain))
