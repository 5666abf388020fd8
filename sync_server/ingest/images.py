"""What the server will accept as a photo, and the full decode that proves it sound.

``inspect_header`` is cheap (header only) and runs before filing: format allow-list, pixel
limit, decompression bombs, location metadata. It can be given the first bytes of a photo only
(the ingest keeps the first ``HEADER_PREFIX`` bytes as they stream by): when Pillow would read
past them it raises ``NeedsWholeImage`` and the caller runs it again on the whole photo, so the
answer is always the one the whole photo gives. ``decode_and_render`` is the expensive part
(~100 ms of CPU for 12 MP) and runs in a worker process after filing; it returns renditions
re-encoded by Pillow with no metadata at all, or raises ``ImageDefect`` to quarantine.
"""
from __future__ import annotations

import dataclasses
import io
import warnings
from typing import Any

from PIL import Image, ImageFile, ImageOps, PngImagePlugin

from ..errors import ApiError
from . import png

ALLOWED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png"}
GPS_IFD = 0x8825
THUMBNAIL_EDGE = 256
PREVIEW_EDGE = 1280
HEADER_PREFIX = 256 * 1024  # a JPEG's markers before its first scan: EXIF, XMP, ICC; rarely more

# Pillow decompresses PNG text/ICC chunks up to this size; beyond, it raises instead of inflating.
PngImagePlugin.MAX_TEXT_CHUNK = 1024 * 1024
PngImagePlugin.MAX_TEXT_MEMORY = 8 * 1024 * 1024
ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated image is a defect, never filled in


@dataclasses.dataclass(frozen=True)
class ImageInfo:
    mime: str
    width: int
    height: int


class ImageDefect(Exception):
    """The image's body does not decode soundly: the photo is quarantined, never served."""


class NeedsWholeImage(Exception):
    """The header check read past the prefix it was given: run it again on the whole image."""


class _Prefix(io.BytesIO):
    """The first bytes of a ``size``-byte image; any read that could tell it from the whole is refused.

    Deliberately not an ``OSError``: Pillow must not take it for a damaged file.
    """

    def __init__(self, prefix: bytes, size: int) -> None:
        super().__init__(prefix)
        self._end = len(prefix) if size > len(prefix) else None  # None: this is the whole image

    def _within(self, size: int | None) -> None:
        if self._end is not None and (size is None or size < 0 or self.tell() + size > self._end):
            raise NeedsWholeImage

    def read(self, size: int | None = -1) -> bytes:
        self._within(size)
        return super().read(size)

    def read1(self, size: int | None = -1) -> bytes:
        self._within(size)
        return super().read1(size)

    def readinto(self, buffer: Any) -> int:
        self._within(memoryview(buffer).nbytes)
        return super().readinto(buffer)

    def readline(self, size: int | None = -1) -> bytes:
        self._within(None)
        return super().readline(size)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_END:
            self._within(None)
        return super().seek(offset, whence)


def inspect_header(data: bytes, max_pixels: int, *, size: int | None = None) -> ImageInfo:
    """``data`` is the whole image, or its first bytes when ``size`` (the whole length) is larger."""
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(_Prefix(data, len(data) if size is None else size), formats=list(ALLOWED_FORMATS)) as image:
                width, height = image.size
                if width <= 0 or height <= 0:
                    raise ApiError("image_unsupported", "The image has no pixels.")
                if width * height > max_pixels:
                    raise ApiError("image_too_large", details={"max_pixels": max_pixels})
                if _has_location(image):
                    raise ApiError("image_location_metadata")
                mime = ALLOWED_FORMATS.get(image.format or "")
                if mime is None:  # a JPEG holding several pictures (MPO) is not a single photo
                    raise ApiError("image_unsupported", f"The image is a {image.format}, not a single JPEG or PNG.")
                return ImageInfo(mime, width, height)
    except (ApiError, NeedsWholeImage):
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


def _check_png(data: bytes) -> None:
    """As strict as the JPEG decode: Pillow files a PNG whose pixel data stops early as sound, and
    checks no CRC of the pixel data when loading. Every chunk's CRC (Pillow's ``verify`` on a fresh
    open, then ours) and the exact inflated size of the pixel data are checked before the decode."""
    with Image.open(io.BytesIO(data), formats=["PNG"]) as fresh:
        fresh.verify()
    png.check_pixel_data(data)


_ORIENTATION = {
    2: (Image.Transpose.FLIP_LEFT_RIGHT,),
    3: (Image.Transpose.ROTATE_180,),
    4: (Image.Transpose.FLIP_TOP_BOTTOM,),
    5: (Image.Transpose.TRANSPOSE,),
    6: (Image.Transpose.ROTATE_270,),
    7: (Image.Transpose.TRANSVERSE,),
    8: (Image.Transpose.ROTATE_90,),
}


def decode_and_render(data: bytes, max_pixels: int) -> dict[str, tuple[bytes, int, int]]:
    """Full decode; returns {"thumbnail"|"preview": (jpeg bytes, width, height)} without metadata.

    JPEGs are decoded by libjpeg-turbo in strict mode (simplejpeg): libjpeg only *warns* on
    corrupt entropy-coded data, and Pillow ignores those warnings, so a photo whose middle was
    zeroed or garbled would decode "fine" into a damaged picture. Strict mode turns every such
    warning into a failure.
    """
    import simplejpeg  # numpy with it: only the decode workers load them, never the server process

    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS)) as image:
            if image.format == "JPEG":
                orientation = image.getexif().get(0x0112, 1)
                pixels = simplejpeg.decode_jpeg(data, colorspace="RGB", strict=True)
                decoded = Image.fromarray(pixels, "RGB")
                for step in _ORIENTATION.get(orientation, ()):
                    decoded = decoded.transpose(step)
            else:
                _check_png(data)
                image.load()
                decoded = ImageOps.exif_transpose(image).convert("RGB")
    except Exception as exc:  # any decoder failure is a defect of this photo, not of the server
        raise ImageDefect(f"decode failed: {type(exc).__name__}: {str(exc)[:120]}") from None
    renditions: dict[str, tuple[bytes, int, int]] = {}
    source = decoded
    for kind, edge in (("preview", PREVIEW_EDGE), ("thumbnail", THUMBNAIL_EDGE)):
        # a box reduction by a whole factor does the bulk of a 12 MP downscale cheaply; LANCZOS
        # then makes the exact size; each rendition starts from the previous, smaller one
        factor = min(source.width, source.height) // (edge * 3 // 4) if max(source.size) > edge else 1
        reduced = source.reduce(factor) if factor > 1 else source.copy()
        reduced.thumbnail((edge, edge), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        reduced.save(out, format="JPEG", quality=85, optimize=True)  # a fresh file: no EXIF, no ICC, no XMP
        renditions[kind] = (out.getvalue(), reduced.width, reduced.height)
        source = reduced
    return renditions
