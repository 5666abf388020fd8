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
import zlib
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
                if _png_has_location(data, size) if image.format == "PNG" else _has_location(image):
                    raise ApiError("image_location_metadata")
                mime = ALLOWED_FORMATS.get(image.format or "")
                if mime is None:  # a JPEG holding several pictures (MPO) is not a single photo
                    raise ApiError("image_unsupported", f"The image is a {image.format}, not a single JPEG or PNG.")
                return ImageInfo(mime, width, height)
    except (ApiError, NeedsWholeImage):
        raise
    except png.PastPrefix:
        raise NeedsWholeImage from None
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


_XMP_KEY = b"XML:com.adobe.xmp"


def _inflate_bounded(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    text = inflater.decompress(data, PngImagePlugin.MAX_TEXT_CHUNK + 1)
    if len(text) > PngImagePlugin.MAX_TEXT_CHUNK:
        raise ValueError("Decompressed Data Too Large")
    return text


def _png_has_location(data: bytes, size: int | None) -> bool:
    """GPS in a PNG's eXIf chunk or XMP text, read from the chunks without decoding a pixel: Pillow's
    ``getexif()`` loads the whole image when no eXIf chunk comes before the pixel data."""
    found = png.metadata(data, whole=size is None or size <= len(data))
    for raw in found.get(b"eXIf", []):
        exif = Image.Exif()
        exif.load(raw)
        if GPS_IFD in exif:
            return True
    for kind in (b"iTXt", b"tEXt", b"zTXt"):
        for raw in found.get(kind, []):
            keyword, _, rest = raw.partition(b"\x00")
            if keyword != _XMP_KEY:
                continue
            if kind == b"zTXt":
                text = _inflate_bounded(rest[1:])
            elif kind == b"iTXt":  # compression flag, method, language\0, translated keyword\0, text
                compressed, rest = rest[:1] == b"\x01", rest[2:]
                _, _, rest = rest.partition(b"\x00")
                _, _, text = rest.partition(b"\x00")
                text = _inflate_bounded(text) if compressed else text
            else:
                text = rest
            if b"exif:GPSLatitude" in text or b"exif:GPSLongitude" in text:
                return True
    return False


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


def within_budget(width: int, height: int, bands: int, bytes_per_sample: int, budget: int | None) -> None:
    """Refuse a decode whose pixels alone (width x height x bands x bytes per sample) exceed ``budget``."""
    need = width * height * bands * bytes_per_sample
    if budget is not None and need > budget:
        raise ImageDefect(f"decode_budget_exceeded: {width}x{height}x{bands}x{bytes_per_sample} = "
                          f"{need // 2**20} MB of pixels, over the {budget // 2**20} MB budget")


def decode_and_render(data: bytes, max_pixels: int, budget: int | None = None) -> dict[str, tuple[bytes, int, int]]:
    """Full decode; returns {"thumbnail"|"preview": (jpeg bytes, width, height)} without metadata.

    JPEGs are decoded by libjpeg-turbo in strict mode (simplejpeg): libjpeg only *warns* on
    corrupt entropy-coded data, and Pillow ignores those warnings, so a photo whose middle was
    zeroed or garbled would decode "fine" into a damaged picture. Strict mode turns every such
    warning into a failure. Every entropy-coded block is still decoded when libjpeg scales by 1/2
    to 1/8 on the way (DCT scaling), so a large JPEG is decoded straight at the preview's size.

    ``budget``: the most bytes of decoded pixels this decode may hold (the worker's memory limit
    allows a few such buffers); a larger image is a defect (``decode_budget_exceeded``), decided from
    its header before a pixel is decoded.
    """
    import simplejpeg  # numpy with it: only the decode workers load them, never the server process

    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS)) as image:
            if image.format == "JPEG":
                orientation = image.getexif().get(0x0112, 1)
                width, height = image.size
                scale = {"min_width": PREVIEW_EDGE if width >= height else 0,
                         "min_height": PREVIEW_EDGE if height > width else 0} if max(width, height) > PREVIEW_EDGE else {}
                scaled_height, scaled_width, _, _ = simplejpeg.decode_jpeg_header(data, **scale)
                within_budget(scaled_width, scaled_height, 4, 1, budget)  # Pillow holds RGB in 4 bytes
                pixels = simplejpeg.decode_jpeg(data, colorspace="RGB", strict=True, **scale)
                decoded = Image.fromarray(pixels, "RGB")
                for step in _ORIENTATION.get(orientation, ()):
                    decoded = decoded.transpose(step)
            else:
                info = png.header(data)
                within_budget(info.width, info.height, info.bands, max(1, info.bit_depth // 8), budget)
                _check_png(data)
                image.load()
                decoded = ImageOps.exif_transpose(image).convert("RGB")
    except ImageDefect:
        raise
    except MemoryError:  # the worker's hard limit (RLIMIT_AS) was reached: the photo, not the server, pays
        raise ImageDefect("decode_memory_exceeded: the decode reached the worker's memory limit") from None
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
