import base64
import hashlib
import json
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_private_key

import crypto
from crypto import CryptoError, key_id, open_photo, parse_seal_header, seal_photo
from crypto.seal import CHUNK_CT_SIZE, CHUNK_SIZE, HEADER_MAX, TAG_LEN, VERSION, WRAPPED_LEN, sealed_size
from crypto.vectors.generate import vector_plaintext

SEAL_VECTORS = json.loads((Path(crypto.__file__).parent / "vectors" / "seal-test-vectors.json").read_text())
CASES = {case["name"]: case for case in SEAL_VECTORS["cases"]}

PHOTO = "0b7f6a1e-3c2d-4e5f-8a9b-0c1d2e3f4a5b"
SEQUENCE = "5d4c3b2a-1f0e-4d9c-8b7a-695847362514"
PLAINTEXT = b"\xff\xd8 not really a jpeg \xff\xd9" * 10
SHA = hashlib.sha256(PLAINTEXT).hexdigest()


@pytest.fixture(scope="module")
def blob(key):
    return seal_photo(PLAINTEXT, key.public_key(), key_id(key.public_key()), PHOTO, SEQUENCE)


def _open(blob, keys, photo_id=PHOTO, sequence_id=SEQUENCE, sha=SHA):
    return open_photo(blob, keys, photo_id=photo_id, sequence_id=sequence_id, plaintext_sha256=sha)


def _reason(call) -> str:
    with pytest.raises(CryptoError) as info:
        call()
    return info.value.reason


def test_seal_round_trips(blob, keys):
    assert _open(blob, keys) == PLAINTEXT


def test_seal_header_is_readable_without_the_key(blob, key):
    header = parse_seal_header(blob)
    assert header.key_id == key_id(key.public_key())
    assert (header.photo_id, header.sequence_id, header.plaintext_sha256) == (PHOTO, SEQUENCE, SHA)
    assert header.length == 4 + 1 + 1 + 43 + 16 + 16 + 32
    assert blob[4] == VERSION == 2
    assert len(blob) == header.length + WRAPPED_LEN + len(PLAINTEXT) + TAG_LEN


