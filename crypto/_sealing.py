"""What the photo seal (``CPS1``) and the form seal (``CPF1``) share: the clear header and HPKE.

Both start with the same clear header: magic, version, key id, then fixed-size ids (a UUID or
two), then the SHA-256 of the plaintext. It is readable without the key, so the server can route
and pre-check a blob, and it is bound into the HPKE ``info``, so it cannot be edited or moved to
another blob. This module builds and parses that header for both formats.

It also holds the one HPKE of the Python side: ``cryptography``'s ``hpke.Suite`` (RFC 9180
base mode, DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-256-GCM), single shot. The form seal
seals its form with it; the photo seal seals the key of its chunked payload with it. Nothing
else in ``crypto/`` derives an HPKE key schedule. Byte formats: ``FORMAT.md``.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import ec

from crypto.errors import CryptoError

ENC_LEN = 65  # uncompressed P-256 point, the HPKE encapsulated key
TAG_LEN = 16  # AES-256-GCM tag
KID_MAX = 64
SHA256_LEN = 32
UUID_LEN = 16

_SUITE = hpke.Suite(hpke.KEM.P256, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
KID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_HEX64_RE = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ClearHeader:
    key_id: str
    ids: tuple[str, ...]  # canonical lowercase UUIDs, in header order
    plaintext_sha256: str  # lowercase hex
    length: int  # bytes from the magic through plaintext_sha256


@dataclass(frozen=True)
class HeaderFormat:
    """One format's header: its magic, its version and how many UUIDs follow the key id."""

    magic: bytes
    version: int
    uuids: int
    name: str  # for messages: "seal", "form seal"

    @property
    def min_length(self) -> int:
        return 6 + 1 + self.uuids * UUID_LEN + SHA256_LEN

    @property
    def max_length(self) -> int:
        return 6 + KID_MAX + self.uuids * UUID_LEN + SHA256_LEN

    def build(self, key_id: str, ids: tuple[tuple[object, str], ...], digest: bytes) -> bytes:
        """The header for ``ids`` (pairs of value and argument name, for errors)."""
        if not isinstance(key_id, str) or not KID_RE.fullmatch(key_id):
            raise CryptoError("invalid_argument", "key_id must be 1..64 base64url characters")
        assert len(ids) == self.uuids and len(digest) == SHA256_LEN
        kid = key_id.encode("ascii")
        return (self.magic + bytes([self.version, len(kid)]) + kid
                + b"".join(uuid_bytes(value, name) for value, name in ids) + digest)

    def length_from(self, prefix: bytes | bytearray | memoryview) -> int | None:
        """The header length, from its first 6 bytes (``None`` while fewer have arrived).

        Raises ``malformed`` as soon as the magic, version or key id length is wrong.
        """
        view = memoryview(prefix)
        if len(view) < 6:
            return None
        if bytes(view[:4]) != self.magic:
            raise CryptoError("malformed", f"not a ClinPhoto {self.name}")
        if view[4] != self.version:
            raise CryptoError("malformed", f"unsupported {self.name} version")
        kid_len = view[5]
        if not 1 <= kid_len <= KID_MAX:
            raise CryptoError("malformed", "bad key id length")
        return 6 + kid_len + self.uuids * UUID_LEN + SHA256_LEN

    def parse(self, blob: bytes | bytearray | memoryview) -> ClearHeader:
        """Read the clear header from ``blob`` (any prefix holding it); nothing is authenticated."""
        view = memoryview(blob)
        length = self.length_from(view) if len(view) >= self.min_length else None
        if length is None or len(view) < length:
            raise CryptoError("malformed", f"truncated {self.name} header")
        kid_end = length - self.uuids * UUID_LEN - SHA256_LEN
        try:
            kid = bytes(view[6:kid_end]).decode("ascii")
        except UnicodeDecodeError as exc:
            raise CryptoError("malformed", "key id is not ASCII") from exc
        if not KID_RE.fullmatch(kid):
            raise CryptoError("malformed", "key id is not base64url")
        ids = tuple(str(uuid.UUID(bytes=bytes(view[at:at + UUID_LEN])))
                    for at in range(kid_end, kid_end + self.uuids * UUID_LEN, UUID_LEN))
        return ClearHeader(key_id=kid, ids=ids, plaintext_sha256=bytes(view[length - SHA256_LEN:length]).hex(),
                           length=length)


def uuid_bytes(value: object, name: str) -> bytes:
    """Only the canonical spelling is accepted, so one id has one byte form and one text form."""
    try:
        parsed = uuid.UUID(value)  # type: ignore[arg-type]
    except (ValueError, TypeError, AttributeError) as exc:
        raise CryptoError("invalid_argument", f"{name} is not a UUID") from exc
    if str(parsed) != value:
        raise CryptoError("invalid_argument", f"{name} must be a canonical lowercase UUID")
    return parsed.bytes


def expected_sha256(value: object) -> str:
    if not isinstance(value, str) or not _HEX64_RE.fullmatch(value.lower()):
        raise CryptoError("invalid_argument", "plaintext_sha256 must be 64 hex digits")
    return value.lower()


def check_public_key(public_key: object) -> ec.EllipticCurvePublicKey:
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(public_key.curve, ec.SECP256R1):
        raise CryptoError("invalid_argument", "public_key must be a P-256 public key")
    return public_key


def hpke_seal(plaintext: bytes, public_key: ec.EllipticCurvePublicKey, info: bytes) -> bytes:
    """RFC 9180 SetupBaseS + one Seal (empty aad, sequence 0): ``enc`` (65 bytes) || ciphertext || tag."""
    return _SUITE.encrypt(plaintext, public_key, info=info)


def hpke_open(sealed: bytes, private_key: ec.EllipticCurvePrivateKey, info: bytes) -> bytes:
    """The inverse of :func:`hpke_seal`; ``decrypt_failed`` for a bad tag, key, info or ``enc``."""
    try:
        return _SUITE.decrypt(sealed, private_key, info=info)
    except (InvalidTag, ValueError) as exc:
        # ValueError: enc is not a valid P-256 point; for the caller the same as a bad tag.
        raise CryptoError("decrypt_failed") from exc
