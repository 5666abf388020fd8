"""Patient data in the database, encrypted at rest: a sequence's form (the clinical answers, the
surgeon's name, the free-text note) is stored in the at-rest envelope photos use (``CPR1``,
``crypto/FORMAT.md``) under the install's current KEK, bound to its row by the object id
``sequence/<id>/form``, as text: ``cpr1:`` + base64url. A copy of the database, its WAL or a dump
without the key folder shows no form; a form moved to another row does not open.

Forms written in clear by an earlier version are sealed in place at start (``seal_clear_forms``).
Old KEK generations stay in the keyring, so a form sealed before a rotation still opens.
"""
from __future__ import annotations

import json
from typing import Any, Mapping

from crypto import KeyStore, decrypt_at_rest, encrypt_at_rest
from crypto.keys import b64url_decode, b64url_encode

from ..db import Db

PREFIX = "cpr1:"
_BATCH = 500


def _object_id(sequence_id: str) -> str:
    return f"sequence/{sequence_id}/form"


def seal_form(keys: KeyStore, sequence_id: str, form: Mapping[str, Any]) -> str:
    """The form as stored: encrypted under the current KEK, bound to its sequence."""
    plaintext = json.dumps(dict(form), sort_keys=True).encode()
    blob = encrypt_at_rest(plaintext, kek_id=keys.kek_id, kek=keys.kek, object_id=_object_id(sequence_id))
    return PREFIX + b64url_encode(blob)


def open_form(keys: KeyStore, sequence_id: str, stored: str) -> dict[str, Any]:
    """The form of this sequence, from its stored text; ``crypto.CryptoError`` if it is not this row's."""
    if stored.startswith(PREFIX):
        plaintext = decrypt_at_rest(b64url_decode(stored[len(PREFIX):]), keys.keks, object_id=_object_id(sequence_id))
        form: dict[str, Any] = json.loads(plaintext)
        return form
    clear: dict[str, Any] = json.loads(stored)  # written in clear before this version, until the start seals it
    return clear


async def seal_clear_forms(store: Db, keys: KeyStore) -> int:
    """Seal in place every form still stored in clear; how many. Runs at start, in batches."""
    sealed, after = 0, ""
    while True:
        rows = await store.fetch_all("SELECT id, form FROM sequence WHERE substr(form, 1, 5) <> 'cpr1:' AND id > :a "
                                     "ORDER BY id LIMIT :n", {"a": after, "n": _BATCH})
        if not rows:
            return sealed
        after = rows[-1]["id"]
        async with store.write() as db:
            for row in rows:
                await db.execute("UPDATE sequence SET form = :f WHERE id = :id AND form = :old",
                                 {"f": seal_form(keys, row["id"], json.loads(row["form"])), "id": row["id"],
                                  "old": row["form"]})
        sealed += len(rows)
