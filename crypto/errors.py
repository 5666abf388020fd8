"""The one exception every recipe in this package raises.

Like Fernet's ``InvalidToken``, callers catch a single type. ``reason`` is a
short stable string the server can map to an error code and an audit entry
without parsing messages. Messages never contain key material or plaintext.
"""

from __future__ import annotations

# Every reason a recipe may give, so callers (and a docs test) can rely on the set.
REASONS = frozenset(
    {
        "invalid_argument",  # the caller passed something the recipe refuses (bad UUID, short key)
        "malformed",  # bytes do not follow the format (magic, version, lengths, truncation)
        "unknown_key",  # the key id in the blob/signature is not in the caller's keyring
        "wrong_photo",  # seal header names another photo than the one expected
        "wrong_sequence",  # seal header names another sequence than the one expected
        "hash_mismatch",  # a SHA-256 differs from the one expected
        "decrypt_failed",  # AEAD authentication failed: tampered bytes, wrong key or wrong binding
        "unwrap_failed",  # AES key wrap integrity check failed: wrong KEK for that id, or tampering
        "bad_signature",  # a signature does not verify, or its envelope is malformed
        "bad_key",  # a JWK or key file is not a valid key of the expected type
    }
)


class CryptoError(Exception):
    """A cryptographic check failed; ``reason`` says which, as a stable code."""

    def __init__(self, reason: str, message: str | None = None) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown CryptoError reason {reason!r}")
        self.reason = reason
        super().__init__(message or reason)
