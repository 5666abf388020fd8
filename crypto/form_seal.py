"""Form seal: a sequence form (patient identifier + qualification) sealed to the hospital key.

Same suite as the photo seal (HPKE RFC 9180 base mode, P-256, HKDF-SHA256, AES-256-GCM) but its
own magic (``CPF1``) and its own HPKE info label, so a photo blob can never be passed off as a
form or the reverse: the magic is checked first, and even a relabelled blob would derive another
key schedule. The phone seals each form the moment the sequence is created and keeps only the
sealed bytes for sync; only the server opens it. The clear header holds the key id, the sequence
id and the SHA-256 of the plaintext, which is the RFC 8785 canonical JSON of the form. Byte
format: ``FORMAT.md``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any, Mapping, cast

from cryptography.hazmat.primitives.asymmetric import ec

from crypto._sealing import ENC_LEN, TAG_LEN, HeaderFormat, check_public_key, hpke_open, hpke_seal, uuid_bytes
from crypto.errors import CryptoError
from crypto.jcs import canonical_json

MAGIC = b"CPF1"
VERSION = 0x01
INFO_LABEL = b"clinphoto/seal-form/v1"
HEADER = HeaderFormat(MAGIC, VERSION, uuids=1, name="form seal")
HEADER_MIN = HEADER.min_length  # 55
HEADER_MAX = HEADER.max_length  # 118
PLAINTEXT_MAX = 32 * 1024  # a form is a few hundred bytes; refuse anything absurd before parsing


@dataclass(frozen=True)
class FormSealHeader:
    key_id: str
    sequence_id: str  # canonical lowercase UUID
    plaintext_sha256: str  # lowercase hex
    length: int  # header bytes from the magic through plaintext_sha256; enc starts here


def _canonical_form(form: Mapping[str, Any]) -> bytes:
    if not isinstance(form, Mapping):
        raise CryptoError("invalid_argument", "a form is a JSON object")
    plaintext = canonical_json(dict(form))
    if len(plaintext) > PLAINTEXT_MAX:
        raise CryptoError("invalid_argument", "form too large")
    return plaintext


def seal_form(form: Mapping[str, Any], public_key: ec.EllipticCurvePublicKey, key_id: str) -> bytes:
    """Seal ``form`` (its ``sequence_id`` is bound into the header) to ``public_key``."""
    check_public_key(public_key)
    plaintext = _canonical_form(form)
    header = HEADER.build(key_id, ((form.get("sequence_id"), "sequence_id"),), hashlib.sha256(plaintext).digest())
    return header + hpke_seal(plaintext, public_key, INFO_LABEL + header)


def parse_form_seal_header(blob: bytes | bytearray | memoryview) -> FormSealHeader:
    """Read the clear header; nothing here is authenticated until :func:`open_form` succeeds."""
    header = HEADER.parse(blob)
    return FormSealHeader(key_id=header.key_id, sequence_id=header.ids[0],
                          plaintext_sha256=header.plaintext_sha256, length=header.length)


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def open_form(
    blob: bytes,
    private_keys: Mapping[str, ec.EllipticCurvePrivateKey],
    *,
    sequence_id: str,
) -> dict[str, Any]:
    """Open a sealed form the caller expects for ``sequence_id``; returns the form.

    Checks, in order: header (``malformed``), sequence id (``wrong_sequence``), key id
    (``unknown_key``), AEAD (``decrypt_failed``), plaintext SHA-256 = header (``hash_mismatch``),
    plaintext is the canonical JSON of an object (``malformed``), and the form's own
    ``sequence_id`` is the expected one (``wrong_sequence``).
    """
    uuid_bytes(sequence_id, "sequence_id")
    header = parse_form_seal_header(blob)
    if header.sequence_id != sequence_id:
        raise CryptoError("wrong_sequence")
    private_key = private_keys.get(header.key_id)
    if private_key is None:
        raise CryptoError("unknown_key")
    if len(blob) < header.length + ENC_LEN + TAG_LEN:
        raise CryptoError("malformed", "truncated form seal")
    if len(blob) > header.length + ENC_LEN + PLAINTEXT_MAX + TAG_LEN:
        raise CryptoError("malformed", "form seal too large")
    plaintext = hpke_open(bytes(blob[header.length :]), private_key, INFO_LABEL + bytes(blob[: header.length]))
    if not hmac.compare_digest(hashlib.sha256(plaintext).hexdigest(), header.plaintext_sha256):
        raise CryptoError("hash_mismatch", "plaintext hash differs from the header")
    try:
        form = json.loads(plaintext.decode("utf-8"), parse_constant=_reject_constant)
        canonical = canonical_json(form) if isinstance(form, dict) else None
    except (ValueError, UnicodeDecodeError, RecursionError, CryptoError) as exc:
        raise CryptoError("malformed", "the form is not canonical JSON") from exc
    if canonical is None or canonical != plaintext:
        raise CryptoError("malformed", "the form is not the canonical JSON of an object")
    if form.get("sequence_id") != sequence_id:
        raise CryptoError("wrong_sequence", "the form names another sequence")
    return cast(dict[str, Any], form)  # an object: checked above
