"""Patient data in the database, encrypted at rest. A copy of the database, its WAL or a dump
without the key folder shows no patient identifier, name, birth date or form.

- A sequence's form (the clinical answers, the surgeon's name, the free-text note), and each field
  of the hospital's patient index (family and given names, birth date, sex), is stored in the
  at-rest envelope photos use (``CPR1``, ``crypto/FORMAT.md``) under the install's current KEK,
  bound to its row by an object id (``sequence/<id>/form``, ``patient/<stored id>/<field>``), as
  text: ``cpr1:`` + base64url. A value moved to another row does not open.
- A patient identifier, wherever the database keeps one (sequences, the index and its other
  identifiers, reconciliation, visits, recent patients, the PACS outbox, audit entries, alerts and
  restricted patients), is stored as ``pid1:`` + base64url(AES-SIV(identifier)) (RFC 5297, 512-bit
  key). AES-SIV is deterministic: its synthetic IV is a keyed PRF (S2V-CMAC) of the identifier, so
  equal identifiers give equal stored values. That is the keyed blind index lookups and joins use
  (``WHERE patient_id = :sealed``), and unlike an HMAC it opens back to the identifier for the
  people allowed to see it. It leaks which rows name the same patient, as any blind index does.
- Name search goes through keyed tokens (``patient_search``): HMAC-SHA256 of each prefix of each
  accent-folded name word and of the birth date; the query's words are tokenised the same way.

Both keys are derived from the install's first KEK (``KeyStore.derive``): they never change, so a
KEK rotation keeps every stored identifier comparable. Values an earlier version wrote in clear are
sealed in place at start (``storage/upgrade.py``).
Old KEK generations stay in the keyring, so a value sealed before a rotation still opens.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import unicodedata
from typing import Any, Iterable, Mapping, overload

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from crypto import CryptoError, KeyStore, decrypt_at_rest, encrypt_at_rest
from crypto.keys import b64url_decode, b64url_encode


PREFIX = "cpr1:"
ID_PREFIX = "pid1:"
TOKEN_PREFIX = "tok1:"
_ID_AD = [b"clinphoto/patient-id/v1"]
_OPENED_MAX = 20_000  # identifiers kept opened in memory (~5 MB; opening one costs ~2 µs)
NAME_WORD_MAX = 40  # prefixes of a name word are indexed up to this many letters


def fold(text: str) -> str:
    """Case- and accent-insensitive form of a name, for prefix matching."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).casefold()


