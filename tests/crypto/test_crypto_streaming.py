"""The streaming recipes: ``PhotoOpener`` and ``AtRestEncryptor``.

``open_photo`` is ``PhotoOpener`` fed the whole blob at once; these tests hold the opener to the
same plaintext and the same reason however the blob is cut into pieces, and check what the STREAM
payload promises: no byte of a chunk's plaintext comes out before that chunk's tag is checked,
and a damaged chunk gives nothing of itself or what follows. ``AtRestEncryptor`` must write
envelopes that ``decrypt_at_rest`` opens.
"""
import base64
import hashlib
import json
import os
import random
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_private_key

import crypto
from crypto import CryptoError, decrypt_at_rest, key_id, open_photo, parse_seal_header, seal_photo
from crypto.envelope import AtRestEncryptor
from crypto.seal import CHUNK_CT_SIZE, CHUNK_SIZE, WRAPPED_LEN, PhotoOpener

SEAL_VECTORS = json.loads((Path(crypto.__file__).parent / "vectors" / "seal-test-vectors.json").read_text())
PHOTO = "0b7f6a1e-3c2d-4e5f-8a9b-0c1d2e3f4a5b"
SEQUENCE = "5d4c3b2a-1f0e-4d9c-8b7a-695847362514"
PLAINTEXT = os.urandom(2 * CHUNK_SIZE + 4465)  # three chunks, the last a partial one
SHA = hashlib.sha256(PLAINTEXT).hexdigest()
PIECES = [1, 7, 16, 17, 113, 4096, 65536, 65552, 1 << 20]


@pytest.fixture(scope="module")
def blob(key):
    return seal_photo(PLAINTEXT, key.public_key(), key_id(key.public_key()), PHOTO, SEQUENCE)


def payload_start(blob: bytes) -> int:
    return parse_seal_header(blob).length + WRAPPED_LEN


def streamed(blob, keys, *, photo_id=PHOTO, sequence_id=SEQUENCE, sha=SHA, seed=0):
    """Open ``blob`` in random pieces; the plaintext, or "reason" of the CryptoError."""
    rng = random.Random(seed)
    opener = PhotoOpener(keys, photo_id=photo_id, sequence_id=sequence_id, plaintext_sha256=sha)
    out, at = [], 0
    try:
        while at < len(blob):
            n = rng.choice(PIECES)
            out.append(opener.update(blob[at:at + n]))
            at += n
        out.append(opener.finalize())
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


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 4096, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE])
def test_photos_of_every_boundary_size_open_streamed(key, keys, size):
    plaintext = os.urandom(size)
    blob = seal_photo(plaintext, key.public_key(), key_id(key.public_key()), PHOTO, SEQUENCE)
    for seed in range(3):
        assert streamed(blob, keys, sha=hashlib.sha256(plaintext).hexdigest(), seed=seed) == plaintext


@pytest.mark.parametrize("case", SEAL_VECTORS["cases"], ids=lambda c: c["name"])
def test_seal_vectors_open_streamed(case):
    from crypto.vectors.generate import vector_plaintext

    assert streamed(base64.b64decode(case["blob_b64"]), _vector_keys(), photo_id=case["photo_id"],
                    sequence_id=case["sequence_id"], sha=case["plaintext_sha256"]) == vector_plaintext(case)


@pytest.mark.parametrize("case", SEAL_VECTORS["rejects"], ids=lambda c: c["name"])
@pytest.mark.parametrize("seed", range(2))
def test_seal_reject_vectors_fail_streamed_with_their_reason(case, seed):
    expect = case["expected"]
    assert streamed(base64.b64decode(case["blob_b64"]), _vector_keys(), photo_id=expect["photo_id"],
                    sequence_id=expect["sequence_id"], sha=expect["plaintext_sha256"], seed=seed) == case["reason"]


