"""A small, test-only reference of the RFC 9180 pieces our seal suite uses.

The one HPKE that seals and opens is ``cryptography``'s ``hpke.Suite`` (``crypto/_sealing.py``);
it offers no deterministic encapsulation, so the RFC 9180 test vectors cannot be fed to it
directly. This module re-derives every intermediate value (DeriveKeyPair, Encap with a given
ikmE, KeySchedule, nonces, Seal/Open with aad and sequence numbers) from primitives, so tests
can (1) reproduce the published vectors byte for byte and (2) show the library and this
reference interoperate in both directions. Together that is the evidence that the suite we
ship matches RFC 9180. It lives under ``tests/`` because nothing in ``crypto/`` may use it.

Scope: base mode (mode 0) only; KEM 0x0010 DHKEM(P-256, HKDF-SHA256); KDF
0x0001 HKDF-SHA256; AEAD 0x0001 AES-128-GCM or 0x0002 AES-256-GCM.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

MODE_BASE = 0x00
KEM_P256_HKDF_SHA256 = 0x0010
KDF_HKDF_SHA256 = 0x0001
AEAD_AES_128_GCM = 0x0001
AEAD_AES_256_GCM = 0x0002

_VERSION_LABEL = b"HPKE-v1"
_NH = 32  # HKDF-SHA256 output length
_NSECRET = 32  # DHKEM(P-256) shared secret length
_NSK = 32  # P-256 private key length
_NN = 12  # AES-GCM nonce length
_NK = {AEAD_AES_128_GCM: 16, AEAD_AES_256_GCM: 32}
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _i2osp(value: int, length: int) -> bytes:
    return value.to_bytes(length, "big")


def _extract(salt: bytes, ikm: bytes) -> bytes:
    # HKDF-Extract (RFC 5869): an empty salt is HMAC with a zero key, which HMAC pads identically.
    return hmac.new(salt, ikm, hashlib.sha256).digest()


def _expand(prk: bytes, info: bytes, length: int) -> bytes:
    return HKDFExpand(hashes.SHA256(), length, info).derive(prk)


def labeled_extract(suite_id: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return _extract(salt, _VERSION_LABEL + suite_id + label + ikm)


def labeled_expand(suite_id: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    return _expand(prk, _i2osp(length, 2) + _VERSION_LABEL + suite_id + label + info, length)


_KEM_SUITE_ID = b"KEM" + _i2osp(KEM_P256_HKDF_SHA256, 2)


def derive_key_pair(ikm: bytes) -> ec.EllipticCurvePrivateKey:
    """RFC 9180 §7.1.3 DeriveKeyPair for P-256 (rejection sampling, bitmask 0xff)."""
    dkp_prk = labeled_extract(_KEM_SUITE_ID, b"", b"dkp_prk", ikm)
    for counter in range(256):
        candidate = labeled_expand(_KEM_SUITE_ID, dkp_prk, b"candidate", _i2osp(counter, 1), _NSK)
        sk = int.from_bytes(candidate, "big")
        if 0 < sk < _P256_ORDER:
            return ec.derive_private_key(sk, ec.SECP256R1())
    raise ValueError("DeriveKeyPairError")


def serialize_public_key(public_key: ec.EllipticCurvePublicKey) -> bytes:
    return public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def serialize_private_key(private_key: ec.EllipticCurvePrivateKey) -> bytes:
    return _i2osp(private_key.private_numbers().private_value, _NSK)


def _extract_and_expand(dh: bytes, kem_context: bytes) -> bytes:
    eae_prk = labeled_extract(_KEM_SUITE_ID, b"", b"eae_prk", dh)
    return labeled_expand(_KEM_SUITE_ID, eae_prk, b"shared_secret", kem_context, _NSECRET)


def encap(public_key: ec.EllipticCurvePublicKey, ikm_e: bytes) -> tuple[bytes, bytes]:
    """Deterministic Encap: the ephemeral key comes from ``ikm_e``. Returns (shared_secret, enc)."""
    sk_e = derive_key_pair(ikm_e)
    dh = sk_e.exchange(ec.ECDH(), public_key)
    enc = serialize_public_key(sk_e.public_key())
    return _extract_and_expand(dh, enc + serialize_public_key(public_key)), enc


def decap(enc: bytes, private_key: ec.EllipticCurvePrivateKey) -> bytes:
    pk_e = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), enc)
    dh = private_key.exchange(ec.ECDH(), pk_e)
    return _extract_and_expand(dh, enc + serialize_public_key(private_key.public_key()))


@dataclass
class Context:
    """An RFC 9180 encryption context: key, base_nonce, exporter secret and a sequence number."""

    aead_id: int
    key: bytes
    base_nonce: bytes
    exporter_secret: bytes
    key_schedule_context: bytes
    secret: bytes
    seq: int = field(default=0)

    def compute_nonce(self, seq: int) -> bytes:
        return bytes(a ^ b for a, b in zip(self.base_nonce, _i2osp(seq, _NN)))

    def seal(self, aad: bytes, plaintext: bytes) -> bytes:
        ct = AESGCM(self.key).encrypt(self.compute_nonce(self.seq), plaintext, aad)
        self.seq += 1
        return ct

    def open(self, aad: bytes, ciphertext: bytes) -> bytes:
        pt = AESGCM(self.key).decrypt(self.compute_nonce(self.seq), ciphertext, aad)
        self.seq += 1
        return pt


def key_schedule(aead_id: int, shared_secret: bytes, info: bytes) -> Context:
    """RFC 9180 §5.1 KeySchedule in base mode (psk and psk_id empty)."""
    suite_id = (
        b"HPKE"
        + _i2osp(KEM_P256_HKDF_SHA256, 2)
        + _i2osp(KDF_HKDF_SHA256, 2)
        + _i2osp(aead_id, 2)
    )
    psk_id_hash = labeled_extract(suite_id, b"", b"psk_id_hash", b"")
    info_hash = labeled_extract(suite_id, b"", b"info_hash", info)
    context = _i2osp(MODE_BASE, 1) + psk_id_hash + info_hash
    secret = labeled_extract(suite_id, shared_secret, b"secret", b"")
    return Context(
        aead_id=aead_id,
        key=labeled_expand(suite_id, secret, b"key", context, _NK[aead_id]),
        base_nonce=labeled_expand(suite_id, secret, b"base_nonce", context, _NN),
        exporter_secret=labeled_expand(suite_id, secret, b"exp", context, _NH),
        key_schedule_context=context,
        secret=secret,
    )


def setup_base_s(
    aead_id: int, public_key: ec.EllipticCurvePublicKey, info: bytes, ikm_e: bytes
) -> tuple[bytes, Context]:
    shared_secret, enc = encap(public_key, ikm_e)
    return enc, key_schedule(aead_id, shared_secret, info)


def setup_base_r(
    aead_id: int, enc: bytes, private_key: ec.EllipticCurvePrivateKey, info: bytes
) -> Context:
    return key_schedule(aead_id, decap(enc, private_key), info)
