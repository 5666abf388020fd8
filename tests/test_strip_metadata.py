"""Nothing identifying leaves the server: camera metadata is removed losslessly from outbound JPEGs."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from sync_server.strip import strip_jpeg_metadata
from tests.support.photos import IDENTIFYING, make_jpeg, with_camera_metadata


def camera_jpeg(progressive: bool = False) -> bytes:
    image = Image.new("RGB", (96, 64))
    image.putdata([((x * 5) % 256, (y * 7) % 256, (x * y) % 256) for y in range(64) for x in range(96)])
    return with_camera_metadata(image, progressive)


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
