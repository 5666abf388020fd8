"""The streaming recipes give, piece by piece, exactly what the one-shot ones give.

``PhotoOpener`` must open what ``open_photo`` opens and refuse what it refuses, with the same
reason, however the blob is cut into pieces; ``AtRestEncryptor`` must write envelopes that
``decrypt_at_rest`` opens.
"""
import base64
import hashlib
import json
import os
import random
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_private_key

import crypto
from crypto import CryptoError, decrypt_at_rest, key_id, open_photo, parse_seal_header, seal_photo
from crypto.envelope import AtRestEncryptor
from crypto.seal import ENC_LEN, INFO_LABEL, PhotoOpener

SEAL_VECTORS = json.loads((Path(crypto.__file__).parent / "vectors" / "seal-test-vectors.json").read_text())
CASES = {case["name"]: case for case in SEAL_VECTORS["cases"]}
PHOTO = "0b7f6a1e-3c2d-4e5f-8a9b-0c1d2e3f4a5b"
SEQUENCE = "5d4c3b2a-1f0e-4d9c-8b7a-695847362514"
PLAINTEXT = os.urandom(70_000)
SHA = hashlib.sha256(PLAINTEXT).hexdigest()
PIECES = [1, 7, 16, 17, 113, 4096, 65536, 1 << 20]


@pytest.fixture(scope="module")
def blob(key):
    return seal_photo(PLAINTEXT, key.public_key(), key_id(key.public_key()), PHOTO, SEQUENCE)


def streamed(blob, keys, *, photo_id=PHOTO, sequence_id=SEQUENCE, sha=SHA, size=None, seed=0):
    """Open ``blob`` in random pieces; the plaintext, or "reason" of the CryptoError."""
    rng = random.Random(seed)
    opener = PhotoOpener(keys, photo_id=photo_id, sequence_id=sequence_id, plaintext_sha256=sha,
                         size=len(blob) if size is None else size)
    out, at = [], 0
    try:
        while at < len(blob):
            n = rng.choice(PIECES)
            out.append(opener.update(blob[at:at + n]))
            at += n
        opener.finish()
    except CryptoError as exc:
        return exc.reason
    return b"".join(out)


def one_shot(blob, keys, *, photo_id=PHOTO, sequence_id=SEQUENCE, sha=SHA):
    try:
        return open_photo(blob, keys, photo_id=photo_id, sequence_id=sequence_id, plaintext_sha256=sha)
    except CryptoError as exc:
        return exc.reason


@pytest.mark.parametrize("seed", range(4))
def test_a_streamed_open_gives_the_plaintext(blob, keys, seed):
    assert streamed(blob, keys, seed=seed) == PLAINTEXT


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 4096])
def test_tiny_photos_open_streamed(key, keys, size):
    plaintext = os.urandom(size)
    blob = seal_photo(plaintext, key.public_key(), key_id(key.public_key()), PHOTO, SEQUENCE)
    assert streamed(blob, keys, sha=hashlib.sha256(plaintext).hexdigest()) == plaintext


@pytest.mark.parametrize("case", SEAL_VECTORS["cases"], ids=lambda c: c["name"])
def test_seal_vectors_open_streamed(case):
    keys = _vector_keys()
    assert streamed(bytes.fromhex(case["blob"]), keys, photo_id=case["photo_id"], sequence_id=case["sequence_id"],
                    sha=case["plaintext_sha256"]).hex() == case["plaintext"]


@pytest.mark.parametrize("case", SEAL_VECTORS["rejects"], ids=lambda c: c["name"])
def test_seal_reject_vectors_fail_streamed_with_their_reason(case):
    expect = CASES[case["expect_as"]]
    assert streamed(bytes.fromhex(case["blob"]), _vector_keys(), photo_id=expect["photo_id"],
                    sequence_id=expect["sequence_id"], sha=expect["plaintext_sha256"]) == case["reason"]


