"""ClinPhoto's cryptographic formats, shared by the sync server and (through
``crypto/vectors``) the PWA. Recipes only: each makes its own keys and nonces,
checks before it decrypts, and fails with one exception, :class:`CryptoError`.
Byte formats and the reasons behind them: ``crypto/FORMAT.md``.
"""

from crypto.envelope import decrypt_at_rest, encrypt_at_rest, envelope_kek_id, rewrap_header
from crypto.errors import REASONS, CryptoError
from crypto.form_seal import FormSealHeader, open_form, parse_form_seal_header, seal_form
from crypto.keys import b64url_decode, b64url_encode, key_id, public_jwk, public_key_from_jwk
from crypto.keystore import KeyStore
from crypto.seal import PhotoOpener, SealHeader, open_photo, parse_seal_header, seal_photo
from crypto.signing import canonical_json, sign_document, verify_document

__all__ = [
    "REASONS",
    "CryptoError",
    "FormSealHeader",
    "KeyStore",
    "PhotoOpener",
    "SealHeader",
    "b64url_decode",
    "b64url_encode",
    "canonical_json",
    "decrypt_at_rest",
    "encrypt_at_rest",
    "envelope_kek_id",
    "key_id",
    "open_form",
    "open_photo",
    "parse_form_seal_header",
    "parse_seal_header",
    "public_jwk",
    "public_key_from_jwk",
    "rewrap_header",
    "seal_form",
    "seal_photo",
    "sign_document",
    "verify_document",
]
