"""What the server will accept as a photo, and the full decode that proves it sound.

``inspect_header`` is cheap (header only) and runs before filing: format allow-list, pixel
limit, decompression bombs, location metadata. ``decode_and_render`` is the expensive part
(~100 ms of CPU for 12 MP) and runs in a worker process after filing; it returns renditions
re-encoded by Pillow with no metadata at all, or raises ``ImageDefect`` to quarantine.
"""
from __future__ import annotations

import dataclasses
import io
import warnings

from PIL import Image, ImageOps, PngImagePlugin

from ..errors import ApiError

ALLOWED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png"}
GPS_IFD = 0x8825
THUMBNAIL_EDGE = 256
PREVIEW_EDGE = 1280

# Pillow decompresses PNG text/ICC chunks up to this size; beyond, it raises instead of inflating.
PngImagePlugin.MAX_TEXT_CHUNK = 1024 * 1024
PngImagePlugin.MAX_TEXT_MEMORY = 8 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class ImageInfo:
    mime: str
    width: int
    height: int


class ImageDefect(Exception):
    """The image's body does not decode soundly: the photo is quarantined, never served."""


def inspect_header(data: bytes, max_pixels: int) -> ImageInfo:
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS)) as image:
                width, height = image.size
                if width <= 0 or height <= 0:
                    raise ApiError("image_unsupported", "The image has no pixels.")
                if width * height > max_pixels:
                    raise ApiError("image_too_large", details={"max_pixels": max_pixels})
                if _has_location(image):
                    raise ApiError("image_location_metadata")
                return ImageInfo(ALLOWED_FORMATS[image.format], width, height)
    except ApiError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ApiError("image_too_large", details={"max_pixels": max_pixels}) from None
    except Image.UnidentifiedImageError:
        raise ApiError("image_unsupported") from None
    except ValueError as exc:
        # PNG text/ICC chunk that would inflate past the limit ("Decompressed Data Too Large")
        if "too large" in str(exc).lower():
            raise ApiError("image_decompression_bomb") from None
        raise ApiError("image_unsupported") from None
    except (OSError, SyntaxError, EOFError):
        raise ApiError("image_unsupported") from None


def _has_location(image: Image.Image) -> bool:
    exif = image.getexif()
    if GPS_IFD in exif:
        return True
    xmp = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp") or b""
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8", "replace")
    return b"exif:GPSLatitude" in xmp or b"exif:GPSLongitude" in xmp


def decode_and_render(data: bytes, max_pixels: int) -> dict[str, tuple[bytes, int, int]]:
    """Full decode; returns {"thumbnail"|"preview": (jpeg bytes, width, height)} without metadata."""
    Image.MAX_IMAGE_PIXELS = max_pixels
    if data[:3] == b"\xff\xd8\xff":
        check_jpeg_structure(data)
    try:
        with Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS)) as image:
            image.load()
            oriented = ImageOps.exif_transpose(image).convert("RGB")
    except Exception as exc:  # any decoder failure is a defect of this photo, not of the server
        raise ImageDefect(f"decode failed: {type(exc).__name__}") from None
    renditions: dict[str, tuple[bytes, int, int]] = {}
    for kind, edge in (("preview", PREVIEW_EDGE), ("thumbnail", THUMBNAIL_EDGE)):
        copy = oriented.copy()
        copy.thumbnail((edge, edge), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        copy.save(out, format="JPEG", quality=85, optimize=True)  # a fresh file: no EXIF, no ICC, no XMP
        renditions[kind] = (out.getvalue(), copy.width, copy.height)
    return renditions


def check_jpeg_structure(data: bytes) -> None:
    """Walk the JPEG marker structure; libjpeg only warns on corrupt entropy data, we refuse it.

    Inside entropy-coded data only stuffed 0xFF00, fill bytes and RSTn markers (in order, when a
    restart interval is set) may appear; anything else means the middle of the file is damaged.
    """
    n = len(data)
    if n < 4 or data[:2] != b"\xff\xd8":
        raise ImageDefect("no JPEG start-of-image")
    pos = 2
    restart_interval = 0
    seen_sos = False
    while pos < n:
        if data[pos] != 0xFF:
            raise ImageDefect("marker expected")
        while pos < n and data[pos] == 0xFF:
            pos += 1
        if pos >= n:
            break
        marker = data[pos]
        pos += 1
        if marker == 0xD9:  # EOI
            if not seen_sos:
                raise ImageDefect("end of image before any scan")
            return
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            continue
        if pos + 2 > n:
            raise ImageDefect("truncated segment header")
        length = (data[pos] << 8) | data[pos + 1]
        if length < 2 or pos + length > n:
            raise ImageDefect("segment runs past the end of the file")
        if marker == 0xDD and length >= 4:
            restart_interval = (data[pos + 2] << 8) | data[pos + 3]
        pos += length
        if marker == 0xDA:  # SOS: entropy-coded data follows until the next real marker
            seen_sos = True
            expected_rst = 0
            while True:
                ff = data.find(b"\xff", pos)
                if ff < 0 or ff + 1 >= n:
                    raise ImageDefect("scan data runs to the end of the file (truncated)")
                following = data[ff + 1]
                if following == 0x00 or following == 0xFF:
                    pos = ff + 1 if following == 0xFF else ff + 2
                    continue
                if 0xD0 <= following <= 0xD7:
                    if restart_interval and following - 0xD0 != expected_rst:
                        raise ImageDefect("restart markers out of order")
                    expected_rst = (expected_rst + 1) % 8
                    pos = ff + 2
                    continue
                pos = ff
                break
    raise ImageDefect("no end-of-image marker (truncated)")
