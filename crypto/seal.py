"""Photo seal: HPKE (RFC 9180) base mode to the hospital's P-256 key.

The phone seals each photo the moment it is taken; only the server's private
key opens it. The header (key id, photo id, sequence id, plaintext SHA-256) is
readable without the key, so the server can route and pre-check a blob before
decrypting, yet it is bound into the HPKE ``info``: swapping headers between
blobs, or editing one, makes decryption fail. Byte format: ``FORMAT.md``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass
from typing import Any, Mapping, NoReturn

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from crypto.errors import CryptoError

MAGIC = b"CPS1"
VERSION = 0x01
INFO_LABEL = b"clinphoto/seal/v1"
ENC_LEN = 65  # uncompressed P-256 point
TAG_LEN = 16
KID_MAX = 64
# magic + version + kid_len + kid + photo_id + sequence_id + sha256
HEADER_MIN = 4 + 1 + 1 + 1 + 16 + 16 + 32
HEADER_MAX = 4 + 1 + 1 + KID_MAX + 16 + 16 + 32  # 134: read this many bytes to parse any header

_SUITE = hpke.Suite(hpke.KEM.P256, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
_KID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_HEX64_RE = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class SealHeader:
    key_id: str
    photo_id: str  # canonical lowercase UUID
    sequence_id: str  # canonical lowercase UUID
    plaintext_sha256: str  # lowercase hex
    length: int  # header bytes from the magic through plaintext_sha256; enc starts here


def _uuid_bytes(value: str, name: str) -> bytes:
    # Only the canonical spelling is accepted, so one id has one byte form and one text form.
    try:
        parsed = uuid.UUID(value)
    except (ValueError, TypeError, AttributeError) as exc:
        raise CryptoError("invalid_argument", f"{name} is not a UUID") from exc
    if str(parsed) != value:
        raise CryptoError("invalid_argument", f"{name} must be a canonical lowercase UUID")
    return parsed.bytes


def _expected_sha256(value: str) -> str:
    if not isinstance(value, str) or not _HEX64_RE.fullmatch(value.lower()):
        raise CryptoError("invalid_argument", "plaintext_sha256 must be 64 hex digits")
    return value.lower()


def _build_header(key_id: str, photo_id: str, sequence_id: str, digest: bytes) -> bytes:
    if not isinstance(key_id, str) or not _KID_RE.fullmatch(key_id):
        raise CryptoError("invalid_argument", "key_id must be 1..64 base64url characters")
    kid = key_id.encode("ascii")
    return (
        MAGIC
        + bytes([VERSION, len(kid)])
        + kid
        + _uuid_bytes(photo_id, "photo_id")
        + _uuid_bytes(sequence_id, "sequence_id")
        + digest
    )


def seal_photo(
    plaintext: bytes,
    public_key: ec.EllipticCurvePublicKey,
    key_id: str,
    photo_id: str,
    sequence_id: str,
) -> bytes:
    """Seal ``plaintext`` to ``public_key``; the ephemeral key and nonce are the recipe's own."""
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
        public_key.curve, ec.SECP256R1
    ):
        raise CryptoError("invalid_argument", "public_key must be a P-256 public key")
    header = _build_header(key_id, photo_id, sequence_id, hashlib.sha256(plaintext).digest())
    return header + _SUITE.encrypt(plaintext, public_key, info=INFO_LABEL + header)


def parse_seal_header(blob: bytes) -> SealHeader:
    """Read the clear header. ``blob`` may be any prefix of at least ``HEADER_MAX`` bytes
    (or the whole blob); nothing here is authenticated until :func:`open_photo` succeeds."""
    view = memoryview(blob)
    if len(view) < HEADER_MIN or bytes(view[:4]) != MAGIC:
        raise CryptoError("malformed", "not a ClinPhoto seal")
    if view[4] != VERSION:
        raise CryptoError("malformed", "unsupported seal version")
    kid_len = view[5]
    length = 6 + kid_len + 16 + 16 + 32
    if not 1 <= kid_len <= KID_MAX or len(view) < length:
        raise CryptoError("malformed", "bad key id length or truncated header")
    try:
        kid = bytes(view[6 : 6 + kid_len]).decode("ascii")
    except UnicodeDecodeError as exc:
        raise CryptoError("malformed", "key id is not ASCII") from exc
    if not _KID_RE.fullmatch(kid):
        raise CryptoError("malformed", "key id is not base64url")
    at = 6 + kid_len
    return SealHeader(
        key_id=kid,
        photo_id=str(uuid.UUID(bytes=bytes(view[at : at + 16]))),
        sequence_id=str(uuid.UUID(bytes=bytes(view[at + 16 : at + 32]))),
        plaintext_sha256=bytes(view[at + 32 : at + 64]).hex(),
        length=length,
    )


