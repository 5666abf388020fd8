"""Verify one sealed photo and file it. Synchronous: run it in a thread, off the event loop.

Order matters: cheap checks first, nothing written until every check has passed, and the
original is written durably (temp, fsync, rename, fsync dir) before anything records it.
"""
from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Mapping

from cryptography.hazmat.primitives.asymmetric import ec

from crypto import CryptoError, open_photo, parse_seal_header

from ..errors import ApiError
from ..protocol.manifest import PhotoEntry
from ..storage.objects import ObjectStore
from .images import inspect_header

_SEAL_REASONS = {
    "malformed": "seal_malformed",
    "wrong_photo": "seal_wrong_photo",
    "wrong_sequence": "seal_wrong_photo",
    "hash_mismatch": "plaintext_hash_mismatch",
    "unknown_key": "seal_unknown_key",
    "decrypt_failed": "seal_invalid",
}


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


def verify_and_file(
    blob_path: Path,
    expected: PhotoEntry,
    *,
    seal_keys: Mapping[str, ec.EllipticCurvePrivateKey],
    objects: ObjectStore,
    kek_id: str,
    kek: bytes,
    max_pixels: int,
    sealed_sha256: str | None = None,
) -> FiledPhoto:
    """``sealed_sha256``: the blob's hash if the caller computed it while receiving the bytes."""
    blob = blob_path.read_bytes()
    if len(blob) != expected.sealed_size:
        raise ApiError("sealed_size_mismatch")
    if (sealed_sha256 or hashlib.sha256(blob).hexdigest()) != expected.sealed_sha256:
        raise ApiError("sealed_hash_mismatch")
    try:
        header = parse_seal_header(blob)
        if header.plaintext_sha256 != expected.sha256:
            raise ApiError("plaintext_hash_mismatch")
        plaintext = open_photo(blob, seal_keys, photo_id=expected.photo_id,
                               sequence_id=expected.sequence_id, plaintext_sha256=expected.sha256)
    except CryptoError as exc:
        raise ApiError(_SEAL_REASONS.get(exc.reason, "seal_invalid")) from None
    del blob
    info = inspect_header(plaintext, max_pixels)
    if info.mime != expected.mime:
        raise ApiError("image_unsupported", f"The photo is a {info.mime}, not the {expected.mime} the manifest says.")
    key = ObjectStore.key_for(expected.photo_id, "original")
    stored = objects.put(key, plaintext, kek_id=kek_id, kek=kek)
    return FiledPhoto(
        photo_id=expected.photo_id, storage_key=key, kek_id=kek_id, stored_size=stored,
        size=len(plaintext), width=info.width, height=info.height, mime=info.mime,
    )
