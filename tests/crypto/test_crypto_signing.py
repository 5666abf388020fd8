import json
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import crypto
from crypto import CryptoError, canonical_json, key_id, public_key_from_jwk, sign_document, verify_document

VECTORS_DIR = Path(crypto.__file__).parent / "vectors"
JCS = json.loads((VECTORS_DIR / "jcs-vectors.json").read_text())
SIGNING = json.loads((VECTORS_DIR / "signing-test-vectors.json").read_text())


def _reason(call) -> str:
    with pytest.raises(CryptoError) as info:
        call()
    return info.value.reason


@pytest.mark.parametrize("case", JCS["documents"], ids=lambda c: c["name"])
def test_jcs_documents_canonicalize_to_the_published_output(case):
    assert canonical_json(json.loads(case["input"])) == case["output"].encode("utf-8")


@pytest.mark.parametrize("case", JCS["numbers"], ids=lambda c: c["ieee754_hex"])
def test_jcs_numbers_serialize_like_ecmascript(case):
    value = struct.unpack(">d", bytes.fromhex(case["ieee754_hex"]))[0]
    assert canonical_json(value).decode() == case["text"]


def test_jcs_sorts_keys_by_utf16_code_units_not_code_points():
    # U+1F600 is D83D DE00 in UTF-16, which sorts before U+FB33 although its code point is larger.
    assert canonical_json({"\ufb33": 1, "\U0001f600": 2}) == '{"\U0001f600":2,"\ufb33":1}'.encode()


@pytest.mark.parametrize(
    "value,text",
    [(1.0, "1"), (-0.0, "0"), (2.0**53, "9007199254740992"), (1e21, "1e+21"), (0.1, "0.1"), (True, "true"), (None, "null")],
)
def test_jcs_scalars(value, text):
    assert canonical_json(value).decode() == text


def test_jcs_escapes_only_what_it_must():
    assert canonical_json("\u0000\u001f\u007f\u2028\"\\/\u00e9") == b'"\\u0000\\u001f\x7f\xe2\x80\xa8\\"\\\\/\xc3\xa9"'


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 2**53 + 1, b"bytes", {1: "x"}, "\ud800", object()])
def test_jcs_refuses_what_json_cannot_hold_exactly(value):
    assert _reason(lambda: canonical_json(value)) == "invalid_argument"


@pytest.fixture(scope="module")
def key():
    return Ed25519PrivateKey.generate()


def test_signature_round_trips(key):
    kid = key_id(key.public_key())
    document = {"b": [1, 2.5, "x"], "a": None}
    signature = sign_document(document, key, kid)
    assert signature["alg"] == "Ed25519" and signature["kid"] == kid and "=" not in signature["sig"]
    verify_document(document, signature, {kid: key.public_key()})
    verify_document(dict(reversed(list(document.items()))), signature, {kid: key.public_key()})


def test_a_changed_document_is_a_bad_signature(key):
    kid = key_id(key.public_key())
    signature = sign_document({"n": 1}, key, kid)
    assert _reason(lambda: verify_document({"n": 2}, signature, {kid: key.public_key()})) == "bad_signature"


def test_an_unknown_signer_is_refused(key):
    signature = sign_document({"n": 1}, key, "someone")
    assert _reason(lambda: verify_document({"n": 1}, signature, {})) == "unknown_key"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s: {**s, "alg": "none"},
        lambda s: {**s, "sig": s["sig"] + "="},
        lambda s: {**s, "sig": s["sig"][:-2]},
        lambda s: {**s, "sig": 5},
        lambda s: {k: v for k, v in s.items() if k != "alg"},
        lambda s: {**s, "sig": ("B" if s["sig"][0] == "A" else "A") + s["sig"][1:]},
    ],
)
def test_malformed_signatures_are_bad_signatures(key, mutate):
    kid = key_id(key.public_key())
    signature = mutate(sign_document({"n": 1}, key, kid))
    assert _reason(lambda: verify_document({"n": 1}, signature, {kid: key.public_key()})) == "bad_signature"


@pytest.mark.parametrize("case", SIGNING["cases"], ids=lambda c: c["name"])
def test_signing_vectors_reproduce(case):
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(case["seed"]))
    public = public_key_from_jwk(case["public_jwk"])
    assert canonical_json(case["document"]).decode("utf-8") == case["canonical"]
    assert sign_document(case["document"], key, case["public_jwk"]["kid"]) == case["signature"]
    verify_document(case["document"], case["signature"], {case["public_jwk"]["kid"]: public})
