"""RFC 9180 vectors through the reference, and reference <-> library interop.

The library seals photos but cannot encapsulate deterministically, so the
chain of evidence is: the reference reproduces the published vectors byte for
byte, and the library and the reference open each other's output.
"""

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import ec

import crypto
from tests.support import hpke_reference as ref

VECTORS = json.loads(
    (Path(crypto.__file__).parent / "vectors" / "rfc9180-base-p256-sha256-aes256gcm.json").read_text()
)["vectors"]
IDS = [f"aead{v['aead_id']}" for v in VECTORS]
SUITE = hpke.Suite(hpke.KEM.P256, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
h = bytes.fromhex


def _recipient(vector: dict) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(int(vector["skRm"], 16), ec.SECP256R1())


def test_vectors_cover_our_suite():
    assert any(
        (v["mode"], v["kem_id"], v["kdf_id"], v["aead_id"]) == (0, 16, 1, 2) for v in VECTORS
    )


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_reference_derives_the_vector_key_pairs(vector):
    sk_r = _recipient(vector)
    assert ref.serialize_public_key(sk_r.public_key()).hex() == vector["pkRm"]
    sk_e = ref.derive_key_pair(h(vector["ikmE"]))
    assert ref.serialize_public_key(sk_e.public_key()).hex() == vector["pkEm"]
    if "skEm" in vector:
        assert ref.serialize_private_key(sk_e).hex() == vector["skEm"]
    if "ikmR" in vector:
        assert ref.serialize_private_key(ref.derive_key_pair(h(vector["ikmR"]))).hex() == vector["skRm"]


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_reference_reproduces_the_key_schedule(vector):
    sk_r = _recipient(vector)
    shared_secret, enc = ref.encap(sk_r.public_key(), h(vector["ikmE"]))
    assert enc.hex() == vector["enc"]
    assert shared_secret.hex() == vector["shared_secret"]
    assert ref.decap(enc, sk_r).hex() == vector["shared_secret"]
    context = ref.key_schedule(vector["aead_id"], shared_secret, h(vector["info"]))
    assert context.key.hex() == vector["key"]
    assert context.base_nonce.hex() == vector["base_nonce"]
    if "exporter_secret" in vector:
        assert context.exporter_secret.hex() == vector["exporter_secret"]


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_reference_reproduces_every_encryption(vector):
    sk_r = _recipient(vector)
    enc, sender = ref.setup_base_s(vector["aead_id"], sk_r.public_key(), h(vector["info"]), h(vector["ikmE"]))
    receiver = ref.setup_base_r(vector["aead_id"], enc, sk_r, h(vector["info"]))
    for encryption in vector["encryptions"]:
        sender.seq = receiver.seq = encryption["seq"]
        assert sender.compute_nonce(encryption["seq"]).hex() == encryption["nonce"]
        assert sender.seal(h(encryption["aad"]), h(encryption["pt"])).hex() == encryption["ct"]
        assert receiver.open(h(encryption["aad"]), h(encryption["ct"])).hex() == encryption["pt"]


@pytest.mark.parametrize("plaintext", [b"", b"x", b"photo bytes" * 1000])
def test_library_output_opens_with_the_reference(plaintext):
    sk_r = ec.generate_private_key(ec.SECP256R1())
    info = b"clinphoto/seal/v1 interop"
    blob = SUITE.encrypt(plaintext, sk_r.public_key(), info=info)
    context = ref.setup_base_r(ref.AEAD_AES_256_GCM, blob[:65], sk_r, info)
    assert context.open(b"", blob[65:]) == plaintext


@pytest.mark.parametrize("plaintext", [b"", b"x", b"photo bytes" * 1000])
def test_reference_output_opens_with_the_library(plaintext):
    sk_r = ec.generate_private_key(ec.SECP256R1())
    info = b"clinphoto/seal/v1 interop"
    enc, context = ref.setup_base_s(ref.AEAD_AES_256_GCM, sk_r.public_key(), info, b"\x07" * 32)
    assert SUITE.decrypt(enc + context.seal(b"", plaintext), sk_r, info=info) == plaintext


def test_the_aes256_vector_opens_with_the_library_when_its_aad_is_empty():
    # The library has no aad: re-seal the vector's plaintext with aad empty at seq 0
    # under the vector's own ephemeral key, and let the library open it.
    vector = next(v for v in VECTORS if v["aead_id"] == 2)
    sk_r = _recipient(vector)
    enc, context = ref.setup_base_s(2, sk_r.public_key(), h(vector["info"]), h(vector["ikmE"]))
    plaintext = h(vector["encryptions"][0]["pt"])
    blob = enc + context.seal(b"", plaintext)
    assert SUITE.decrypt(blob, sk_r, info=h(vector["info"])) == plaintext


def test_one_hpke_in_the_crypto_package():
    # One key schedule: only crypto/_sealing.py touches HPKE, through the library, and no module
    # of the package derives RFC 9180 labels itself (the reference lives under tests/).
    package = Path(crypto.__file__).parent
    assert [p.name for p in package.glob("*.py") if "primitives import hpke" in p.read_text()] == ["_sealing.py"]
    for path in package.rglob("*.py"):
        text = path.read_text()
        assert "HPKE-v1" not in text and "base_nonce" not in text and "eae_prk" not in text, path
