"""Find filed objects whose content no longer matches what was recorded (a failing disk, a bad copy).

Each filed original is read back, decrypted (AES-GCM: any changed byte fails) and its plaintext
hashed against the SHA-256 recorded when it was filed, the one the device's receipt carries.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterable, Mapping

from crypto import CryptoError

from .objects import ObjectStore


@dataclass(frozen=True)
class Damaged:
    photo_id: str
    problem: str  # missing, unreadable, undecryptable, hash_mismatch


def check_objects(rows: Iterable[Mapping[str, str]], objects: ObjectStore, keks: Mapping[str, bytes]) -> list[Damaged]:
    """``rows``: filed photos (``id``, ``sha256``, ``storage_key``); the ones whose object is damaged."""
    damaged = []
    for row in rows:
        try:
            plaintext = objects.get(row["storage_key"], keks)
        except FileNotFoundError:
            damaged.append(Damaged(row["id"], "missing"))
            continue
        except OSError:
            damaged.append(Damaged(row["id"], "unreadable"))
            continue
        except (CryptoError, ValueError):
            damaged.append(Damaged(row["id"], "undecryptable"))
            continue
        if hashlib.sha256(plaintext).hexdigest() != row["sha256"]:
            damaged.append(Damaged(row["id"], "hash_mismatch"))
    return damaged
