import json
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_private_key

import crypto
from crypto import CryptoError, canonical_json, key_id, open_form, open_photo, parse_form_seal_header, seal_form, seal_photo
from crypto.form_seal import HEADER_MAX, INFO_LABEL, MAGIC
from crypto._sealing import ENC_LEN
from crypto.seal import INFO_LABEL as PHOTO_INFO_LABEL

VECTORS = json.loads((Path(crypto.__file__).parent / "vectors" / "form-seal-test-vectors.json").read_text())
CASES = {case["name"]: case for case in VECTORS["cases"]}

SEQUENCE = "5d4c3b2a-1f0e-4d9c-8b7a-695847362514"
OTHER = "5d4c3b2a-1f0e-4d9c-8b7a-695847362515"
FORM = {"sequence_id": SEQUENCE, "patient_id": "IPP-0042", "procedure": "rhinoplasty",
        "timing": {"phase": "post_op", "delay_days": 30}, "note": "\u00e9t\u00e9 \u20ac"}


@pytest.fixture(scope="module")
def blob(key):
    return seal_form(FORM, key.public_key(), key_id(key.public_key()))


def test_form_seal_round_trips(blob, keys):
    assert open_form(blob, keys, sequence_id=SEQUENCE) == FORM


def test_header_binds_sequence_and_canonical_hash_and_hides_the_patient(blob, key):
    header = parse_form_seal_header(blob)
    assert header.sequence_id == SEQUENCE and header.key_id == key_id(key.public_key())
    assert header.length == 6 + 43 + 16 + 32 <= HEADER_MAX
    import hashlib
    assert header.plaintext_sha256 == hashlib.sha256(canonical_json(FORM)).hexdigest()
    assert b"IPP-0042" not in blob and blob[:4] == MAGIC


def test_sealing_twice_gives_different_blobs(key):
    kid = key_id(key.public_key())
    assert seal_form(FORM, key.public_key(), kid) != seal_form(FORM, key.public_key(), kid)


def test_every_byte_flipped_is_refused(blob, keys):
    for i in range(len(blob)):
        damaged = bytearray(blob)
        damaged[i] ^= 0x01
        with pytest.raises(CryptoError) as error:
            open_form(bytes(damaged), keys, sequence_id=SEQUENCE)
        assert error.value.reason in {"malformed", "wrong_sequence", "unknown_key", "decrypt_failed"}, i


@pytest.mark.parametrize("cut", [0, 3, 20, 70, 100, 130])
def test_truncated_form_seal_is_malformed(blob, keys, cut):
    with pytest.raises(CryptoError) as error:
        open_form(blob[:cut], keys, sequence_id=SEQUENCE)
    assert error.value.reason == "malformed"


def test_a_form_opened_as_another_sequence_is_wrong_sequence(blob, keys):
    with pytest.raises(CryptoError) as error:
        open_form(blob, keys, sequence_id=OTHER)
    assert error.value.reason == "wrong_sequence"


def test_header_of_another_form_fails_to_decrypt(blob, key, keys):
    other = seal_form({**FORM, "sequence_id": OTHER}, key.public_key(), key_id(key.public_key()))
    length = parse_form_seal_header(blob).length
    with pytest.raises(CryptoError) as error:
        open_form(other[:length] + blob[length:], keys, sequence_id=OTHER)
    assert error.value.reason == "decrypt_failed"


def test_a_photo_seal_is_not_a_form_and_a_form_seal_is_not_a_photo(blob, key, keys):
    kid = key_id(key.public_key())
    plaintext = canonical_json(FORM)
    photo = seal_photo(plaintext, key.public_key(), kid, OTHER, SEQUENCE)
    with pytest.raises(CryptoError) as error:
        open_form(photo, keys, sequence_id=SEQUENCE)
    assert error.value.reason == "malformed"
    # Even relabelled with the form magic and layout, the photo's body derives another key schedule.
    header = parse_form_seal_header(blob)
    import hashlib
    forged = blob[: header.length - 32] + hashlib.sha256(plaintext).digest() + photo[113:]
    with pytest.raises(CryptoError) as error:
        open_form(forged, keys, sequence_id=SEQUENCE)
    assert error.value.reason == "decrypt_failed"
    with pytest.raises(CryptoError) as error:
        open_photo(blob, keys, photo_id=OTHER, sequence_id=SEQUENCE, plaintext_sha256=header.plaintext_sha256)
    assert error.value.reason == "malformed"
    assert INFO_LABEL != PHOTO_INFO_LABEL


