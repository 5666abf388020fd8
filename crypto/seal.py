"""Photo seal v2: HPKE (RFC 9180) to the hospital's P-256 key, then a chunked STREAM payload.

The phone seals each photo the moment it is taken; only the server's private key opens it. The
clear header (key id, photo id, sequence id, plaintext SHA-256) is readable without the key, so
the server can route and pre-check a blob, and it is bound into the HPKE ``info``. HPKE seals a
random payload key and nonce prefix; the photo itself is cut into 64 KiB chunks, each sealed with
AES-256-GCM under nonce = prefix || chunk counter || last-chunk flag (the STREAM construction,
as age and Tink's streaming AEAD use), so a blob is opened chunk by chunk and no plaintext is
released before its chunk's tag has been checked. Truncation, reordering, chunks moved between
blobs and appended chunks all fail. Byte format: ``FORMAT.md``.

``PhotoOpener`` is the only opener; ``open_photo`` feeds it a whole blob.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import Mapping, NoReturn

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crypto._sealing import (
    ENC_LEN,
    TAG_LEN,
    HeaderFormat,
    check_public_key,
    expected_sha256,
    hpke_open,
    hpke_seal,
    uuid_bytes,
)
from crypto.errors import CryptoError

MAGIC = b"CPS1"
VERSION = 0x02
INFO_LABEL = b"clinphoto/seal/v2"
HEADER = HeaderFormat(MAGIC, VERSION, uuids=2, name="seal")
HEADER_MIN = HEADER.min_length  # 71
HEADER_MAX = HEADER.max_length  # 134: read this many bytes to parse any header
PAYLOAD_KEY_LEN = 32  # AES-256-GCM key of the chunks
NONCE_PREFIX_LEN = 7  # nonce = prefix (7) || counter (4, big-endian) || last flag (1)
WRAPPED_LEN = ENC_LEN + PAYLOAD_KEY_LEN + NONCE_PREFIX_LEN + TAG_LEN  # 120: HPKE enc || sealed key || tag
CHUNK_SIZE = 64 * 1024  # plaintext bytes of every chunk but the last
CHUNK_CT_SIZE = CHUNK_SIZE + TAG_LEN
MAX_CHUNKS = 1 << 32


@dataclass(frozen=True)
class SealHeader:
    key_id: str
    photo_id: str  # canonical lowercase UUID
    sequence_id: str  # canonical lowercase UUID
    plaintext_sha256: str  # lowercase hex
    length: int  # header bytes from the magic through plaintext_sha256; enc starts here


def sealed_size(plaintext_size: int) -> int:
    """The payload's size after the header and wrapped key: every chunk's bytes and tags."""
    chunks = max(1, -(-plaintext_size // CHUNK_SIZE))
    return plaintext_size + chunks * TAG_LEN


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    return prefix + counter.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def seal_photo(
    plaintext: bytes,
    public_key: ec.EllipticCurvePublicKey,
    key_id: str,
    photo_id: str,
    sequence_id: str,
) -> bytes:
    """Seal ``plaintext`` to ``public_key``; the ephemeral key, payload key and nonces are the recipe's own."""
    check_public_key(public_key)
    header = HEADER.build(key_id, ((photo_id, "photo_id"), (sequence_id, "sequence_id")),
                          hashlib.sha256(plaintext).digest())
    secret = os.urandom(PAYLOAD_KEY_LEN + NONCE_PREFIX_LEN)
    aead, prefix = AESGCM(secret[:PAYLOAD_KEY_LEN]), secret[PAYLOAD_KEY_LEN:]
    out = [header, hpke_seal(secret, public_key, INFO_LABEL + header)]
    view = memoryview(plaintext)
    last = max(0, (len(view) - 1) // CHUNK_SIZE)  # index of the last chunk; an empty photo has one, empty
    for counter in range(last + 1):
        chunk = view[counter * CHUNK_SIZE:(counter + 1) * CHUNK_SIZE]
        out.append(aead.encrypt(_nonce(prefix, counter, counter == last), chunk, None))
    return b"".join(out)


def parse_seal_header(blob: bytes | bytearray | memoryview) -> SealHeader:
    """Read the clear header. ``blob`` may be any prefix of at least ``HEADER_MAX`` bytes
    (or the whole blob); nothing here is authenticated until the seal opens."""
    header = HEADER.parse(blob)
    photo_id, sequence_id = header.ids
    return SealHeader(key_id=header.key_id, photo_id=photo_id, sequence_id=sequence_id,
                      plaintext_sha256=header.plaintext_sha256, length=header.length)


def open_photo(
    blob: bytes,
    private_keys: Mapping[str, ec.EllipticCurvePrivateKey],
    *,
    photo_id: str,
    sequence_id: str,
    plaintext_sha256: str,
) -> bytes:
    """Open a whole sealed photo the caller expects (ids and hash come from the manifest)."""
    opener = PhotoOpener(private_keys, photo_id=photo_id, sequence_id=sequence_id,
                         plaintext_sha256=plaintext_sha256)
    first = opener.update(blob)
    return first + opener.finalize()


class PhotoOpener:
    """Open a sealed photo as its bytes arrive: ``update`` each piece, then ``finalize``.

    ``update`` returns plaintext whose chunk tag has been checked: it is exactly what the
    sealer sealed, in order. It holds back the last chunk it has (up to 64 KiB + 16) until more
    bytes show that it is not the last one. ``finalize`` opens the last chunk, checks that the
    stream ended there and that the SHA-256 of the whole plaintext is the header's, and returns
    the last chunk's plaintext. Until ``finalize`` returns, the bytes so far are a genuine prefix
    of *some* sealed photo but not yet the expected photo: keep them somewhere temporary.

    Every failure raises ``CryptoError`` (reasons in ``FORMAT.md``); the opener then keeps the
    error and raises it again from every later call. Checks, in order: header (``malformed``),
    photo id (``wrong_photo``), sequence id (``wrong_sequence``), header hash = expected
    (``hash_mismatch``), key id (``unknown_key``), the wrapped payload key (``decrypt_failed``),
    each chunk (``decrypt_failed``; the stream's layout: ``malformed``), then the plaintext hash.
    """

    def __init__(self, private_keys: Mapping[str, ec.EllipticCurvePrivateKey], *, photo_id: str,
                 sequence_id: str, plaintext_sha256: str) -> None:
        self._expected_sha = expected_sha256(plaintext_sha256)
        uuid_bytes(photo_id, "photo_id")
        uuid_bytes(sequence_id, "sequence_id")
        self._keys, self._photo_id, self._sequence_id = private_keys, photo_id, sequence_id
        self._pending = bytearray()  # received, not yet opened: the header, then at most one chunk and a bit
        self._header_length: int | None = None
        self._key_id = ""
        self._aead: AESGCM | None = None
        self._prefix = b""
        self._counter = 0
        self._digest = hashlib.sha256()
        self._failure: CryptoError | None = None
        self._finalized = False

    def update(self, data: bytes | bytearray | memoryview) -> bytes:
        """Take the next bytes of the blob; returns the plaintext of every chunk they complete."""
        self._usable()
        try:
            self._pending += data
            if self._aead is None and not self._take_head():
                return b""
            out = []
            at = 0
            with memoryview(self._pending) as pending:
                # a full chunk followed by at least one more byte is not the last one
                while len(pending) - at > CHUNK_CT_SIZE:
                    out.append(self._open_chunk(pending[at:at + CHUNK_CT_SIZE], last=False))
                    at += CHUNK_CT_SIZE
            del self._pending[:at]
            return out[0] if len(out) == 1 else b"".join(out)
        except CryptoError as exc:
            self._fail(exc)

    def finalize(self) -> bytes:
        """Open the last chunk and check the whole photo; returns the last chunk's plaintext."""
        self._usable()
        try:
            if self._aead is None and not self._take_head():
                raise CryptoError("malformed", "truncated seal")
            if len(self._pending) < TAG_LEN:
                raise CryptoError("malformed", "truncated seal: the last chunk is shorter than its tag")
            if len(self._pending) == TAG_LEN and self._counter > 0:
                raise CryptoError("malformed", "an empty last chunk after a full one")
            plaintext = self._open_chunk(bytes(self._pending), last=True)
            self._pending.clear()
            if not hmac.compare_digest(self._digest.hexdigest(), self._expected_sha):
                raise CryptoError("hash_mismatch", "plaintext hash differs from the header")
        except CryptoError as exc:
            self._fail(exc)
        self._finalized = True
        return plaintext

    def _usable(self) -> None:
        if self._failure is not None:
            raise self._failure
        if self._finalized:
            raise CryptoError("invalid_argument", "this opener is already finalized")

    def _fail(self, exc: CryptoError) -> NoReturn:
        self._failure = exc
        self._aead = None
        self._pending = bytearray()
        raise exc

    def _take_head(self) -> bool:
        """Check the header once it is here, then unwrap the payload key; True once keyed."""
        if self._header_length is None:
            length = HEADER.length_from(self._pending)
            if length is None or len(self._pending) < length:
                return False
            header = parse_seal_header(self._pending)
            if header.photo_id != self._photo_id:
                raise CryptoError("wrong_photo")
            if header.sequence_id != self._sequence_id:
                raise CryptoError("wrong_sequence")
            if not hmac.compare_digest(header.plaintext_sha256, self._expected_sha):
                raise CryptoError("hash_mismatch", "header hash differs from the expected one")
            if header.key_id not in self._keys:
                raise CryptoError("unknown_key")
            self._header_length = length
            self._key_id = header.key_id
        length = self._header_length
        if len(self._pending) < length + WRAPPED_LEN:
            return False
        info = INFO_LABEL + bytes(self._pending[:length])
        secret = hpke_open(bytes(self._pending[length:length + WRAPPED_LEN]), self._keys[self._key_id], info)
        self._aead, self._prefix = AESGCM(secret[:PAYLOAD_KEY_LEN]), secret[PAYLOAD_KEY_LEN:]
        del self._pending[:length + WRAPPED_LEN]
        return True

    def _open_chunk(self, chunk: bytes | memoryview, *, last: bool) -> bytes:
        if self._counter >= MAX_CHUNKS:
            raise CryptoError("malformed", "too many chunks")
        assert self._aead is not None
        try:
            plaintext = self._aead.decrypt(_nonce(self._prefix, self._counter, last), chunk, None)
        except InvalidTag as exc:
            raise CryptoError("decrypt_failed") from exc
        self._counter += 1
        self._digest.update(plaintext)
        return plaintext

