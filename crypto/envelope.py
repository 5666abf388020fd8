"""At-rest envelope: one fresh AES-256-GCM data key per object, wrapped by a KEK.

Photos on hospital storage are encrypted with a data key (DEK) that exists
only wrapped (AES key wrap, RFC 3394) under a key-encryption key (KEK) named
by id in the header. The GCM AAD binds the format and the object id but NOT
the KEK fields: rotating a KEK re-wraps the 32-byte DEK and rewrites the
header only, never re-encrypting a multi-megabyte photo. Why key wrap rather
than GCM for the DEK: it is deterministic and nonce-free, so re-wrapping
during rotation needs no randomness, and it carries its own integrity check.
Byte format: ``FORMAT.md``.
"""

from __future__ import annotations

import os
import re
from typing import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import (
    InvalidUnwrap,
    aes_key_unwrap,
    aes_key_wrap,
)

from crypto.errors import CryptoError

MAGIC = b"CPR1"
VERSION = 0x01
AAD_LABEL = b"clinphoto/at-rest/v1"
KEK_LEN = 32
DEK_LEN = 32
WRAPPED_LEN = DEK_LEN + 8  # RFC 3394 adds one 64-bit block
NONCE_LEN = 12
TAG_LEN = 16
KEK_ID_MAX = 64
HEADER_MAX = 4 + 1 + 1 + KEK_ID_MAX + WRAPPED_LEN + NONCE_LEN  # 122: enough to rewrap any header

_KEK_ID_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def _check_kek(kek_id: str, kek: bytes) -> bytes:
    if not isinstance(kek_id, str) or not _KEK_ID_RE.fullmatch(kek_id):
        raise CryptoError("invalid_argument", "kek_id must be 1..64 of [A-Za-z0-9_.-]")
    if not isinstance(kek, (bytes, bytearray)) or len(kek) != KEK_LEN:
        raise CryptoError("invalid_argument", "a KEK is 32 bytes")
    return kek_id.encode("ascii")


def _aad(object_id: str) -> bytes:
    if not isinstance(object_id, str) or not object_id:
        raise CryptoError("invalid_argument", "object_id must be a non-empty string")
    return AAD_LABEL + MAGIC + bytes([VERSION]) + object_id.encode("utf-8")


def _parse_kek_id(prefix: bytes) -> tuple[str, int]:
    """Return (kek_id, offset of wrapped_dek)."""
    if len(prefix) < 6 or bytes(prefix[:4]) != MAGIC:
        raise CryptoError("malformed", "not a ClinPhoto at-rest envelope")
    if prefix[4] != VERSION:
        raise CryptoError("malformed", "unsupported envelope version")
    n = prefix[5]
    if not 1 <= n <= KEK_ID_MAX or len(prefix) < 6 + n:
        raise CryptoError("malformed", "bad KEK id length or truncated header")
    try:
        kek_id = bytes(prefix[6 : 6 + n]).decode("ascii")
    except UnicodeDecodeError as exc:
        raise CryptoError("malformed", "KEK id is not ASCII") from exc
    if not _KEK_ID_RE.fullmatch(kek_id):
        raise CryptoError("malformed", "KEK id has forbidden characters")
    return kek_id, 6 + n


def _parse_header(prefix: bytes) -> tuple[str, bytes, bytes, int]:
    """Return (kek_id, wrapped_dek, nonce, header length)."""
    kek_id, at = _parse_kek_id(prefix)
    end = at + WRAPPED_LEN + NONCE_LEN
    if len(prefix) < end:
        raise CryptoError("malformed", "truncated header")
    return kek_id, bytes(prefix[at : at + WRAPPED_LEN]), bytes(prefix[at + WRAPPED_LEN : end]), end


def _unwrap(kek_id: str, wrapped: bytes, keks: Mapping[str, bytes]) -> bytes:
    kek = keks.get(kek_id)
    if kek is None:
        raise CryptoError("unknown_key")
    try:
        return aes_key_unwrap(kek, wrapped)
    except (InvalidUnwrap, ValueError) as exc:
        raise CryptoError("unwrap_failed") from exc


def _header(kek_id_bytes: bytes, wrapped: bytes, nonce: bytes) -> bytes:
    return MAGIC + bytes([VERSION, len(kek_id_bytes)]) + kek_id_bytes + wrapped + nonce


def encrypt_at_rest(plaintext: bytes, *, kek_id: str, kek: bytes, object_id: str) -> bytes:
    """Encrypt one stored object under a fresh DEK; the random 96-bit nonce is safe
    because each DEK encrypts exactly one message."""
    kid = _check_kek(kek_id, kek)
    aad = _aad(object_id)
    dek = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(NONCE_LEN)
    header = _header(kid, aes_key_wrap(bytes(kek), dek), nonce)
    return header + AESGCM(dek).encrypt(nonce, plaintext, aad)


class AtRestEncryptor:
    """``encrypt_at_rest`` in pieces, for an object written as it is produced.

    Everything ``update`` returns, then what ``finalize`` returns, is, end to end, one envelope
    ``decrypt_at_rest`` opens: the same format (the first output starts with the header), with
    a fresh data key and nonce of its own. The caller writes the bytes; it never builds them.
    """

    def __init__(self, *, kek_id: str, kek: bytes, object_id: str) -> None:
        kid = _check_kek(kek_id, kek)
        aad = _aad(object_id)
        dek = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(NONCE_LEN)
        self._header: bytes | None = _header(kid, aes_key_wrap(bytes(kek), dek), nonce)
        self._context = Cipher(algorithms.AES(dek), modes.GCM(nonce)).encryptor()
        self._context.authenticate_additional_data(aad)

    def update(self, plaintext: bytes | memoryview) -> bytes:
        return self._take_header() + self._context.update(plaintext)

    def finalize(self) -> bytes:
        return self._take_header() + self._context.finalize() + self._context.tag

    def _take_header(self) -> bytes:
        header, self._header = self._header, None
        return header or b""


def decrypt_at_rest(blob: bytes, keks: Mapping[str, bytes], *, object_id: str) -> bytes:
    """Decrypt an object stored under ``object_id``; any KEK generation in ``keks`` works."""
    aad = _aad(object_id)
    kek_id, wrapped, nonce, length = _parse_header(blob)
    if len(blob) < length + TAG_LEN:
        raise CryptoError("malformed", "truncated ciphertext")
    dek = _unwrap(kek_id, wrapped, keks)
    try:
        return AESGCM(dek).decrypt(nonce, bytes(blob[length:]), aad)
    except InvalidTag as exc:
        raise CryptoError("decrypt_failed") from exc


def envelope_kek_id(blob_prefix: bytes) -> str:
    """The KEK id an object is wrapped under (to find objects still on an old KEK)."""
    return _parse_kek_id(blob_prefix)[0]


def rewrap_header(
    blob_prefix: bytes,
    keks: Mapping[str, bytes],
    *,
    new_kek_id: str,
    new_kek: bytes,
) -> tuple[bytes, int]:
    """Re-wrap an object's DEK under a new KEK without touching its ciphertext.

    ``blob_prefix`` needs at least the whole header (``HEADER_MAX`` bytes always
    suffice). Returns (new header, old header length): the caller writes the new
    header followed by ``old_blob[old_length:]`` to a temp file and renames it.
    The ciphertext is not authenticated here; the next read does that.
    """
    kid = _check_kek(new_kek_id, new_kek)
    kek_id, wrapped, nonce, length = _parse_header(blob_prefix)
    dek = _unwrap(kek_id, wrapped, keks)
    return _header(kid, aes_key_wrap(bytes(new_kek), dek), nonce), length