def test_every_header_and_wrapped_key_byte_flipped_fails_as_the_one_shot_open_does(blob, keys):
    start = payload_start(blob)
    boundaries = [start + k * CHUNK_CT_SIZE + d for k in range(3) for d in (-1, 0, 1)]
    for i in list(range(start + 40)) + boundaries + [len(blob) - 17, len(blob) - 16, len(blob) - 1]:
        tampered = bytearray(blob)
        tampered[i] ^= 0x80
        reason = streamed(bytes(tampered), keys, seed=i)
        assert reason == one_shot(bytes(tampered), keys), i
        assert isinstance(reason, str), i


def test_every_truncation_of_a_one_chunk_blob_fails_as_the_one_shot_open_does(key, keys):
    plaintext = os.urandom(300)
    sha = hashlib.sha256(plaintext).hexdigest()
    blob = seal_photo(plaintext, key.public_key(), key_id(key.public_key()), PHOTO, SEQUENCE)
    for cut in range(len(blob)):
        reason = streamed(blob[:cut], keys, sha=sha, seed=cut)
        assert reason == one_shot(blob[:cut], keys, sha=sha), cut
        assert reason in ("malformed", "decrypt_failed"), cut


def test_every_truncation_around_the_chunk_boundaries_fails_as_the_one_shot_open_does(blob, keys):
    start = payload_start(blob)
    cuts = set(range(0, len(blob), 997))
    for k in range(4):
        cuts.update(range(start + k * CHUNK_CT_SIZE - 20, start + k * CHUNK_CT_SIZE + 20))
    for cut in sorted(c for c in cuts if 0 <= c < len(blob)):
        reason = streamed(blob[:cut], keys, seed=cut)
        assert reason == one_shot(blob[:cut], keys), cut
        assert reason in ("malformed", "decrypt_failed"), cut