def test_a_form_naming_another_sequence_than_its_header_is_refused(key, keys):
    from crypto.form_seal import VERSION
    from crypto._sealing import hpke_seal
    import hashlib
    kid = key_id(key.public_key())
    plaintext = canonical_json({**FORM, "sequence_id": OTHER})
    header = MAGIC + bytes([VERSION, len(kid)]) + kid.encode() + uuid.UUID(SEQUENCE).bytes + hashlib.sha256(plaintext).digest()
    blob = header + hpke_seal(plaintext, key.public_key(), INFO_LABEL + header)
    with pytest.raises(CryptoError) as error:
        open_form(blob, keys, sequence_id=SEQUENCE)
    assert error.value.reason == "wrong_sequence"


@pytest.mark.parametrize("plaintext", [b'{"b":1,"a":2}', b"[1]", b'{"a":NaN}', b"\xff", b'{"a": 1}'])
def test_a_plaintext_that_is_not_canonical_json_of_an_object_is_malformed(key, keys, plaintext):
    from crypto.form_seal import VERSION
    from crypto._sealing import hpke_seal
    import hashlib
    kid = key_id(key.public_key())
    header = MAGIC + bytes([VERSION, len(kid)]) + kid.encode() + uuid.UUID(SEQUENCE).bytes + hashlib.sha256(plaintext).digest()
    blob = header + hpke_seal(plaintext, key.public_key(), INFO_LABEL + header)
    with pytest.raises(CryptoError) as error:
        open_form(blob, keys, sequence_id=SEQUENCE)
    assert error.value.reason == "malformed"


def test_unknown_key_and_wrong_key(blob, key):
    with pytest.raises(CryptoError) as error:
        open_form(blob, {}, sequence_id=SEQUENCE)
    assert error.value.reason == "unknown_key"
    with pytest.raises(CryptoError) as error:
        open_form(blob, {key_id(key.public_key()): ec.generate_private_key(ec.SECP256R1())}, sequence_id=SEQUENCE)
    assert error.value.reason == "decrypt_failed"


@pytest.mark.parametrize("form", [{**FORM, "sequence_id": SEQUENCE.upper()}, {"patient_id": "x"}, [FORM],
                                  {**FORM, "n": float("nan")}, {**FORM, "big": 2**60}])
def test_invalid_forms_are_refused_when_sealing(key, form):
    with pytest.raises(CryptoError) as error:
        seal_form(form, key.public_key(), key_id(key.public_key()))
    assert error.value.reason == "invalid_argument"


def test_bad_arguments_when_opening(blob, keys):
    with pytest.raises(CryptoError) as error:
        open_form(blob, keys, sequence_id=SEQUENCE.upper())
    assert error.value.reason == "invalid_argument"


def _vector_keys():
    private = load_der_private_key(__import__("base64").b64decode(VECTORS["recipient"]["pkcs8_b64"]), None)
    return {VECTORS["recipient"]["kid"]: private}


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: c["name"])
def test_form_seal_vectors_open(case):
    blob = bytes.fromhex(case["blob"])
    assert open_form(blob, _vector_keys(), sequence_id=case["sequence_id"]) == case["form"]
    assert canonical_json(case["form"]).decode() == case["canonical"]
    assert parse_form_seal_header(blob).length == case["header_length"]
    assert len(blob) == case["header_length"] + ENC_LEN + len(case["canonical"].encode()) + 16


@pytest.mark.parametrize("case", VECTORS["rejects"], ids=lambda c: c["name"])
def test_form_seal_reject_vectors_fail_with_their_reason(case):
    with pytest.raises(CryptoError) as error:
        open_form(bytes.fromhex(case["blob"]), _vector_keys(), sequence_id=CASES[case["expect_as"]]["sequence_id"])
    assert error.value.reason == case["reason"]