class PatientFields:
    """The install's keys for patient fields in the database (module doc): one per ``Db``."""

    def __init__(self, keys: KeyStore) -> None:
        material = keys.derive("clinphoto/patient-fields/v1", 64 + 32)
        self.keys = keys
        self._siv = AESSIV(material[:64])
        self._token_key = material[64:]
        self._opened: dict[str, str] = {}

    @overload
    def pid(self, identifier: str) -> str: ...
    @overload
    def pid(self, identifier: None) -> None: ...

    def pid(self, identifier: str | None) -> str | None:
        """The identifier as stored (already stored values are given back as they are)."""
        if identifier is None or identifier.startswith(ID_PREFIX):
            return identifier
        return ID_PREFIX + b64url_encode(self._siv.encrypt(identifier.encode("utf-8"), _ID_AD))

    def pids(self, identifiers: Iterable[str]) -> list[str]:
        return [self.pid(i) for i in identifiers]

    @overload
    def open_pid(self, stored: str) -> str: ...
    @overload
    def open_pid(self, stored: None) -> None: ...

    def open_pid(self, stored: str | None) -> str | None:
        """The identifier a stored value holds; ``CryptoError`` if it is not one of this install's."""
        if stored is None or not stored.startswith(ID_PREFIX):
            return stored  # an identifier still in clear (until the start seals it)
        found = self._opened.get(stored)
        if found is None:
            try:
                found = self._siv.decrypt(b64url_decode(stored[len(ID_PREFIX):]), _ID_AD).decode("utf-8")
            except (InvalidTag, ValueError) as exc:
                raise CryptoError("decrypt_failed", "a stored patient identifier does not open") from exc
            if len(self._opened) >= _OPENED_MAX:
                self._opened.clear()
            self._opened[stored] = found
        return found

    def seal_key(self, kind: str, value: str) -> str:
        """A value figures group by (a surgeon's name, a procedure), sealed like an identifier: AES-SIV,
        deterministic, so equal values group together; ``kind`` is bound in (``open_key`` needs it)."""
        return "sv1:" + b64url_encode(self._siv.encrypt(value.encode("utf-8"), [b"clinphoto/value/v1", kind.encode()]))

    def open_key(self, kind: str, stored: str) -> str:
        if not stored.startswith("sv1:"):
            return stored
        try:
            return self._siv.decrypt(b64url_decode(stored[4:]), [b"clinphoto/value/v1", kind.encode()]).decode("utf-8")
        except (InvalidTag, ValueError) as exc:
            raise CryptoError("decrypt_failed", f"a stored {kind} does not open") from exc

    def seal_text(self, value: str | None, object_id: str) -> str | None:
        """A short text (a name, a date) as stored: CPR1 under the current KEK, bound to ``object_id``."""
        if value is None or value.startswith(PREFIX):
            return value
        blob = encrypt_at_rest(value.encode("utf-8"), kek_id=self.keys.kek_id, kek=self.keys.kek, object_id=object_id)
        return PREFIX + b64url_encode(blob)

    def open_text(self, stored: str | None, object_id: str) -> str | None:
        if stored is None or not stored.startswith(PREFIX):
            return stored
        return decrypt_at_rest(b64url_decode(stored[len(PREFIX):]), self.keys.keks, object_id=object_id).decode("utf-8")

    def token(self, kind: str, value: str) -> str:
        """The keyed search token of ``value`` for ``kind`` (``name`` prefix, ``birth`` date)."""
        mac = hmac.new(self._token_key, f"{kind}\x00{value}".encode("utf-8"), hashlib.sha256).digest()
        return TOKEN_PREFIX + b64url_encode(mac[:16])

    def search_tokens(self, family: str | None, given: str | None, birth_date: str | None) -> set[str]:
        """Every token a patient is found by: each prefix of each folded name word, and the birth date."""
        tokens = {self.token("name", word[:n]) for word in name_words(f"{family or ''} {given or ''}")
                  for n in range(1, min(len(word), NAME_WORD_MAX) + 1)}
        if birth_date:
            tokens.add(self.token("birth", birth_date))
        return tokens


def name_words(text: str) -> list[str]:
    """The folded words of a name (split on spaces, hyphens and apostrophes)."""
    return [w for w in re.split(r"[\s\-']+", fold(text)) if w]


PATIENT_FIELDS = ("family", "given", "birth_date", "sex")


def patient_object_id(stored_id: str, field: str) -> str:
    return f"patient/{stored_id}/{field}"


def seal_patient(fields: PatientFields, stored_id: str, values: Mapping[str, Any]) -> dict[str, str | None]:
    """The index fields of one patient as stored, bound to its (stored) identifier."""
    return {f: fields.seal_text(values.get(f), patient_object_id(stored_id, f)) for f in PATIENT_FIELDS}


def open_patient(fields: PatientFields, row: Mapping[str, Any]) -> dict[str, Any]:
    """A ``patient_index`` row with its identifiers and fields opened."""
    out = dict(row)
    stored = row["id"]
    out["id"] = fields.open_pid(stored)
    if "merged_into" in row:
        out["merged_into"] = fields.open_pid(row["merged_into"])
    for f in PATIENT_FIELDS:
        if f in row:
            out[f] = fields.open_text(row[f], patient_object_id(stored, f))
    return out


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