def open_photo(
    blob: bytes,
    private_keys: Mapping[str, ec.EllipticCurvePrivateKey],
    *,
    photo_id: str,
    sequence_id: str,
    plaintext_sha256: str,
) -> bytes:
    """Open a sealed photo the caller expects (ids and hash come from the signed-for manifest).

    Cheap checks run before any decryption so a swapped or mislabelled blob is
    refused with a precise reason; the AEAD then proves the header genuine, and
    the plaintext hash is checked last, as evidence the bytes are the original.
    """
    expected_sha = _expected_sha256(plaintext_sha256)
    _uuid_bytes(photo_id, "photo_id")
    _uuid_bytes(sequence_id, "sequence_id")
    header = parse_seal_header(blob)
    if header.photo_id != photo_id:
        raise CryptoError("wrong_photo")
    if header.sequence_id != sequence_id:
        raise CryptoError("wrong_sequence")
    if not hmac.compare_digest(header.plaintext_sha256, expected_sha):
        raise CryptoError("hash_mismatch", "header hash differs from the expected one")
    private_key = private_keys.get(header.key_id)
    if private_key is None:
        raise CryptoError("unknown_key")
    if len(blob) < header.length + ENC_LEN + TAG_LEN:
        raise CryptoError("malformed", "truncated seal")
    info = INFO_LABEL + bytes(blob[: header.length])
    try:
        plaintext = _SUITE.decrypt(bytes(blob[header.length :]), private_key, info=info)
    except (InvalidTag, ValueError) as exc:
        # ValueError: enc is not a valid P-256 point; same meaning for the caller as a bad tag.
        raise CryptoError("decrypt_failed") from exc
    if not hmac.compare_digest(hashlib.sha256(plaintext).hexdigest(), expected_sha):
        raise CryptoError("hash_mismatch", "plaintext hash differs from the header")
    return plaintext


# -- streaming open ----------------------------------------------------------------------------
# ``cryptography``'s HPKE API is single-shot: the whole blob in memory, then a copy of its body,
# then the plaintext. A 12 MP photo is ~4.5 MB, and the server receives it in pieces anyway, so
# ``PhotoOpener`` derives the same RFC 9180 receiver context (DHKEM(P-256) Decap, then KeySchedule
# in base mode: §4.1, §5.1; identifiers 0x0010 / 0x0001 / 0x0002) and runs AES-256-GCM over the
# body as it arrives. Same bytes in, same plaintext and the same reasons out as ``open_photo``;
# the tests hold the two to that on the vectors and on every kind of damaged blob.

_HPKE_LABEL = b"HPKE-v1"
_KEM_SUITE_ID = b"KEM\x00\x10"
_SUITE_ID = b"HPKE\x00\x10\x00\x01\x00\x02"
_NONCE_LEN = 12
_KEY_LEN = 32


def _labeled_extract(suite_id: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    # HKDF-Extract is HMAC keyed by the salt; an empty salt pads to the same key as HashLen zeros
    return hmac.new(salt, _HPKE_LABEL + suite_id + label + ikm, hashlib.sha256).digest()


def _labeled_expand(suite_id: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    # every length used here fits one HKDF-Expand block (L <= 32): T(1) = HMAC(PRK, info || 0x01)
    labeled_info = length.to_bytes(2, "big") + _HPKE_LABEL + suite_id + label + info
    return hmac.new(prk, labeled_info + b"\x01", hashlib.sha256).digest()[:length]


def _receiver_context(enc: bytes, private_key: ec.EllipticCurvePrivateKey, info: bytes) -> tuple[bytes, bytes]:
    """SetupBaseR: (key, base_nonce). ``ValueError`` when ``enc`` is not a valid P-256 point."""
    ephemeral = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), enc)
    dh = private_key.exchange(ec.ECDH(), ephemeral)
    recipient = private_key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    eae_prk = _labeled_extract(_KEM_SUITE_ID, b"", b"eae_prk", dh)
    shared_secret = _labeled_expand(_KEM_SUITE_ID, eae_prk, b"shared_secret", enc + recipient, 32)
    context = (b"\x00" + _labeled_extract(_SUITE_ID, b"", b"psk_id_hash", b"")
               + _labeled_extract(_SUITE_ID, b"", b"info_hash", info))
    secret = _labeled_extract(_SUITE_ID, shared_secret, b"secret", b"")
    return (_labeled_expand(_SUITE_ID, secret, b"key", context, _KEY_LEN),
            _labeled_expand(_SUITE_ID, secret, b"base_nonce", context, _NONCE_LEN))


