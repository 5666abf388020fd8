import json
import os
from pathlib import Path

import pytest

import crypto
from crypto import CryptoError, decrypt_at_rest, encrypt_at_rest, envelope_kek_id, rewrap_header
from crypto.envelope import HEADER_MAX

VECTORS = json.loads((Path(crypto.__file__).parent / "vectors" / "envelope-test-vectors.json").read_text())
OLD, NEW = os.urandom(32), os.urandom(32)
OBJECT = "photos/0b7f6a1e-3c2d-4e5f-8a9b-0c1d2e3f4a5b.jpg"
PLAINTEXT = os.urandom(3000)


def _reason(call) -> str:
    with pytest.raises(CryptoError) as info:
        call()
    return info.value.reason


@pytest.fixture(scope="module")
def blob():
    return encrypt_at_rest(PLAINTEXT, kek_id="kek-0000000a", kek=OLD, object_id=OBJECT)


def test_envelope_round_trips(blob):
    assert decrypt_at_rest(blob, {"kek-0000000a": OLD}, object_id=OBJECT) == PLAINTEXT


def test_envelope_layout_is_header_then_ciphertext_and_tag(blob):
    assert blob[:5] == b"CPR1\x01" and blob[5] == len("kek-0000000a")
    assert len(blob) == 6 + 12 + 40 + 12 + len(PLAINTEXT) + 16


def test_envelope_kek_id_reads_the_header(blob):
    assert envelope_kek_id(blob[:20]) == "kek-0000000a"


def test_every_byte_flipped_is_refused(blob):
    for i in range(len(blob)):
        tampered = bytearray(blob)
        tampered[i] ^= 0x01
        reason = _reason(lambda: decrypt_at_rest(bytes(tampered), {"kek-0000000a": OLD}, object_id=OBJECT))
        assert reason in {"malformed", "unknown_key", "unwrap_failed", "decrypt_failed"}, i
        if i >= 6 + 12 + 40:  # nonce and ciphertext: only the AEAD can notice
            assert reason == "decrypt_failed", i


@pytest.mark.parametrize("cut", [0, 5, 17, 40, 70, 85, -1])
def test_truncated_envelope_is_refused(blob, cut):
    assert _reason(lambda: decrypt_at_rest(blob[:cut], {"kek-0000000a": OLD}, object_id=OBJECT)) in {
        "malformed",
        "decrypt_failed",
    }


def test_an_object_read_under_another_id_fails(blob):
    assert _reason(lambda: decrypt_at_rest(blob, {"kek-0000000a": OLD}, object_id="photos/other.jpg")) == "decrypt_failed"


def test_unknown_kek_is_refused(blob):
    assert _reason(lambda: decrypt_at_rest(blob, {"kek-0000000b": OLD}, object_id=OBJECT)) == "unknown_key"


def test_the_wrong_kek_under_the_right_id_fails_to_unwrap(blob):
    assert _reason(lambda: decrypt_at_rest(blob, {"kek-0000000a": NEW}, object_id=OBJECT)) == "unwrap_failed"


def test_a_rewrapped_object_opens_with_the_new_kek_only(blob):
    header, old_length = rewrap_header(blob[:HEADER_MAX], {"kek-0000000a": OLD}, new_kek_id="kek-0000000b", new_kek=NEW)
    rewrapped = header + blob[old_length:]
    assert blob[old_length:] == rewrapped[len(header):]  # ciphertext untouched
    assert envelope_kek_id(rewrapped) == "kek-0000000b"
    assert decrypt_at_rest(rewrapped, {"kek-0000000b": NEW}, object_id=OBJECT) == PLAINTEXT
    assert _reason(lambda: decrypt_at_rest(rewrapped, {"kek-0000000a": OLD}, object_id=OBJECT)) == "unknown_key"


def test_an_object_not_yet_rewrapped_opens_when_the_keyring_holds_both(blob):
    keks = {"kek-0000000a": OLD, "kek-0000000b": NEW}
    assert decrypt_at_rest(blob, keks, object_id=OBJECT) == PLAINTEXT


def test_rewrap_with_an_unknown_old_kek_is_refused(blob):
    assert _reason(lambda: rewrap_header(blob, {}, new_kek_id="kek-0000000b", new_kek=NEW)) == "unknown_key"


def test_rewrap_needs_the_whole_header(blob):
    assert _reason(lambda: rewrap_header(blob[:30], {"kek-0000000a": OLD}, new_kek_id="k", new_kek=NEW)) == "malformed"


@pytest.mark.parametrize("kek_id,kek", [("", OLD), ("has space", OLD), ("k" * 65, OLD), ("ok", b"short")])
def test_bad_keks_are_refused(kek_id, kek):
    assert _reason(lambda: encrypt_at_rest(b"x", kek_id=kek_id, kek=kek, object_id=OBJECT)) == "invalid_argument"


def test_each_object_gets_a_fresh_data_key_and_nonce():
    a = encrypt_at_rest(b"same", kek_id="k", kek=OLD, object_id=OBJECT)
    b = encrypt_at_rest(b"same", kek_id="k", kek=OLD, object_id=OBJECT)
    assert a[7:47] != b[7:47] and a[47:59] != b[47:59]


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: c["name"])
def test_envelope_vectors_decrypt(case):
    keks = {k: bytes.fromhex(v) for k, v in VECTORS["keks"].items()}
    blob = bytes.fromhex(case["blob"])
    assert envelope_kek_id(blob) == case["kek_id"]
    assert decrypt_at_rest(blob, keks, object_id=case["object_id"]).hex() == case["plaintext"]
