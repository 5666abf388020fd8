"""Verify one sealed photo and file it, in one pass over its bytes as they arrive.

Each piece of a blob (``IngestStream.feed``, in a worker thread, off the event loop) is appended
to the upload's part file (the tus state a resumed upload continues from), hashed, run through
the seal opener (HPKE, streaming) and its plaintext encrypted at rest into a staging file. No
byte is read twice, and a photo is held whole in memory only in the rare case where its image
header runs past the first ``HEADER_PREFIX`` bytes.

The opener checks the seal header (ids, expected plaintext hash, key) as soon as it arrives and
releases a chunk's plaintext only once that chunk's tag is checked, so nothing unauthenticated is
ever staged. ``finish`` then checks, in this order: size, sealed hash, the end of the seal (last
chunk, plaintext hash), image header. Only when every check has passed is the staged object made
durable (fsync, atomic rename into place, directory fsync); before that the staging file is never
taken as stored: a refusal removes it, and one left by a crash is swept at start. The caller
records the photo only after ``finish`` returns.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import threading
from pathlib import Path
from typing import Any, Mapping, Sequence

from cryptography.hazmat.primitives.asymmetric import ec

from crypto import CryptoError, decrypt_at_rest
from crypto.envelope import AtRestEncryptor
from crypto.seal import PhotoOpener

from ..errors import ApiError
from ..protocol.manifest import PhotoEntry
from ..storage.files import storage_errors, write_all
from ..storage.objects import ObjectStore
from .images import HEADER_PREFIX, ImageInfo, NeedsWholeImage, inspect_header

_SEAL_REASONS = {
    "malformed": "seal_malformed",
    "wrong_photo": "seal_wrong_photo",
    "wrong_sequence": "seal_wrong_photo",
    "hash_mismatch": "plaintext_hash_mismatch",
    "unknown_key": "seal_unknown_key",
    "decrypt_failed": "seal_invalid",
}
_REPLAY_CHUNK = 1 << 20


@dataclasses.dataclass(frozen=True)
class FiledPhoto:
    photo_id: str
    storage_key: str
    kek_id: str
    stored_size: int
    size: int
    width: int
    height: int
    mime: str


class IngestStream:
    """One upload's bytes on their way to storage; ``offset`` bytes taken so far.

    Calls come one at a time from the upload's owner (feed, replay, finish, suspend, discard);
    the lock only makes ``discard`` wait for a feed still running in a worker thread.
    """

    def __init__(self, expected: PhotoEntry, *, part: Path, objects: ObjectStore, staging_name: str,
                 seal_keys: Mapping[str, ec.EllipticCurvePrivateKey], kek_id: str, kek: bytes,
                 max_pixels: int) -> None:
        self.expected = expected
        self.offset = 0
        self._part = part
        self._objects = objects
        self._staging = objects.staging_path(staging_name)
        self._key = ObjectStore.key_for(expected.photo_id, "original")
        self._kek_id = kek_id
        self._keks = {kek_id: kek}
        self._max_pixels = max_pixels
        self._sealed = hashlib.sha256()
        self._opener = PhotoOpener(seal_keys, photo_id=expected.photo_id, sequence_id=expected.sequence_id,
                                   plaintext_sha256=expected.sha256)
        self._opening = True  # False once the opener refused: it keeps the reason for finish()
        self._at_rest = AtRestEncryptor(kek_id=kek_id, kek=kek, object_id=self._key)
        self._size = 0  # plaintext bytes so far
        self._stored = 0  # envelope bytes staged so far
        self._prefix = bytearray()  # the plaintext's first HEADER_PREFIX bytes, for the image header check
        self._part_fd: int | None = None
        self._staged_fd: int | None = None
        self._staged = False
        self._lock = threading.Lock()
        self._gone = False

    def sealed_digest(self) -> bytes:
        """SHA-256 of the bytes taken so far."""
        return self._sealed.copy().digest()

    def feed(self, chunks: Sequence[bytes], digest: Any = None) -> None:
        """Append received bytes to the part file and take them (``digest``, if given, sees them too)."""
        with self._lock, storage_errors():
            self._alive()
            if self._part_fd is None:
                # O_CREAT: a power cut can take a part file whose creation was never made durable;
                # its offset is then 0 (the size of nothing) and the upload starts over
                self._part_fd = os.open(self._part, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            for chunk in chunks:
                write_all(self._part_fd, chunk)
                if digest is not None:
                    digest.update(chunk)
                self._take(chunk)

    def replay(self, upto: int) -> None:
        """Take the part file's first ``upto`` bytes again: after a restart, or a stream given up."""
        with self._lock, open(self._part, "rb") as part:
            self._alive()
            while self.offset < upto:
                chunk = part.read(min(_REPLAY_CHUNK, upto - self.offset))
                if not chunk:
                    raise OSError(f"part file {self._part.name} ends before offset {upto}")
                self._take(chunk)

    def _take(self, chunk: bytes) -> None:
        self._sealed.update(chunk)
        self.offset += len(chunk)
        if not self._opening:
            return
        try:
            plaintext = self._opener.update(chunk)
        except CryptoError:
            self._opening = False
            return
        self._stage(plaintext)

    def _stage(self, plaintext: bytes) -> None:
        """Encrypt authenticated plaintext at rest into the staging file."""
        if plaintext:
            if len(self._prefix) < HEADER_PREFIX:
                self._prefix += plaintext[: HEADER_PREFIX - len(self._prefix)]
            self._size += len(plaintext)
            self._write_staged(self._at_rest.update(plaintext))

    def _write_staged(self, data: bytes) -> None:
        write_all(self._staged_file(), data)
        self._stored += len(data)

    def _staged_file(self) -> int:
        if self._staged_fd is None:
            if not self._staged:
                self._staged_fd = os.open(self._staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                self._staged = True
            else:
                self._staged_fd = os.open(self._staging, os.O_WRONLY | os.O_APPEND)
        return self._staged_fd

    def finish(self) -> FiledPhoto:
        """Every check, in order; files the object only if all pass. Raises ``ApiError`` (and discards)."""
        with self._lock, storage_errors():
            self._alive()
            try:
                self._close_part()
                self._check_seal()
                self._write_staged(self._at_rest.finalize())
                fd = self._staged_file()
                info = self._inspect_image()
                if info.mime != self.expected.mime:
                    raise ApiError("image_unsupported",
                                   f"The photo is a {info.mime}, not the {self.expected.mime} the manifest says.")
                os.fsync(fd)
                self._close_staged()
                self._objects.adopt(self._key, self._staging)
            except BaseException:
                self._drop()
                raise
            self._gone = True
        return FiledPhoto(
            photo_id=self.expected.photo_id, storage_key=self._key, kek_id=self._kek_id,
            stored_size=self._stored, size=self._size,
            width=info.width, height=info.height, mime=info.mime,
        )

    def _check_seal(self) -> None:
        expected = self.expected
        if self.offset != expected.sealed_size:
            raise ApiError("sealed_size_mismatch")
        if self._sealed.hexdigest() != expected.sealed_sha256:
            raise ApiError("sealed_hash_mismatch")
        try:
            self._stage(self._opener.finalize())
        except CryptoError as exc:
            raise ApiError(_SEAL_REASONS.get(exc.reason, "seal_invalid")) from None

    def _inspect_image(self) -> ImageInfo:
        try:
            return inspect_header(bytes(self._prefix), self._max_pixels, size=self._size)
        except NeedsWholeImage:  # a header longer than the prefix kept: read the staged photo back
            whole = decrypt_at_rest(self._staging.read_bytes(), self._keks, object_id=self._key)
            return inspect_header(whole, self._max_pixels)

    def suspend(self) -> None:
        """Between two PATCHes of the upload: no file left open."""
        with self._lock:
            self._close_part()
            self._close_staged()

    def discard(self) -> None:
        """Give the stream up: its staged object is removed (the part file stays, it is the upload's)."""
        with self._lock:
            if not self._gone:
                self._drop()

    def _drop(self) -> None:
        self._gone = True
        self._close_part()
        self._close_staged()
        if self._staged:
            self._staging.unlink(missing_ok=True)

    def _alive(self) -> None:
        if self._gone:
            raise RuntimeError("this ingest stream was finished or discarded")

    def _close_part(self) -> None:
        if self._part_fd is not None:
            os.close(self._part_fd)
            self._part_fd = None

    def _close_staged(self) -> None:
        if self._staged_fd is not None:
            os.close(self._staged_fd)
            self._staged_fd = None
