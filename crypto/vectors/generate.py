"""Regenerate the JSON vectors in this folder: ``python -m crypto.vectors.generate``.

Every key here is TEST-ONLY, derived from a public label, and must never be
used for real data. Signatures and JCS outputs are deterministic. Seals and
envelopes are randomised by design (ephemeral HPKE key, fresh data key and
nonce), so an existing blob is kept when it still opens with the same inputs;
re-running therefore leaves the files unchanged unless the inputs change.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import struct
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from crypto.envelope import decrypt_at_rest, encrypt_at_rest, rewrap_header
from crypto.errors import CryptoError
from crypto.form_seal import open_form, parse_form_seal_header, seal_form
from crypto.keys import b64url_encode, key_id, public_jwk
from crypto.seal import open_photo, parse_seal_header, seal_photo
from crypto.signing import canonical_json, sign_document

HERE = Path(__file__).resolve().parent
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

# Smallest well-formed baseline JPEG: a 1x1 grey pixel (SOI, DQT, SOF0, DHT, SOS, EOI).
TINY_JPEG = bytes.fromhex(
    "ffd8ffdb004300080606070605080707070909080a0c140d0c0b0b0c1912130f141d1a1f1e1d1a1c1c2024"
    "2e2720222c231c1c2837292c30313434341f27393d38323c2e333432ffc0000b080001000101011100ff"
    "c4001f0000010501010101010100000000000000000102030405060708090a0bffc400b5100002010303"
    "020403050504040000017d01020300041105122131410613516107227114328191a1082342b1c11552d1"
    "f02433627282090a161718191a25262728292a3435363738393a434445464748494a535455565758595a"
    "636465666768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aa"
    "b2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5"
    "f6f7f8f9faffda0008010100003f00fbd3ffd9"
)


def _label_bytes(label: str) -> bytes:
    return hashlib.sha256(f"clinphoto TEST-ONLY {label}".encode()).digest()


def test_seal_key(n: int) -> ec.EllipticCurvePrivateKey:
    scalar = int.from_bytes(_label_bytes(f"seal key {n}"), "big") % (_P256_ORDER - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP256R1())


def test_sign_key(n: int) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(_label_bytes(f"sign key {n}"))


def test_kek(n: int) -> bytes:
    return _label_bytes(f"kek {n}")


def _pkcs8_b64(private_key: ec.EllipticCurvePrivateKey) -> str:
    der = private_key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    return base64.b64encode(der).decode()


def _private_jwk(private_key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    jwk = public_jwk(private_key.public_key(), use="enc")
    jwk["d"] = b64url_encode(private_key.private_numbers().private_value.to_bytes(32, "big"))
    return jwk


def _load(name: str) -> dict[str, Any]:
    path = HERE / name
    return json.loads(path.read_text("utf-8")) if path.exists() else {}


def _write(name: str, data: dict[str, Any]) -> None:
    (HERE / name).write_text(json.dumps(data, indent=2, ensure_ascii=True) + "\n", "utf-8")


def seal_vectors() -> dict[str, Any]:
    key = test_seal_key(1)
    kid = key_id(key.public_key())
    keys = {kid: key}
    old = {c["name"]: c["blob"] for c in _load("seal-test-vectors.json").get("cases", [])}
    inputs = [
        ("tiny-jpeg", TINY_JPEG, "0b7f6a1e-3c2d-4e5f-8a9b-0c1d2e3f4a5b", "5d4c3b2a-1f0e-4d9c-8b7a-695847362514"),
        ("short-bytes", b"ClinPhoto test plaintext", "a0000000-0000-4000-8000-000000000001", "b0000000-0000-4000-8000-000000000002"),
        ("empty", b"", "a0000000-0000-4000-8000-000000000003", "b0000000-0000-4000-8000-000000000002"),
    ]
    cases = []
    for name, plaintext, photo_id, sequence_id in inputs:
        sha = hashlib.sha256(plaintext).hexdigest()
        blob_hex = old.get(name)
        try:
            assert blob_hex is not None
            opened = open_photo(bytes.fromhex(blob_hex), keys, photo_id=photo_id,
                                sequence_id=sequence_id, plaintext_sha256=sha)
            assert opened == plaintext
        except (AssertionError, CryptoError, ValueError):
            blob_hex = seal_photo(plaintext, key.public_key(), kid, photo_id, sequence_id).hex()
        header_len = parse_seal_header(bytes.fromhex(blob_hex)).length
        cases.append({
            "name": name, "photo_id": photo_id, "sequence_id": sequence_id,
            "plaintext": plaintext.hex(), "plaintext_sha256": sha,
            "header_length": header_len, "blob": blob_hex,
        })
    a, b = bytes.fromhex(cases[0]["blob"]), bytes.fromhex(cases[1]["blob"])
    la, lb = cases[0]["header_length"], cases[1]["header_length"]
    flipped = bytearray(a)
    flipped[-1] ^= 0x01
    rejects = [
        {"name": "ciphertext-bit-flipped", "blob": bytes(flipped).hex(), "expect_as": cases[0]["name"], "reason": "decrypt_failed"},
        {"name": "truncated-inside-enc", "blob": a[: la + 30].hex(), "expect_as": cases[0]["name"], "reason": "malformed"},
        {"name": "header-of-another-photo", "blob": (b[:lb] + a[la:]).hex(), "expect_as": cases[1]["name"], "reason": "decrypt_failed"},
        {"name": "expected-as-another-photo", "blob": a.hex(), "expect_as": cases[1]["name"], "reason": "wrong_photo"},
    ]
    return {
        "description": "TEST-ONLY key. Photo seals (crypto/FORMAT.md, CPS1): open every case with the private key and its expected ids/hash; every reject must fail with its reason when opened with the ids/hash of case expect_as.",
        "suite": {"mode": 0, "kem_id": 16, "kdf_id": 1, "aead_id": 2},
        "info_label": "clinphoto/seal/v1",
        "recipient": {"kid": kid, "private_jwk": _private_jwk(key), "pkcs8_b64": _pkcs8_b64(key),
                      "public_jwk": public_jwk(key.public_key(), use="enc")},
        "cases": cases,
        "rejects": rejects,
    }


def form_seal_vectors() -> dict[str, Any]:
    key = test_seal_key(1)
    kid = key_id(key.public_key())
    keys = {kid: key}
    old = {c["name"]: c["blob"] for c in _load("form-seal-test-vectors.json").get("cases", [])}
    forms = [
        ("rhinoplasty-pre-op", {
            "sequence_id": "b0000000-0000-4000-8000-000000000002", "patient_id": "IPP-0042",
            "performed_on": "2026-11-27", "procedure": "rhinoplasty", "anatomical_region": "nose",
            "laterality": "not_applicable", "timing": {"phase": "pre_op"}, "consent": "record",
            "view_protocol": "rhinoplasty", "created_at": "2026-11-27T09:41:07Z",
        }),
        ("post-op-with-note", {
            "sequence_id": "b0000000-0000-4000-8000-000000000004", "patient_id": "12345678",
            "performed_on": "2026-11-27", "procedure": "rhinoplasty", "anatomical_region": "nose",
            "laterality": "not_applicable", "timing": {"phase": "post_op", "delay_days": 30},
            "consent": "record", "view_protocol": "rhinoplasty", "surgeon": "Dr \u00c9lise Martin",
            "note": "\u00e9t\u00e9 \u20ac \"quoted\"",
        }),
    ]
    cases = []
    for name, form in forms:
        sequence_id = form["sequence_id"]
        blob_hex = old.get(name)
        try:
            assert blob_hex is not None
            assert open_form(bytes.fromhex(blob_hex), keys, sequence_id=sequence_id) == form
        except (AssertionError, CryptoError, ValueError):
            blob_hex = seal_form(form, key.public_key(), kid).hex()
        canonical = canonical_json(form)
        cases.append({
            "name": name, "sequence_id": sequence_id, "form": form,
            "canonical": canonical.decode("utf-8"), "plaintext_sha256": hashlib.sha256(canonical).hexdigest(),
            "header_length": parse_form_seal_header(bytes.fromhex(blob_hex)).length, "blob": blob_hex,
        })
    a, b = bytes.fromhex(cases[0]["blob"]), bytes.fromhex(cases[1]["blob"])
    la, lb = cases[0]["header_length"], cases[1]["header_length"]
    flipped = bytearray(a)
    flipped[-1] ^= 0x01
    photo = bytes.fromhex(next(c for c in seal_vectors()["cases"] if c["name"] == "short-bytes")["blob"])
    rejects = [
        {"name": "ciphertext-bit-flipped", "blob": bytes(flipped).hex(), "expect_as": cases[0]["name"], "reason": "decrypt_failed"},
        {"name": "truncated-inside-enc", "blob": a[: la + 30].hex(), "expect_as": cases[0]["name"], "reason": "malformed"},
        {"name": "header-of-another-form", "blob": (b[:lb] + a[la:]).hex(), "expect_as": cases[1]["name"], "reason": "decrypt_failed"},
        {"name": "expected-as-another-sequence", "blob": a.hex(), "expect_as": cases[1]["name"], "reason": "wrong_sequence"},
        {"name": "photo-seal-passed-as-form", "blob": photo.hex(), "expect_as": cases[0]["name"], "reason": "malformed"},
    ]
    return {
        "description": "TEST-ONLY key (the photo seal vectors' key). Form seals (crypto/FORMAT.md, CPF1): open every case with the private key and its sequence_id; the plaintext is canonical, the RFC 8785 JSON of form. Every reject must fail with its reason when opened with the sequence_id of case expect_as.",
        "suite": {"mode": 0, "kem_id": 16, "kdf_id": 1, "aead_id": 2},
        "info_label": "clinphoto/seal-form/v1",
        "recipient": {"kid": kid, "private_jwk": _private_jwk(key), "pkcs8_b64": _pkcs8_b64(key),
                      "public_jwk": public_jwk(key.public_key(), use="enc")},
        "cases": cases,
        "rejects": rejects,
    }


def envelope_vectors() -> dict[str, Any]:
    keks = {"kek-00000001": test_kek(1), "kek-00000002": test_kek(2)}
    old = {c["name"]: c["blob"] for c in _load("envelope-test-vectors.json").get("cases", [])}
    plaintext = b"ClinPhoto at-rest test object"
    object_id = "photos/2025/01/0b7f6a1e-3c2d-4e5f-8a9b-0c1d2e3f4a5b.jpg"

    def keep(name: str) -> bytes | None:
        try:
            blob = bytes.fromhex(old[name])
            return blob if decrypt_at_rest(blob, keks, object_id=object_id) == plaintext else None
        except (KeyError, CryptoError, ValueError):
            return None

    first = keep("wrapped-by-kek-1") or encrypt_at_rest(plaintext, kek_id="kek-00000001", kek=keks["kek-00000001"], object_id=object_id)
    header, old_len = rewrap_header(first, keks, new_kek_id="kek-00000002", new_kek=keks["kek-00000002"])
    rewrapped = header + first[old_len:]  # key wrap is deterministic: same DEK, same output
    return {
        "description": "TEST-ONLY KEKs. At-rest envelopes (crypto/FORMAT.md, CPR1): decrypt each blob with keks and object_id; 'rewrapped-to-kek-2' is the first blob after rewrap_header, with the same ciphertext.",
        "keks": {k: v.hex() for k, v in keks.items()},
        "aad_label": "clinphoto/at-rest/v1",
        "cases": [
            {"name": "wrapped-by-kek-1", "kek_id": "kek-00000001", "object_id": object_id, "plaintext": plaintext.hex(), "blob": first.hex()},
            {"name": "rewrapped-to-kek-2", "kek_id": "kek-00000002", "object_id": object_id, "plaintext": plaintext.hex(), "blob": rewrapped.hex()},
        ],
    }


# RFC 8785 Appendix B number samples: IEEE 754 bits -> ECMAScript text.
_RFC8785_NUMBERS = [
    ("0000000000000000", "0"), ("8000000000000000", "0"), ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"), ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"), ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"), ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"), ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"), ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"), ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"), ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"), ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"), ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"), ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]

# cyberphone/json-canonicalization testdata (input text -> published output).
_CYBERPHONE = [
    ("values", '{\n  "numbers": [1E30, 4.50, 333333333.33333329, 2e-3, 0.000000000000000000000000001],\n  "escaping": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",\n  "literals": [null, true, false]\n}',
     '{"escaping":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/","literals":[null,true,false],"numbers":[1e+30,4.5,333333333.3333333,0.002,1e-27]}'),
    ("weird", '{\n  "\\u20ac": "Euro Sign",\n  "1": "One",\n  "\\u0080": "Control\\u007f",\n  "\\ud83d\\ude02": "Smiley",\n  "\\u00f6": "Latin Small Letter O With Diaeresis",\n  "\\ufb33": "Hebrew Letter Dalet With Dagesh",\n  "</script>": "Browser Challenge"\n}\n',
     '{"1":"One","</script>":"Browser Challenge","\u0080":"Control\u007f","\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\U0001f602":"Smiley","\ufb33":"Hebrew Letter Dalet With Dagesh"}'),
    ("structures", '{\n  "1": {"f": {"f": "hi","F": 5} ,"\\n": 56.0},\n  "10": { },\n  "": "empty",\n  "a": { },\n  "111": [ { } ],\n  "A": { }\n}',
     '{"":"empty","1":{"\\n":56,"f":{"F":5,"f":"hi"}},"10":{},"111":[{}],"A":{},"a":{}}'),
    ("french", '{\n  "peach": "This sorting order",\n  "p\u00e9ch\u00e9": "is wrong according to French",\n  "p\u00eache": "but canonicalization MUST",\n  "sin":   "ingnore locale"\n}\n',
     '{"peach":"This sorting order","p\u00e9ch\u00e9":"is wrong according to French","p\u00eache":"but canonicalization MUST","sin":"ingnore locale"}'),
]


def jcs_vectors() -> dict[str, Any]:
    return {
        "description": "RFC 8785 JCS. 'documents': parse input (JSON text) and canonicalize; the UTF-8 of the result must equal output. 'numbers': the IEEE 754 double with these big-endian bits serializes as text.",
        "documents": [{"name": n, "source": "cyberphone/json-canonicalization testdata", "input": i, "output": o}
                      for n, i, o in _CYBERPHONE],
        "numbers": [{"ieee754_hex": h, "text": t, "source": "RFC 8785 Appendix B"} for h, t in _RFC8785_NUMBERS],
    }


def signing_vectors() -> dict[str, Any]:
    key = test_sign_key(1)
    kid = key_id(key.public_key())
    document = {
        "type": "clinphoto.receipt", "batch_id": "c0000000-0000-4000-8000-000000000001",
        "photos": [{"photo_id": "a0000000-0000-4000-8000-000000000001",
                    "plaintext_sha256": hashlib.sha256(b"ClinPhoto test plaintext").hexdigest()}],
        "issued_at": "2025-01-01T00:00:00Z", "count": 1, "note": "\u00e9t\u00e9 \u20ac",
    }
    return {
        "description": "TEST-ONLY key. Ed25519 over RFC 8785 canonical JSON; signature is {alg, kid, sig} with sig base64url (no padding) of the 64-byte signature of canonical.",
        "cases": [{
            "name": "receipt", "seed": key.private_bytes_raw().hex(),
            "public_jwk": public_jwk(key.public_key(), use="sig"), "document": document,
            "canonical": canonical_json(document).decode("utf-8"),
            "signature": sign_document(document, key, kid),
        }],
    }


def main() -> None:
    _write("seal-test-vectors.json", seal_vectors())
    _write("form-seal-test-vectors.json", form_seal_vectors())
    _write("envelope-test-vectors.json", envelope_vectors())
    _write("jcs-vectors.json", jcs_vectors())
    _write("signing-test-vectors.json", signing_vectors())
    # Sanity: the RFC 8785 numbers list must round-trip through our own encoder.
    for bits, text in _RFC8785_NUMBERS:
        assert canonical_json(struct.unpack(">d", bytes.fromhex(bits))[0]).decode() == text, bits


if __name__ == "__main__":
    main()
