"""PNG read chunk by chunk, without decoding a pixel. Pure: no I/O.

Two uses. The header check before filing (``images.inspect_header``) must never decode pixels, and
Pillow's ``getexif()`` on a PNG whose eXIf chunk does not come before the pixels loads the whole image
(a 10950x10950 16-bit PNG of 932 KB is 960 MB of pixels): ``metadata`` walks the chunk headers instead,
skipping pixel data unread. The full decode (``images.decode_and_render``) must catch a PNG whose pixel
data stops early, which Pillow files as sound: ``check_pixel_data`` inflates the IDAT stream a megabyte
at a time, counting bytes, and compares with what the header promises.
"""
from __future__ import annotations

import dataclasses
import struct
import zlib
from typing import Iterator

SIGNATURE = b"\x89PNG\r\n\x1a\n"
BANDS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples per pixel
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


class PngDefect(ValueError):
    """The PNG's structure is broken (CRC, order, length, short or long pixel data)."""


class PastPrefix(Exception):
    """The chunk walk needs bytes beyond the prefix it was given."""


@dataclasses.dataclass(frozen=True)
class PngHeader:
    width: int
    height: int
    bit_depth: int
    colour_type: int
    interlaced: bool

    @property
    def bands(self) -> int:
        return BANDS.get(self.colour_type, 4)

    def pixel_bytes(self) -> int:
        """Decoded size: width x height x bands x bytes per sample (what a full decode must hold)."""
        return self.width * self.height * self.bands * max(1, self.bit_depth // 8)

    def raw_size(self) -> int:
        """Bytes the IDAT stream must inflate to: filter byte + packed samples, per row (per Adam7 pass)."""
        bits = self.bands * self.bit_depth
        if not self.interlaced:
            return self.height * (1 + (self.width * bits + 7) // 8)
        total = 0
        for x0, y0, dx, dy in _ADAM7:
            cols = (self.width - x0 + dx - 1) // dx if self.width > x0 else 0
            rows = (self.height - y0 + dy - 1) // dy if self.height > y0 else 0
            if cols and rows:
                total += rows * (1 + (cols * bits + 7) // 8)
        return total


def chunks(data: bytes | memoryview, *, whole: bool = True, check_crc: bool = False) -> Iterator[tuple[bytes, int, int]]:
    """(type, data offset, length) of each chunk; with ``whole=False`` running out raises ``PastPrefix``."""
    view = memoryview(data)
    if bytes(view[:8]) != SIGNATURE:
        raise PngDefect("not a PNG signature")
    pos = 8
    while True:
        if pos + 8 > len(view):
            if whole:
                raise PngDefect("the file ends without IEND")
            raise PastPrefix
        length, kind = struct.unpack(">I4s", view[pos:pos + 8])
        if length > 0x7FFFFFFF:
            raise PngDefect("chunk length out of range")
        end = pos + 8 + length + 4
        if check_crc:
            if end > len(view):
                raise PngDefect("the file ends inside a chunk")
            crc = zlib.crc32(view[pos + 4:pos + 8 + length])
            if struct.unpack(">I", view[pos + 8 + length:end])[0] != crc:
                raise PngDefect(f"bad CRC in a {kind.decode('latin-1')} chunk")
        yield kind, pos + 8, length
        if kind == b"IEND":
            return
        pos = end


def header(data: bytes | memoryview) -> PngHeader:
    view = memoryview(data)
    if len(view) < 33 or bytes(view[:8]) != SIGNATURE or bytes(view[12:16]) != b"IHDR":
        raise PngDefect("no IHDR first")
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", view[16:29])
    return PngHeader(width, height, depth, colour, interlace == 1)


def metadata(prefix: bytes | memoryview, *, whole: bool) -> dict[bytes, list[bytes]]:
    """The ancillary chunks that may carry metadata (eXIf, iTXt, tEXt, zTXt), pixel data skipped unread."""
    found: dict[bytes, list[bytes]] = {}
    view = memoryview(prefix)
    for kind, offset, length in chunks(view, whole=whole):
        if kind in (b"eXIf", b"iTXt", b"tEXt", b"zTXt"):
            if offset + length > len(view):
                if whole:
                    raise PngDefect("the file ends inside a chunk")
                raise PastPrefix
            found.setdefault(kind, []).append(bytes(view[offset:offset + length]))
    return found


def check_pixel_data(data: bytes | memoryview) -> None:
    """Every CRC right, IDAT chunks consecutive, and the pixel stream inflating to exactly the promised size."""
    info = header(data)
    expected = info.raw_size()
    inflater = zlib.decompressobj()
    produced, seen_idat, idat_done = 0, False, False
    view = memoryview(data)
    for kind, offset, length in chunks(view, check_crc=True):
        if kind == b"IDAT":
            if idat_done:
                raise PngDefect("IDAT chunks are not consecutive")
            seen_idat = True
            pending = view[offset:offset + length]
            while pending:
                out = inflater.decompress(pending, 1 << 20)
                produced += len(out)
                if produced > expected:
                    raise PngDefect("more pixel data than the header says")
                pending = memoryview(inflater.unconsumed_tail)
                if inflater.eof:
                    break
        elif seen_idat:
            idat_done = True
    while not inflater.eof:  # what the last chunk's data still holds
        out = inflater.decompress(b"", 1 << 20)
        if not out:
            break
        produced += len(out)
    if not seen_idat or not inflater.eof or produced != expected:
        raise PngDefect(f"pixel data is short: {produced} of {expected} bytes")
