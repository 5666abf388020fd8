"""Ed25519 signatures over RFC 8785 canonical JSON (receipts, checkpoints, exports).

The signature travels beside the document as ``{"alg", "kid", "sig"}`` rather
than inside it, so the signed bytes are exactly ``canonical_json(document)``
and a verifier never has to strip a field before checking.
"""

from __future__ import annotations

from typing import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from crypto.errors import CryptoError
from crypto.jcs import canonical_json
from crypto.keys import b64url_decode, b64url_encode

__all__ = ["ALG", "canonical_json", "sign_document", "verify_document"]

ALG = "Ed25519"
_SIG_LEN = 64


def sign_document(
    document: Mapping[str, object], private_key: Ed25519PrivateKey, key_id: str
) -> dict[str, str]:
    """Sign ``canonical_json(document)``; ``key_id`` is the signing key's RFC 7638 thumbprint."""
    if not isinstance(document, Mapping):
        raise CryptoError("invalid_argument", "a signed document is a JSON object")
    signature = private_key.sign(canonical_json(document))
    return {"alg": ALG, "kid": key_id, "sig": b64url_encode(signature)}


def verify_document(
    document: Mapping[str, object],
    signature: Mapping[str, object],
    public_keys: Mapping[str, Ed25519PublicKey],
) -> None:
    """Return if ``signature`` is a valid Ed25519 signature of ``document``; raise otherwise."""
    if not isinstance(signature, Mapping) or signature.get("alg") != ALG:
        raise CryptoError("bad_signature", "unsupported or missing alg")
    kid, sig = signature.get("kid"), signature.get("sig")
    if not isinstance(kid, str) or not isinstance(sig, str):
        raise CryptoError("bad_signature", "kid and sig must be strings")
    public_key = public_keys.get(kid)
    if public_key is None:
        raise CryptoError("unknown_key")
    try:
        raw = b64url_decode(sig)
    except CryptoError as exc:
        raise CryptoError("bad_signature", "sig is not base64url") from exc
    if len(raw) != _SIG_LEN:
        raise CryptoError("bad_signature", "an Ed25519 signature is 64 bytes")
    if not isinstance(document, Mapping):
        raise CryptoError("invalid_argument", "a signed document is a JSON object")
    try:
        public_key.verify(raw, canonical_json(document))
    except InvalidSignature as exc:
        raise CryptoError("bad_signature") from exc
