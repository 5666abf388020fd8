import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crypto import CryptoError, b64url_decode, b64url_encode, key_id, public_jwk, public_key_from_jwk


def _reason(call) -> str:
    with pytest.raises(CryptoError) as info:
        call()
    return info.value.reason


def test_key_id_matches_the_rfc7638_example_shape():
    # RFC 7638 §3.1 computes over the required members only; x/y are fixed-width.
    key = ec.derive_private_key(1, ec.SECP256R1()).public_key()
    kid = key_id(key)
    assert len(kid) == 43 and "=" not in kid
    assert kid == key_id(public_key_from_jwk(public_jwk(key, use="enc")))


def test_rfc7638_thumbprint_of_the_rfc8037_ed25519_example():
    # RFC 8037 Appendix A.3: thumbprint of the Ed25519 example key.
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    assert key_id(public_key_from_jwk(jwk)) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_jwk_shapes():
    p256 = ec.generate_private_key(ec.SECP256R1()).public_key()
    ed = Ed25519PrivateKey.generate().public_key()
    assert set(public_jwk(p256, use="enc")) == {"kty", "crv", "x", "y", "kid", "use", "alg"}
    assert public_jwk(p256, use="enc")["alg"] == "HPKE-P256-SHA256-A256GCM"
    assert public_jwk(ed, use="sig") == {**public_jwk(ed, use="sig"), "kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA"}
    assert _reason(lambda: public_jwk(p256, use="sig")) == "invalid_argument"


@pytest.mark.parametrize(
    "change",
    [
        {"kid": "not-the-thumbprint"},
        {"d": "AAAA"},
        {"crv": "P-384"},
        {"use": "sig"},
        {"x": "AAAA"},
        {"y": b64url_encode(b"\x00" * 31 + b"\x01")},
    ],
)
def test_invalid_jwks_are_refused(change):
    jwk = {**public_jwk(ec.generate_private_key(ec.SECP256R1()).public_key(), use="enc"), **change}
    assert _reason(lambda: public_key_from_jwk(jwk)) == "bad_key"


def test_b64url_round_trips_and_is_strict():
    for n in range(6):
        assert b64url_decode(b64url_encode(bytes(range(n)))) == bytes(range(n))
    for bad in ["AA==", "A+/B", "A", " AA", "AB"]:  # "AB": non-zero trailing bits
        assert _reason(lambda: b64url_decode(bad)) == "malformed"