@pytest.mark.parametrize("size", [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE, 3 * CHUNK_SIZE + 7])
def test_the_payload_is_one_tag_per_chunk_and_round_trips(key, keys, size):
    plaintext = bytes(i % 253 for i in range(size))
    blob = seal_photo(plaintext, key.public_key(), key_id(key.public_key()), PHOTO, SEQUENCE)
    header = parse_seal_header(blob)
    chunks = max(1, -(-size // CHUNK_SIZE))
    assert len(blob) - header.length - WRAPPED_LEN == sealed_size(size) == size + chunks * TAG_LEN
    assert _open(blob, keys, sha=hashlib.sha256(plaintext).hexdigest()) == plaintext


def test_seal_header_parses_from_a_prefix(blob):
    assert parse_seal_header(blob[:HEADER_MAX]) == parse_seal_header(blob)


def test_sealing_twice_gives_different_blobs(key):
    kid = key_id(key.public_key())
    assert seal_photo(b"same", key.public_key(), kid, PHOTO, SEQUENCE) != seal_photo(
        b"same", key.public_key(), kid, PHOTO, SEQUENCE
    )


def test_every_header_byte_flipped_is_refused(blob, keys):
    length = parse_seal_header(blob).length
    for i in range(length):
        tampered = bytearray(blob)
        tampered[i] ^= 0x01
        reason = _reason(lambda: _open(bytes(tampered), keys))
        # Which check fires depends on the field; none may let the blob open.
        assert reason in {"malformed", "unknown_key", "wrong_photo", "wrong_sequence", "hash_mismatch"}, i


@pytest.mark.parametrize("field,expected", [(0, "malformed"), (4, "malformed"), (5, "malformed")])
def test_magic_version_and_kid_length_are_malformed_when_changed(blob, keys, field, expected):
    tampered = bytearray(blob)
    tampered[field] ^= 0x40
    assert _reason(lambda: _open(bytes(tampered), keys)) == expected


def test_every_wrapped_key_and_chunk_byte_flipped_fails_to_decrypt(blob, keys):
    length = parse_seal_header(blob).length
    for i in range(length, len(blob)):
        tampered = bytearray(blob)
        tampered[i] ^= 0x80
        assert _reason(lambda: _open(bytes(tampered), keys)) == "decrypt_failed", i


@pytest.mark.parametrize("cut,reason", [(0, "malformed"), (3, "malformed"), (10, "malformed"), (60, "malformed"),
                                        (114, "malformed"), (113 + 119, "malformed"), (113 + 120, "malformed"),
                                        (113 + 120 + 15, "malformed"), (113 + 120 + 16, "decrypt_failed"),
                                        (-1, "decrypt_failed")])
def test_truncated_seal_is_refused(blob, keys, cut, reason):
    assert _reason(lambda: _open(blob[:cut], keys)) == reason


def test_a_multi_chunk_blob_cut_at_every_chunk_boundary_fails_to_decrypt(key, keys):
    plaintext = bytes(3 * CHUNK_SIZE + 5)
    blob = seal_photo(plaintext, key.public_key(), key_id(key.public_key()), PHOTO, SEQUENCE)
    start = parse_seal_header(blob).length + WRAPPED_LEN
    sha = hashlib.sha256(plaintext).hexdigest()
    for chunks in (1, 2, 3):
        assert _reason(lambda: _open(blob[: start + chunks * CHUNK_CT_SIZE], keys, sha=sha)) == "decrypt_failed"


def test_truncation_inside_the_header_is_malformed(blob, keys):
    assert _reason(lambda: parse_seal_header(blob[:50])) == "malformed"


def test_truncation_inside_enc_is_malformed(blob, keys):
    length = parse_seal_header(blob).length
    assert _reason(lambda: _open(blob[: length + 30], keys)) == "malformed"


def test_header_swapped_from_another_photo_fails_to_decrypt(blob, key, keys):
    other_photo = str(uuid.uuid4())
    other = seal_photo(PLAINTEXT, key.public_key(), key_id(key.public_key()), other_photo, SEQUENCE)
    length = parse_seal_header(blob).length
    # Header of the other photo, body of ours: ids and hash all "match" the other photo.
    franken = other[:length] + blob[length:]
    assert _reason(lambda: _open(franken, keys, photo_id=other_photo)) == "decrypt_failed"


def test_a_blob_opened_as_another_photo_is_wrong_photo(blob, keys):
    assert _reason(lambda: _open(blob, keys, photo_id=str(uuid.uuid4()))) == "wrong_photo"


def test_a_blob_opened_as_another_sequence_is_wrong_sequence(blob, keys):
    assert _reason(lambda: _open(blob, keys, sequence_id=str(uuid.uuid4()))) == "wrong_sequence"


def test_an_unexpected_hash_is_refused_before_decrypting(blob, keys):
    assert _reason(lambda: _open(blob, keys, sha="00" * 32)) == "hash_mismatch"


def test_expected_hash_is_case_insensitive(blob, keys):
    assert _open(blob, keys, sha=SHA.upper()) == PLAINTEXT


def test_a_header_lying_about_the_plaintext_hash_is_caught(key, keys):
    # A sealer that puts a wrong hash in the header (the HPKE info then binds the lie):
    # decryption succeeds, the final plaintext hash check catches it.
    from crypto.vectors.generate import _forge

    lying = _forge(PLAINTEXT, key.public_key(), key_id(key.public_key()), PHOTO, SEQUENCE,
                   [(0, len(PLAINTEXT), True)], header_hash_of=b"something else")
    assert _reason(lambda: _open(lying, keys, sha=hashlib.sha256(b"something else").hexdigest())) == "hash_mismatch"


def test_unknown_key_id_is_refused(blob):
    other = ec.generate_private_key(ec.SECP256R1())
    assert _reason(lambda: _open(blob, {key_id(other.public_key()): other})) == "unknown_key"


def test_the_wrong_private_key_under_the_right_id_fails_to_decrypt(blob, key):
    other = ec.generate_private_key(ec.SECP256R1())
    assert _reason(lambda: _open(blob, {key_id(key.public_key()): other})) == "decrypt_failed"


@pytest.mark.parametrize(
    "photo_id", ["0B7F6A1E-3C2D-4E5F-8A9B-0C1D2E3F4A5B", "0b7f6a1e3c2d4e5f8a9b0c1d2e3f4a5b", "nope", ""]
)
def test_non_canonical_uuids_are_refused(key, photo_id):
    kid = key_id(key.public_key())
    assert _reason(lambda: seal_photo(b"x", key.public_key(), kid, photo_id, SEQUENCE)) == "invalid_argument"


@pytest.mark.parametrize("kid", ["", "a" * 65, "has space", "caf\u00e9"])
def test_bad_key_ids_are_refused_when_sealing(key, kid):
    assert _reason(lambda: seal_photo(b"x", key.public_key(), kid, PHOTO, SEQUENCE)) == "invalid_argument"


def test_only_p256_public_keys_seal():
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    assert _reason(lambda: seal_photo(b"x", p384, "kid", PHOTO, SEQUENCE)) == "invalid_argument"


def _vector_keys():
    der = base64.b64decode(SEAL_VECTORS["recipient"]["pkcs8_b64"])
    key = load_der_private_key(der, password=None)
    return {SEAL_VECTORS["recipient"]["kid"]: key}


@pytest.mark.parametrize("case", SEAL_VECTORS["cases"], ids=lambda c: c["name"])
def test_seal_vectors_open(case):
    blob = base64.b64decode(case["blob_b64"])
    plaintext = open_photo(
        blob,
        _vector_keys(),
        photo_id=case["photo_id"],
        sequence_id=case["sequence_id"],
        plaintext_sha256=case["plaintext_sha256"],
    )
    assert plaintext == vector_plaintext(case)
    assert hashlib.sha256(plaintext).hexdigest() == case["plaintext_sha256"]
    header = parse_seal_header(blob)
    assert header.length == case["header_length"]
    assert len(blob) == header.length + WRAPPED_LEN + len(plaintext) + case["chunks"] * TAG_LEN


def test_seal_vectors_cover_the_chunk_boundaries():
    sizes = {len(vector_plaintext(case)) for case in SEAL_VECTORS["cases"]}
    assert {0, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE} <= sizes
    assert max(case["chunks"] for case in SEAL_VECTORS["cases"]) >= 3
    assert SEAL_VECTORS["chunk_size"] == CHUNK_SIZE and SEAL_VECTORS["version"] == VERSION


@pytest.mark.parametrize("case", SEAL_VECTORS["rejects"], ids=lambda c: c["name"])
def test_seal_reject_vectors_fail_with_their_reason(case):
    expect = case["expected"]
    call = lambda: open_photo(  # noqa: E731
        base64.b64decode(case["blob_b64"]),
        _vector_keys(),
        photo_id=expect["photo_id"],
        sequence_id=expect["sequence_id"],
        plaintext_sha256=expect["plaintext_sha256"],
    )
    assert _reason(call) == case["reason"]


def test_seal_reject_vectors_name_every_attack():
    names = {case["name"] for case in SEAL_VECTORS["rejects"]}
    assert {"truncated-at-a-chunk-boundary", "chunks-reordered", "chunk-from-another-blob", "last-flag-missing",
            "first-chunk-tag-flipped", "last-chunk-tag-flipped", "extra-chunk-appended", "wrong-photo-id",
            "sealed-to-another-key", "unknown-key-id"} <= names


def test_seal_vector_key_id_is_the_thumbprint_of_its_key():
    (kid, key), = _vector_keys().items()
    assert key_id(key.public_key()) == kid
    assert crypto.public_key_from_jwk(SEAL_VECTORS["recipient"]["public_jwk"]).public_numbers() == key.public_key().public_numbers()
