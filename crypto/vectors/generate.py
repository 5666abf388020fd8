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
import json
import os
import struct
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from crypto.envelope import decrypt_at_rest, encrypt_at_rest, rewrap_header
from crypto.errors import CryptoError
from crypto.form_seal import open_form, parse_form_seal_header, seal_form
from crypto.keys import b64url_encode, key_id, public_jwk
from crypto import seal
from crypto._sealing import hpke_seal
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


def pattern(length: int) -> bytes:
    """The plaintext of a vector given as ``{"pattern_length": n}``: byte i is i mod 251."""
    return bytes(i % 251 for i in range(251)) * (length // 251) + bytes(range(length % 251))


def vector_plaintext(case: dict[str, Any]) -> bytes:
    plaintext = case["plaintext"]
    return bytes.fromhex(plaintext["hex"]) if "hex" in plaintext else pattern(plaintext["pattern_length"])


def _forge(plaintext: bytes, public_key: ec.EllipticCurvePublicKey, kid: str, photo_id: str, sequence_id: str,
           chunks: list[tuple[int, int, bool]], header_hash_of: bytes | None = None) -> bytes:
    """A seal built by hand: ``chunks`` lists (start, end, last flag) of the plaintext, in blob order,
    each sealed under the counter of its position; the header hash is that of ``header_hash_of``
    (default: the plaintext). For reject vectors only."""
    header = seal.HEADER.build(kid, ((photo_id, "photo_id"), (sequence_id, "sequence_id")),
                               hashlib.sha256(plaintext if header_hash_of is None else header_hash_of).digest())
    secret = os.urandom(seal.PAYLOAD_KEY_LEN + seal.NONCE_PREFIX_LEN)
    aead, prefix = AESGCM(secret[: seal.PAYLOAD_KEY_LEN]), secret[seal.PAYLOAD_KEY_LEN:]
    out = [header, hpke_seal(secret, public_key, seal.INFO_LABEL + header)]
    for counter, (start, end, last) in enumerate(chunks):
        nonce = prefix + counter.to_bytes(4, "big") + (b"\x01" if last else b"\x00")
        out.append(aead.encrypt(nonce, plaintext[start:end], None))
    return b"".join(out)


def _chunk_spans(blob: bytes) -> list[tuple[int, int]]:
    """(start, end) of every chunk of a well-formed blob."""
    at = seal.parse_seal_header(blob).length + seal.WRAPPED_LEN
    spans = []
    while at < len(blob):
        spans.append((at, min(len(blob), at + seal.CHUNK_CT_SIZE)))
        at = spans[-1][1]
    return spans


def _photo_reason(blob: bytes, keys: dict[str, Any], expected: dict[str, str]) -> str | None:
    try:
        seal.open_photo(blob, keys, photo_id=expected["photo_id"], sequence_id=expected["sequence_id"],
                        plaintext_sha256=expected["plaintext_sha256"])
    except CryptoError as exc:
        return exc.reason
    return None


_C = seal.CHUNK_SIZE
_SEAL_INPUTS: list[tuple[str, dict[str, Any], str]] = [
    ("empty", {"hex": ""}, "a0000000-0000-4000-8000-000000000003"),
    ("short-bytes", {"hex": b"ClinPhoto test plaintext".hex()}, "a0000000-0000-4000-8000-000000000001"),
    ("tiny-jpeg", {"hex": TINY_JPEG.hex()}, "0b7f6a1e-3c2d-4e5f-8a9b-0c1d2e3f4a5b"),
    ("one-chunk-minus-one-byte", {"pattern_length": _C - 1}, "a0000000-0000-4000-8000-000000000011"),
    ("exactly-one-chunk", {"pattern_length": _C}, "a0000000-0000-4000-8000-000000000012"),
    ("one-chunk-plus-one-byte", {"pattern_length": _C + 1}, "a0000000-0000-4000-8000-000000000013"),
    ("exactly-two-chunks", {"pattern_length": 2 * _C}, "a0000000-0000-4000-8000-000000000014"),
    ("multi-chunk", {"pattern_length": 2 * _C + 1000}, "a0000000-0000-4000-8000-000000000015"),
]
_SEQUENCE = "b0000000-0000-4000-8000-000000000002"


def seal_vectors() -> dict[str, Any]:
    key, other_key = test_seal_key(1), test_seal_key(2)
    kid, other_kid = key_id(key.public_key()), key_id(other_key.public_key())
    keys = {kid: key}
    old = _load("seal-test-vectors.json")
    cases = []
    for name, plaintext_spec, photo_id in _SEAL_INPUTS:
        case: dict[str, Any] = {"name": name, "photo_id": photo_id, "sequence_id": _SEQUENCE, "plaintext": plaintext_spec}
        plaintext = vector_plaintext(case)
        case["plaintext_sha256"] = hashlib.sha256(plaintext).hexdigest()
        blob = seal.seal_photo(plaintext, key.public_key(), kid, photo_id, _SEQUENCE)
        case["header_length"] = seal.parse_seal_header(blob).length
        case["chunks"] = max(1, -(-len(plaintext) // _C))
        case["blob_b64"] = base64.b64encode(blob).decode()
        cases.append(case)
    by_name = {c["name"]: c for c in cases}

    def expect(name: str) -> dict[str, str]:
        c = by_name[name]
        return {"photo_id": c["photo_id"], "sequence_id": c["sequence_id"], "plaintext_sha256": c["plaintext_sha256"]}

    def blob_of(name: str) -> bytes:
        return base64.b64decode(by_name[name]["blob_b64"])

    short, two = blob_of("short-bytes"), blob_of("exactly-two-chunks")
    # multi-chunk rejects start from the smallest two-chunk blob, to keep this file small
    base = "one-chunk-plus-one-byte"
    multi, spans, two_spans = blob_of(base), _chunk_spans(blob_of(base)), _chunk_spans(two)
    m_plain, m_photo = vector_plaintext(by_name[base]), by_name[base]["photo_id"]
    one_plain = vector_plaintext(by_name["exactly-one-chunk"])
    one_photo = by_name["exactly-one-chunk"]["photo_id"]
    short_plain = vector_plaintext(by_name["short-bytes"])
    short_len = by_name["short-bytes"]["header_length"]

    def flipped(blob: bytes, at: int) -> bytes:
        out = bytearray(blob)
        out[at] ^= 0x01
        return bytes(out)

    (c0, c1) = spans
    rejects = [
        ("truncated-at-a-chunk-boundary", multi[: c1[0]], base, "decrypt_failed",
         "the first chunk only: it was not sealed as the last"),
        ("truncated-inside-a-chunk", multi[: c0[0] + 100], base, "decrypt_failed",
         "ends 100 bytes into the first chunk"),
        ("truncated-inside-the-last-tag", multi[: c1[0] + 10], base, "malformed",
         "the last chunk is 10 bytes, shorter than a tag"),
        ("truncated-inside-the-wrapped-key", multi[: by_name[base]["header_length"] + 30], base,
         "malformed", "ends inside enc"),
        ("truncated-inside-the-header", multi[:50], base, "malformed", "ends inside the header"),
        ("chunks-reordered", multi[: c0[0]] + multi[c1[0]:c1[1]] + multi[c0[0]:c0[1]],
         base, "decrypt_failed", "chunk 1 before chunk 0"),
        ("chunk-from-another-blob", multi[: c0[0]] + two[two_spans[0][0]:two_spans[0][1]] + multi[c1[0]:],
         base, "decrypt_failed", "chunk 0 of exactly-two-chunks (same plaintext bytes) in place of chunk 0"),
        ("last-flag-missing", _forge(m_plain, key.public_key(), kid, m_photo, _SEQUENCE,
                                     [(0, _C, False), (_C, len(m_plain), False)]),
         base, "decrypt_failed", "every chunk sealed with last flag 0"),
        ("last-flag-on-the-first-chunk", _forge(m_plain, key.public_key(), kid, m_photo, _SEQUENCE,
                                                [(0, _C, True), (_C, len(m_plain), True)]),
         base, "decrypt_failed", "chunk 0 sealed as the last, then chunk 1"),
        ("extra-chunk-appended", _forge(one_plain + b"extra", key.public_key(), kid, one_photo, _SEQUENCE,
                                        [(0, _C, True), (_C, _C + 5, True)], header_hash_of=one_plain),
         "exactly-one-chunk", "decrypt_failed", "exactly-one-chunk's header and last chunk, then a 5-byte chunk"),
        ("empty-last-chunk-after-a-full-one", _forge(one_plain, key.public_key(), kid, one_photo, _SEQUENCE,
                                                     [(0, _C, False), (_C, _C, True)]),
         "exactly-one-chunk", "malformed", "a full chunk, then an empty last chunk: not the one encoding"),
        ("first-chunk-tag-flipped", flipped(multi, c0[1] - 1), base, "decrypt_failed", "last byte of chunk 0"),
        ("last-chunk-tag-flipped", flipped(short, len(short) - 1), "short-bytes", "decrypt_failed", "last byte of the blob"),
        ("wrapped-key-flipped", flipped(short, short_len + 65 + 3), "short-bytes", "decrypt_failed",
         "a byte of the sealed payload key"),
        ("enc-flipped", flipped(short, short_len + 10), "short-bytes", "decrypt_failed", "a byte of enc"),
        ("header-of-another-photo", blob_of("tiny-jpeg")[: by_name["tiny-jpeg"]["header_length"]] + short[short_len:],
         "tiny-jpeg", "decrypt_failed", "tiny-jpeg's header on short-bytes' payload"),
        ("wrong-photo-id", short, None, "wrong_photo", "short-bytes opened as tiny-jpeg"),
        ("sealed-to-another-key", seal.seal_photo(short_plain, other_key.public_key(), kid,
                                                  by_name["short-bytes"]["photo_id"], _SEQUENCE),
         "short-bytes", "decrypt_failed", "sealed to TEST-ONLY seal key 2 under key 1's kid"),
        ("unknown-key-id", seal.seal_photo(short_plain, other_key.public_key(), other_kid,
                                           by_name["short-bytes"]["photo_id"], _SEQUENCE),
         "short-bytes", "unknown_key", "sealed to TEST-ONLY seal key 2 under its own kid"),
        ("version-1", short[:4] + b"\x01" + short[5:], "short-bytes", "malformed", "the removed v1 format"),
        ("expected-hash-differs", short, None, "hash_mismatch", "short-bytes expected with the hash of tiny-jpeg"),
    ]
    expectations = {"wrong-photo-id": {**expect("tiny-jpeg"), "sequence_id": _SEQUENCE},
                    "expected-hash-differs": {**expect("short-bytes"), "plaintext_sha256": by_name["tiny-jpeg"]["plaintext_sha256"]}}
    reject_docs = []
    for name, blob, as_case, reason, why in rejects:
        expected = expect(as_case) if as_case is not None else expectations[name]
        got = _photo_reason(blob, keys, expected)
        assert got == reason, (name, got, reason)
        reject_docs.append({"name": name, "why": why, "expected": expected, "reason": reason,
                            "blob_b64": base64.b64encode(blob).decode()})
    doc = {
        "description": ("TEST-ONLY keys. Photo seals v2 (crypto/FORMAT.md, CPS1 version 2). cases: open blob_b64 "
                        "(standard base64) with the recipient key and the case's photo_id, sequence_id and "
                        "plaintext_sha256; the result is the plaintext: {hex} or {pattern_length: n}, byte i = i mod 251. "
                        "rejects: opening blob_b64 with 'expected' must fail with 'reason'."),
        "suite": {"mode": 0, "kem_id": 16, "kdf_id": 1, "aead_id": 2},
        "version": seal.VERSION,
        "info_label": seal.INFO_LABEL.decode(),
        "chunk_size": seal.CHUNK_SIZE,
        "recipient": {"kid": kid, "private_jwk": _private_jwk(key), "pkcs8_b64": _pkcs8_b64(key),
                      "public_jwk": public_jwk(key.public_key(), use="enc")},
        "cases": cases,
        "rejects": reject_docs,
    }
    return _keep_if_still_true(old, doc, keys)


def _keep_if_still_true(old: dict[str, Any], new: dict[str, Any], keys: dict[str, Any]) -> dict[str, Any]:
    """Seals are randomised: keep the old file when it says the same things and every blob in it
    still opens (or fails with its reason), so regenerating changes nothing unless the inputs did."""
    def shape(doc: dict[str, Any]) -> Any:
        return ({k: v for k, v in doc.items() if k not in ("cases", "rejects")},
                [{k: v for k, v in c.items() if k != "blob_b64"} for c in doc.get("cases", [])],
                [{k: v for k, v in r.items() if k != "blob_b64"} for r in doc.get("rejects", [])])
    if not old or shape(old) != shape(new):
        return new
    try:
        for case in old["cases"]:
            blob = base64.b64decode(case["blob_b64"])
            if seal.open_photo(blob, keys, photo_id=case["photo_id"], sequence_id=case["sequence_id"],
                               plaintext_sha256=case["plaintext_sha256"]) != vector_plaintext(case):
                return new
        for reject in old["rejects"]:
            if _photo_reason(base64.b64decode(reject["blob_b64"]), keys, reject["expected"]) != reject["reason"]:
                return new
    except (CryptoError, ValueError, KeyError):
        return new
    return old


def form_seal_vectors() -> dict[str, Any]:
    key = test_seal_key(1)
    kid = key_id(key.public_key())
    keys = {kid: key}
    old = {c["name"]: c["blob"] for c in _load("form-seal-test-vectors.json").get("cases", [])}
    forms: list[tuple[str, dict[str, Any]]] = [
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
    cases: list[dict[str, Any]] = []
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
    photo = base64.b64decode(next(c for c in seal_vectors()["cases"] if c["name"] == "short-bytes")["blob_b64"])
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