def test_every_header_and_enc_byte_flipped_fails_as_the_one_shot_open_does(blob, keys):
    end = parse_seal_header(blob).length + ENC_LEN
    for i in list(range(end + 40)) + [len(blob) // 2, len(blob) - 17, len(blob) - 16, len(blob) - 1]:
        tampered = bytearray(blob)
        tampered[i] ^= 0x80
        assert streamed(bytes(tampered), keys, seed=i) == one_shot(bytes(tampered), keys), i


@pytest.mark.parametrize("cut", [0, 3, 10, 60, 113, 114, 134, 150, 177, 178, 179, 194, -17, -16, -1])
def test_a_truncated_blob_fails_as_the_one_shot_open_does(blob, keys, cut):
    assert streamed(blob[:cut], keys) == one_shot(blob[:cut], keys)


def test_a_blob_shorter_than_declared_is_malformed(blob, keys):
    assert streamed(blob[:-5], keys, size=len(blob)) == "malformed"


def test_a_blob_longer_than_declared_is_malformed(blob, keys):
    assert streamed(blob + b"x", keys, size=len(blob)) == "malformed"


@pytest.mark.parametrize("field", ["photo_id", "sequence_id", "sha"])
def test_a_mislabelled_blob_fails_as_the_one_shot_open_does(blob, keys, field):
    other = {"photo_id": str(uuid.uuid4()), "sequence_id": str(uuid.uuid4()), "sha": "00" * 32}[field]
    assert streamed(blob, keys, **{field: other}) == one_shot(blob, keys, **{field: other})


def test_unknown_and_wrong_keys_fail_as_the_one_shot_open_does(blob, key):
    other = ec.generate_private_key(ec.SECP256R1())
    for keys in ({key_id(other.public_key()): other}, {key_id(key.public_key()): other}):
        assert streamed(blob, keys) == one_shot(blob, keys)


def test_a_header_lying_about_the_plaintext_hash_is_caught_streamed(key, keys):
    kid = key_id(key.public_key())
    honest = seal_photo(PLAINTEXT, key.public_key(), kid, PHOTO, SEQUENCE)
    length = parse_seal_header(honest).length
    lying_header = honest[: length - 32] + b"\x11" * 32
    suite = hpke.Suite(hpke.KEM.P256, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
    lying = lying_header + suite.encrypt(PLAINTEXT, key.public_key(), info=INFO_LABEL + lying_header)
    assert streamed(lying, keys, sha="11" * 32) == "hash_mismatch"


def test_an_opener_takes_no_more_bytes_after_a_failure(blob, keys):
    opener = PhotoOpener(keys, photo_id=str(uuid.uuid4()), sequence_id=SEQUENCE, plaintext_sha256=SHA, size=len(blob))
    with pytest.raises(CryptoError):
        opener.update(blob)
    for call in (lambda: opener.update(b"x"), opener.finish):
        with pytest.raises(CryptoError) as info:
            call()
        assert info.value.reason == "wrong_photo"


def test_an_opener_refuses_bad_arguments(keys):
    for kwargs in ({"photo_id": "nope"}, {"plaintext_sha256": "xyz"}, {"size": -1}):
        with pytest.raises(CryptoError) as info:
            PhotoOpener(keys, **{"photo_id": PHOTO, "sequence_id": SEQUENCE, "plaintext_sha256": SHA, "size": 10,
                                 **kwargs})
        assert info.value.reason == "invalid_argument"


@pytest.mark.parametrize("pieces", [[], [1], [5000, 3, 60_000], [1 << 20]])
def test_an_envelope_written_in_pieces_opens_with_decrypt_at_rest(pieces):
    kek = os.urandom(32)
    encryptor = AtRestEncryptor(kek_id="kek-1", kek=kek, object_id="ab/cd/x.original")
    plaintext, parts, at = os.urandom(sum(pieces)), [], 0
    for n in pieces:
        parts.append(encryptor.update(plaintext[at:at + n]))
        at += n
    blob = encryptor.header + b"".join(parts) + encryptor.finalize()
    assert decrypt_at_rest(blob, {"kek-1": kek}, object_id="ab/cd/x.original") == plaintext
    with pytest.raises(CryptoError):
        decrypt_at_rest(blob, {"kek-1": kek}, object_id="ab/cd/y.original")


def test_each_streamed_envelope_gets_its_own_data_key_and_nonce():
    kek = os.urandom(32)
    headers = {AtRestEncryptor(kek_id="kek-1", kek=kek, object_id="x").header for _ in range(20)}
    assert len(headers) == 20


def _vector_keys():
    der = base64.b64decode(SEAL_VECTORS["recipient"]["pkcs8_b64"])
    return {SEAL_VECTORS["recipient"]["kid"]: load_der_private_key(der, password=None)}
