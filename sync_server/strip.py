"""What leaves the server carries no identifying metadata: THE function every outbound path uses.

A camera's JPEG carries its make, model, serial number, owner, original date and free comments in
APPn segments (EXIF and XMP in APP1, IPTC in APP13, maker notes, MPF...) and in COM segments. These are
removed from the marker stream losslessly: the tables, frame and scan headers and every entropy-coded
byte are copied as they are, so the pixels decode bit for bit the same. Kept: JFIF (APP0, resolution
and aspect), the ICC colour profile (APP2) and Adobe's colour-transform flag (APP14), which decoders
need to show the right colours. The stored original is never touched: this makes the outbound copy.
"""
from __future__ import annotations

_SOI, _EOI, _SOS, _COM = 0xD8, 0xD9, 0xDA, 0xFE
_KEEP_APP = {0xE0: (b"JFIF\x00",), 0xE2: (b"ICC_PROFILE\x00",), 0xEE: (b"Adobe",)}
_NO_LENGTH = {0x01, *range(0xD0, 0xDA)}  # TEM, RSTn, SOI, EOI


class NotAJpeg(ValueError):
    """The bytes are not a JPEG marker stream this function can walk."""


def _drop(marker: int, segment: bytes) -> bool:
    if marker == _COM:
        return True
    if 0xE0 <= marker <= 0xEF:
        return not segment.startswith(_KEEP_APP.get(marker, (b"\x00never",)))
    return False


def strip_jpeg_metadata(data: bytes) -> bytes:
    """The JPEG without EXIF, XMP, IPTC, maker notes, other APPn or COM segments; pixels untouched."""
    if data[:2] != b"\xff\xd8":
        raise NotAJpeg("no SOI")
    out = bytearray(b"\xff\xd8")
    i, n = 2, len(data)
    in_scan = False
    while i < n:
        if in_scan:  # entropy-coded data: copy up to the next marker that is not stuffing or a restart
            j = data.find(b"\xff", i)
            while j != -1 and j + 1 < n and (data[j + 1] == 0x00 or 0xD0 <= data[j + 1] <= 0xD7 or data[j + 1] == 0xFF):
                j = data.find(b"\xff", j + (2 if data[j + 1] != 0xFF else 1))
            if j == -1 or j + 1 >= n:
                out += data[i:]
                return bytes(out)
            out += data[i:j]
            i, in_scan = j, False
            continue
        if data[i] != 0xFF:
            raise NotAJpeg("the marker stream is damaged")
        marker = data[i + 1] if i + 1 < n else _EOI
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == _EOI:
            out += data[i:]  # EOI and anything after it, as it is
            return bytes(out)
        if marker in _NO_LENGTH:
            out += data[i:i + 2]
            i += 2
            continue
        if i + 4 > n:
            raise NotAJpeg("a segment is cut")
        end = i + 2 + int.from_bytes(data[i + 2:i + 4], "big")
        if end > n:
            raise NotAJpeg("a segment is cut")
        if not _drop(marker, data[i + 4:end]):
            out += data[i:end]
        i = end
        in_scan = marker == _SOS
    return bytes(out)
