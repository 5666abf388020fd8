"""Photo seal: HPKE (RFC 9180) base mode to the hospital's P-256 key.

The phone seals each photo the moment it is taken; only the server's private
key opens it. The header (key id, photo id, sequence id, plaintext SHA-256) is
readable without the key, so the server can route and pre-check a blob before
decrypting, yet it is bound into the HPKE ``info``: swapping headers between
blobs, or editing one, makes decryption fail. Byte format: ``FORMAT.md``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass
from typing import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import ec

from crypto.errors import CryptoError

MAGIC = b"CPS1"
VERSION = 0x01
INFO_LABEL = b"clinphoto/seal/v1"
ENC_LEN = 65  # uncompressed P-256 point
TAG_LEN = 16
KID_MAX = 64
# magic + version + kid_len + kid + photo_id + sequence_id + sha256
HEADER_MIN = 4 + 1 + 1 + 1 + 16 + 16 + 32
HEADER_MAX = 4 + 1 + 1 + KID_MAX + 16 + 16 + 32  # 134: read this many bytes to parse any header

_SUITE = hpke.Suite(hpke.KEM.P256, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
_KID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_HEX64_RE = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class SealHeader:
    key_id: str
    photo_id: str  # canonical lowercase UUID
    sequence_id: str  # canonical lowercase UUID
    plaintext_sha256: str  # lowercase hex
    length: int  # header bytes from the magic through plaintext_sha256; enc starts here


def _uuid_bytes(value: str, name: str) -> bytes:
    # Only the canonical spelling is accepted, so one id has one byte form and one text form.
    try:
        parsed = uuid.UUID(value)
    except (ValueError, TypeError, AttributeError) as exc:
        raise CryptoError("invalid_argument", f"{name} is not a UUID") from exc
    if str(parsed) != value:
        raise CryptoError("invalid_argument", f"{name} must be a canonical lowercase UUID")
    return parsed.bytes


def _expected_sha256(value: str) -> str:
    if not isinstance(value, str) or not _HEX64_RE.fullmatch(value.lower()):
        raise CryptoError("invalid_argument", "plaintext_sha256 must be 64 hex digits")
    return value.lower()


def _build_header(key_id: str, photo_id: str, sequence_id: str, digest: bytes) -> bytes:
    if not isinstance(key_id, str) or not _KID_RE.fullmatch(key_id):
        raise CryptoError("invalid_argument", "key_id must be 1..64 base64url characters")
    kid = key_id.encode("ascii")
    return (
        MAGIC
        + bytes([VERSION, len(kid)])
        + kid
        + _uuid_bytes(photo_id, "photo_id")
        + _uuid_bytes(sequence_id, "sequence_id")
        + digest
    )


def seal_photo(
    plaintext: bytes,
    public_key: ec.EllipticCurvePublicKey,
    key_id: str,
    photo_id: str,
    sequence_id: str,
) -> bytes:
    """Seal ``plaintext`` to ``public_key``; the ephemeral key and nonce are the recipe's own."""
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
        public_key.curve, ec.SECP256R1
    ):
        raise CryptoError("invalid_argument", "public_key must be a P-256 public key")
    header = _build_header(key_id, photo_id, sequence_id, hashlib.sha256(plaintext).digest())
    return header + _SUITE.encrypt(plaintext, public_key, info=INFO_LABEL + header)


def parse_seal_header(blob: bytes) -> SealHeader:
    """Read the clear header. ``blob`` may be any prefix of at least ``HEADER_MAX`` bytes
    (or the whole blob); nothing here is authenticated until :func:`open_photo` succeeds."""
    view = memoryview(blob)
    if len(view) < HEADER_MIN or bytes(view[:4]) != MAGIC:
        raise CryptoError("malformed", "not a ClinPhoto seal")
    if view[4] != VERSION:
        raise CryptoError("malformed", "unsupported seal version")
    kid_len = view[5]
    length = 6 + kid_len + 16 + 16 + 32
    if not 1 <= kid_len <= KID_MAX or len(view) < length:
        raise CryptoError("malformed", "bad key id length or truncated header")
    try:
        kid = bytes(view[6 : 6 + kid_len]).decode("ascii")
    except UnicodeDecodeError as exc:
        raise CryptoError("malformed", "key id is not ASCII") from exc
    if not _KID_RE.fullmatch(kid):
        raise CryptoError("malformed", "key id is not base64url")
    at = 6 + kid_len
    return SealHeader(
        key_id=kid,
        photo_id=str(uuid.UUID(bytes=bytes(view[at : at + 16]))),
        sequence_id=str(uuid.UUID(bytes=bytes(view[at + 16 : at + 32]))),
        plaintext_sha256=bytes(view[at + 32 : at + 64]).hex(),
        length=length,
    )


def open_photo(
    blob: bytes,
    private_keys: Mapping[str, ec.EllipticCurvePrivateKey],
    *,
    photo_id: str,
    sequence_id: str,
    plaintext_sha256: str,
) -> bytes:
    """Open a sealed photo the caller expects (ids and hash come from the signed-for manifest).

    Cheap checks run before any decryption so a swapped or mislabelled blob is
    refused with a precise reason; the AEAD then proves the header genuine, and
    the plaintext hash is checked last, as evidence the bytes are the original.
    """
    expected_sha = _expected_sha256(plaintext_sha256)
    _uuid_bytes(photo_id, "photo_id")
    _uuid_bytes(sequence_id, "sequence_id")
    header = parse_seal_header(blob)
    if header.photo_id != photo_id:
        raise CryptoError("wrong_photo")
    if header.sequence_id != sequence_id:
        raise CryptoError("wrong_sequence")
    if not hmac.compare_digest(header.plaintext_sha256, expected_sha):
        raise CryptoError("hash_mismatch", "header hash differs from the expected one")
    private_key = private_keys.get(header.key_id)
    if private_key is None:
        raise CryptoError("unknown_key")
    if len(blob) < header.length + ENC_LEN + TAG_LEN:
        raise CryptoError("malformed", "truncated seal")
    info = INFO_LABEL + bytes(blob[: header.length])
    try:
        plaintext = _SUITE.decrypt(bytes(blob[header.length :]), private_key, info=info)
    except (InvalidTag, ValueError) as exc:
        # ValueError: enc is not a valid P-256 point; same meaning for the caller as a bad tag.
        raise CryptoError("decrypt_failed") from exc
    if not hmac.compare_digest(hashlib.sha256(plaintext).hexdigest(), expected_sha):
        raise CryptoError("hash_mismatch", "plaintext hash differs from the header")
    return plaintext
