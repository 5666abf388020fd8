"""Key identifiers and public JWKs, in one place for both sides of the wire.

A key id is the RFC 7638 JWK thumbprint: any party holding the public key can
recompute it, so ids cannot be forged to point at a different key, and the
PWA derives the same id from ``GET /api/v1/keys`` with WebCrypto alone.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Mapping, Union

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from crypto.errors import CryptoError

PublicKey = Union[ec.EllipticCurvePublicKey, Ed25519PublicKey]

SEAL_JWK_ALG = "HPKE-P256-SHA256-A256GCM"
SIGN_JWK_ALG = "EdDSA"

_P256_COORD = 32
_ED25519_LEN = 32


def b64url_encode(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2), the only encoding used in JSON here."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict inverse of :func:`b64url_encode`: padding, '+', '/' and whitespace are refused,
    so that one byte string has exactly one text form (signatures compare texts)."""
    if not isinstance(text, str) or len(text) % 4 == 1:
        raise CryptoError("malformed", "not base64url")
    allowed = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    if any(c not in allowed for c in text):
        raise CryptoError("malformed", "not base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise CryptoError("malformed", "not base64url") from exc
    if b64url_encode(data) != text:  # non-zero trailing bits: a second spelling of the same bytes
        raise CryptoError("malformed", "non-canonical base64url")
    return data


def _thumbprint_members(public_key: PublicKey) -> dict[str, str]:
    # RFC 7638 §3.2: only the required members, in lexicographic order.
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if not isinstance(public_key.curve, ec.SECP256R1):
            raise CryptoError("bad_key", "only P-256 sealing keys are supported")
        numbers = public_key.public_numbers()
        return {
            "crv": "P-256",
            "kty": "EC",
            "x": b64url_encode(numbers.x.to_bytes(_P256_COORD, "big")),
            "y": b64url_encode(numbers.y.to_bytes(_P256_COORD, "big")),
        }
    if isinstance(public_key, Ed25519PublicKey):
        raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return {"crv": "Ed25519", "kty": "OKP", "x": b64url_encode(raw)}
    raise CryptoError("bad_key", "unsupported key type")


def key_id(public_key: PublicKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256), base64url without padding: 43 ASCII characters."""
    members = _thumbprint_members(public_key)
    text = json.dumps(members, separators=(",", ":"), sort_keys=True, ensure_ascii=True)
    return b64url_encode(hashlib.sha256(text.encode("ascii")).digest())


def public_jwk(public_key: PublicKey, *, use: str) -> dict[str, str]:
    """The public JWK the server publishes at ``GET /api/v1/keys``.

    ``use`` must match the key type ("enc" for P-256, "sig" for Ed25519) so a
    sealing key can never be published as a signing key or the reverse.
    """
    members = _thumbprint_members(public_key)
    expected_use = "enc" if members["kty"] == "EC" else "sig"
    if use != expected_use:
        raise CryptoError("invalid_argument", f"a {members['kty']} key has use {expected_use!r}")
    alg = SEAL_JWK_ALG if use == "enc" else SIGN_JWK_ALG
    return {**members, "kid": key_id(public_key), "use": use, "alg": alg}


def _decode_fixed(jwk: Mapping[str, object], name: str, length: int) -> bytes:
    value = jwk.get(name)
    if not isinstance(value, str):
        raise CryptoError("bad_key", f"JWK member {name!r} missing")
    try:
        raw = b64url_decode(value)
    except CryptoError as exc:
        raise CryptoError("bad_key", f"JWK member {name!r} is not base64url") from exc
    if len(raw) != length:
        raise CryptoError("bad_key", f"JWK member {name!r} has the wrong length")
    return raw


def public_key_from_jwk(jwk: Mapping[str, object]) -> PublicKey:
    """Parse and validate a public JWK of one of our two shapes.

    Refuses private members (``d``), unknown curves, off-curve points, and a
    ``kid`` that is not the key's thumbprint (a kid that lies is an attack).
    """
    if not isinstance(jwk, Mapping):
        raise CryptoError("bad_key", "JWK must be an object")
    if "d" in jwk:
        raise CryptoError("bad_key", "a private JWK was given where a public one is expected")
    kty, crv = jwk.get("kty"), jwk.get("crv")
    key: PublicKey
    if kty == "EC" and crv == "P-256":
        x = _decode_fixed(jwk, "x", _P256_COORD)
        y = _decode_fixed(jwk, "y", _P256_COORD)
        try:
            key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + x + y)
        except ValueError as exc:
            raise CryptoError("bad_key", "point is not on P-256") from exc
        expected_use, expected_alg = "enc", SEAL_JWK_ALG
    elif kty == "OKP" and crv == "Ed25519":
        key = Ed25519PublicKey.from_public_bytes(_decode_fixed(jwk, "x", _ED25519_LEN))
        expected_use, expected_alg = "sig", SIGN_JWK_ALG
    else:
        raise CryptoError("bad_key", "unsupported kty/crv")
    if jwk.get("use", expected_use) != expected_use or jwk.get("alg", expected_alg) != expected_alg:
        raise CryptoError("bad_key", "JWK use/alg do not match its key type")
    if "kid" in jwk and jwk["kid"] != key_id(key):
        raise CryptoError("bad_key", "JWK kid is not the key's RFC 7638 thumbprint")
    return key