class PhotoOpener:
    """``open_photo`` for a blob that arrives in pieces: ``update`` each piece, then ``finish``.

    ``size`` is the blob's total length, known before its bytes (the manifest and the upload
    declare it), so the opener knows where the GCM tag starts. ``update`` returns plaintext
    that is NOT yet authenticated: the caller may only hash it or encrypt it to a temporary
    place, and must discard all of it unless ``finish`` returns. ``finish`` checks the tag and
    the SHA-256 of the whole plaintext (computed here, as it passes) against the header.

    The checks and their order are ``open_photo``'s. A header that fails them raises from the
    ``update`` that completes it, and again from ``finish``; a short blob raises ``malformed``
    from ``finish``. After any failure the opener takes no more bytes.
    """

    def __init__(self, private_keys: Mapping[str, ec.EllipticCurvePrivateKey], *, photo_id: str,
                 sequence_id: str, plaintext_sha256: str, size: int) -> None:
        self._expected_sha = _expected_sha256(plaintext_sha256)
        _uuid_bytes(photo_id, "photo_id")
        _uuid_bytes(sequence_id, "sequence_id")
        if not isinstance(size, int) or size < 0:
            raise CryptoError("invalid_argument", "size must be a non-negative integer")
        self._keys, self._photo_id, self._sequence_id, self._size = private_keys, photo_id, sequence_id, size
        self._head = bytearray()  # the clear header and enc, until the ciphertext starts
        self._header: SealHeader | None = None
        self._decryptor: Any = None
        self._deferred: CryptoError | None = None  # enc is not a point: reported after the length check
        self._failure: CryptoError | None = None
        self._tag = bytearray()
        self._received = 0
        self._digest = hashlib.sha256()

    def update(self, data: bytes | memoryview) -> bytes:
        """Take the next bytes of the blob; the plaintext they complete (unauthenticated)."""
        if self._failure is not None:
            raise self._failure
        view = memoryview(data).cast("B")
        at, self._received = self._received, self._received + len(view)
        if self._received > self._size:
            self._fail(CryptoError("malformed", "more bytes than the declared size"))
        try:
            if self._decryptor is None:
                if self._deferred is None:
                    view = self._take_head(view)
                if self._decryptor is None:
                    return b""
                at = self._received - len(view)
            tag_at = self._size - TAG_LEN
            body = view[: max(0, tag_at - at)]
            if len(body) < len(view):
                self._tag += view[len(body):]
            plaintext = self._decryptor.update(body) if body else b""
        except CryptoError as exc:
            self._fail(exc)
        self._digest.update(plaintext)
        return plaintext

    def finish(self) -> None:
        """Authenticate everything ``update`` returned; raises ``CryptoError`` unless it is the photo."""
        if self._failure is not None:
            raise self._failure
        try:
            if self._header is None:
                self._check_header(bytes(self._head))  # the blob is shorter than HEADER_MAX
            assert self._header is not None
            if self._received < self._size or self._size < self._header.length + ENC_LEN + TAG_LEN:
                raise CryptoError("malformed", "truncated seal")
            if self._deferred is not None:
                raise self._deferred
            try:
                self._decryptor.finalize_with_tag(bytes(self._tag))
            except InvalidTag as exc:
                raise CryptoError("decrypt_failed") from exc
            if not hmac.compare_digest(self._digest.hexdigest(), self._expected_sha):
                raise CryptoError("hash_mismatch", "plaintext hash differs from the header")
        except CryptoError as exc:
            self._fail(exc)

    def _fail(self, exc: CryptoError) -> NoReturn:
        self._failure = exc
        self._decryptor = None
        raise exc

    def _take_head(self, view: memoryview) -> memoryview:
        """Collect the header, then enc; once both are here, start AES-GCM. Returns the rest.

        The header is checked once ``HEADER_MAX`` bytes (or the whole blob) are in, as
        ``parse_seal_header`` requires; ``HEADER_MAX`` < ``HEADER_MIN + ENC_LEN``, so those bytes
        never reach past enc.
        """
        if self._header is None:
            take = HEADER_MAX - len(self._head)
            self._head += view[:take]
            view = view[take:]
            if len(self._head) < HEADER_MAX and self._received < self._size:
                return view
            self._check_header(bytes(self._head))
        header = self._header
        assert header is not None
        start = header.length + ENC_LEN
        take = start - len(self._head)
        self._head += view[:take]
        view = view[take:]
        if len(self._head) < start:
            return view
        info = INFO_LABEL + bytes(self._head[: header.length])
        try:
            key, nonce = _receiver_context(bytes(self._head[header.length:]), self._keys[header.key_id], info)
        except ValueError:  # enc is not a valid P-256 point: as ``open_photo``, after the length check
            self._deferred = CryptoError("decrypt_failed")
            return view
        self._decryptor = Cipher(algorithms.AES(key), modes.GCM(nonce)).decryptor()
        return view

    def _check_header(self, head: bytes) -> None:
        header = parse_seal_header(head)
        if header.photo_id != self._photo_id:
            raise CryptoError("wrong_photo")
        if header.sequence_id != self._sequence_id:
            raise CryptoError("wrong_sequence")
        if not hmac.compare_digest(header.plaintext_sha256, self._expected_sha):
            raise CryptoError("hash_mismatch", "header hash differs from the expected one")
        if header.key_id not in self._keys:
            raise CryptoError("unknown_key")
        self._header = header
