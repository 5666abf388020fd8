"""Hospital storage for photos: every object encrypted at rest, filed under a stable key.

Layout under ``<data_dir>/objects/``: ``<aa>/<bb>/<photo_id>.<kind>`` where ``aa``/``bb`` are
the first hex digits of the photo id (keeps directories small) and kind is ``original``,
``thumbnail`` or ``preview``; ``.staging/`` holds objects still being written (an upload's
original, encrypted as it arrives), renamed into place once verified. The object id bound into
the envelope's AAD is the storage key, so one object's file cannot be passed off as another's.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

from crypto import decrypt_at_rest, encrypt_at_rest

from ..cluster import staging_name
from ..types import is_uuid
from .files import rename_durably, write_durably

_STAGING = ".staging"


class ObjectStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    @staticmethod
    def key_for(photo_id: str, kind: str) -> str:
        if not is_uuid(photo_id) or kind not in {"original", "thumbnail", "preview"}:
            raise ValueError("bad object key")
        return f"{photo_id[:2]}/{photo_id[2:4]}/{photo_id}.{kind}"

    def path(self, key: str) -> Path:
        return self.root / key

    def put(self, key: str, plaintext: bytes, *, kek_id: str, kek: bytes) -> int:
        """Encrypt and store durably; returns the stored size."""
        blob = encrypt_at_rest(plaintext, kek_id=kek_id, kek=kek, object_id=key)
        write_durably(self.path(key), blob)
        return len(blob)

    def staging_path(self, name: str) -> Path:
        """Where an object is written before it is filed: never taken as stored, swept at start."""
        directory = self.root / _STAGING
        directory.mkdir(mode=0o700, exist_ok=True)
        return directory / staging_name(name)  # this process's own (cluster.py)

    def adopt(self, key: str, staged: Path) -> None:
        """File an object written (and fsynced) at ``staging_path``: atomic rename, directory fsync."""
        rename_durably(staged, self.path(key))

    def get(self, key: str, keks: Mapping[str, bytes]) -> bytes:
        return decrypt_at_rest(self.path(key).read_bytes(), keks, object_id=key)

    def exists(self, key: str, size: int | None = None) -> bool:
        path = self.path(key)
        try:
            stat = path.stat()
        except FileNotFoundError:
            return False
        return size is None or stat.st_size == size
