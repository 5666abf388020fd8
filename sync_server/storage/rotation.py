"""Key rotation for data at rest: re-wrap each object's data key; never re-encrypt the data."""
from __future__ import annotations

import os
from pathlib import Path

from crypto import KeyStore, envelope_kek_id, rewrap_header

from ..db import Db
from .files import write_durably

_HEADER_PREFIX = 512  # an envelope header is far shorter; reading this much is enough to re-wrap it


async def rewrap_objects(store: Db, keys: KeyStore, root: Path) -> int:
    """Re-wrap every stored object not yet under the current KEK; returns how many were re-wrapped."""
    count = 0
    for table in ("photo", "rendition"):
        rows = await store.fetch_all(
            f"SELECT storage_key, kek_id FROM {table} WHERE storage_key IS NOT NULL AND kek_id != :k",
            {"k": keys.kek_id})
        for row in rows:
            path = root / row["storage_key"]
            data = path.read_bytes()
            if envelope_kek_id(data[:_HEADER_PREFIX]) != keys.kek_id:
                header, old_len = rewrap_header(data[:_HEADER_PREFIX], keys.keks,
                                                new_kek_id=keys.kek_id, new_kek=keys.kek)
                write_durably(path, header + data[old_len:])
            size = os.stat(path).st_size
            async with store.write() as db:
                await db.execute(f"UPDATE {table} SET kek_id = :k, stored_size = :s WHERE storage_key = :key",
                                 {"k": keys.kek_id, "s": size, "key": row["storage_key"]})
            count += 1
    return count