def test_no_plaintext_is_released_before_its_chunk_tag_and_the_next_byte_arrive(blob, keys):
    start = payload_start(blob)
    opener = PhotoOpener(keys, photo_id=PHOTO, sequence_id=SEQUENCE, plaintext_sha256=SHA)
    released = b""
    for at in range(0, len(blob), 1000):
        released += opener.update(blob[at:at + 1000])
        received = min(len(blob), at + 1000) - start
        # a chunk comes out once all of it (tag included) and one byte of the next are in
        complete = max(0, (received - 1) // CHUNK_CT_SIZE)
        assert released == PLAINTEXT[: complete * CHUNK_SIZE], at
    assert released + opener.finalize() == PLAINTEXT


@pytest.mark.parametrize("chunk", [0, 1, 2])
@pytest.mark.parametrize("where", ["body", "tag"])
def test_a_damaged_chunk_releases_nothing_of_itself_or_after(blob, keys, chunk, where):
    start = payload_start(blob) + chunk * CHUNK_CT_SIZE
    end = min(len(blob), start + CHUNK_CT_SIZE)
    tampered = bytearray(blob)
    tampered[start + 5 if where == "body" else end - 1] ^= 0x01
    for seed in range(3):
        rng = random.Random(seed)
        opener = PhotoOpener(keys, photo_id=PHOTO, sequence_id=SEQUENCE, plaintext_sha256=SHA)
        released, at = b"", 0
        with pytest.raises(CryptoError) as info:
            while at < len(tampered):
                n = rng.choice(PIECES)
                released += opener.update(bytes(tampered[at:at + n]))
                at += n
            released += opener.finalize()
        assert info.value.reason == "decrypt_failed"
        assert released == PLAINTEXT[: chunk * CHUNK_SIZE]


def test_a_blob_longer_than_sealed_fails(blob, keys):
    assert streamed(blob + b"x", keys) == one_shot(blob + b"x", keys) == "decrypt_failed"
    assert streamed(blob + bytes(CHUNK_CT_SIZE), keys) == "decrypt_failed"


@pytest.mark.parametrize("field", ["photo_id", "sequence_id", "sha"])
def test_a_mislabelled_blob_fails_as_the_one_shot_open_does(blob, keys, field):
    other = {"photo_id": str(uuid.uuid4()), "sequence_id": str(uuid.uuid4()), "sha": "00" * 32}[field]
    reason = streamed(blob, keys, **{field: other})
    assert reason == one_shot(blob, keys, **{field: other})
    assert reason == {"photo_id": "wrong_photo", "sequence_id": "wrong_sequence", "sha": "hash_mismatch"}[field]


def test_unknown_and_wrong_keys_fail_as_the_one_shot_open_does(blob, key):
    other = ec.generate_private_key(ec.SECP256R1())
    for keys, reason in (({key_id(other.public_key()): other}, "unknown_key"),
                         ({key_id(key.public_key()): other}, "decrypt_failed")):
        assert streamed(blob, keys) == one_shot(blob, keys) == reason


def test_a_header_lying_about_the_plaintext_hash_is_caught_streamed(key, keys):
    from crypto.vectors.generate import _forge

    lie = hashlib.sha256(b"another photo").hexdigest()
    lying = _forge(PLAINTEXT, key.public_key(), key_id(key.public_key()), PHOTO, SEQUENCE,
                   [(0, CHUNK_SIZE, False), (CHUNK_SIZE, 2 * CHUNK_SIZE, False), (2 * CHUNK_SIZE, len(PLAINTEXT), True)],
                   header_hash_of=b"another photo")
    assert streamed(lying, keys, sha=lie) == one_shot(lying, keys, sha=lie) == "hash_mismatch"


def test_an_opener_takes_no_more_bytes_after_a_failure(blob, keys):
    opener = PhotoOpener(keys, photo_id=str(uuid.uuid4()), sequence_id=SEQUENCE, plaintext_sha256=SHA)
    with pytest.raises(CryptoError):
        opener.update(blob)
    for call in (lambda: opener.update(b"x"), opener.finalize):
        with pytest.raises(CryptoError) as info:
            call()
        assert info.value.reason == "wrong_photo"


def test_an_opener_is_finalized_once(blob, keys):
    opener = PhotoOpener(keys, photo_id=PHOTO, sequence_id=SEQUENCE, plaintext_sha256=SHA)
    assert opener.update(blob) + opener.finalize() == PLAINTEXT
    for call in (lambda: opener.update(b"x"), opener.finalize):
        with pytest.raises(CryptoError) as info:
            call()
        assert info.value.reason == "invalid_argument"


def test_an_opener_refuses_bad_arguments(keys):
    for kwargs in ({"photo_id": "nope"}, {"sequence_id": PHOTO.upper()}, {"plaintext_sha256": "xyz"}):
        with pytest.raises(CryptoError) as info:
            PhotoOpener(keys, **{"photo_id": PHOTO, "sequence_id": SEQUENCE, "plaintext_sha256": SHA, **kwargs})
        assert info.value.reason == "invalid_argument"


@pytest.mark.parametrize("pieces", [[], [1], [5000, 3, 60_000], [1 << 20]])
def test_an_envelope_written_in_pieces_opens_with_decrypt_at_rest(pieces):
    kek = os.urandom(32)
    encryptor = AtRestEncryptor(kek_id="kek-1", kek=kek, object_id="ab/cd/x.original")
    plaintext, parts, at = os.urandom(sum(pieces)), [], 0
    for n in pieces:
        parts.append(encryptor.update(plaintext[at:at + n]))
        at += n
    blob = b"".join(parts) + encryptor.finalize()
    assert decrypt_at_rest(blob, {"kek-1": kek}, object_id="ab/cd/x.original") == plaintext
    with pytest.raises(CryptoError):
        decrypt_at_rest(blob, {"kek-1": kek}, object_id="ab/cd/y.original")


def test_each_streamed_envelope_gets_its_own_data_key_and_nonce():
    kek = os.urandom(32)
    empties = {AtRestEncryptor(kek_id="kek-1", kek=kek, object_id="x").finalize() for _ in range(20)}
    assert len(empties) == 20


def _vector_keys():
    der = base64.b64decode(SEAL_VECTORS["recipient"]["pkcs8_b64"])
    return {SEAL_VECTORS["recipient"]["kid"]: load_der_private_key(der, password=None)}
