"""tus 1.0 header rules (core, creation, checksum, termination, expiration). Pure: no I/O.

https://tus.io/protocols/resumable-upload — the endpoints translate HTTP to these calls.
"""
from __future__ import annotations

import base64
import binascii
from typing import Mapping

from ..errors import ApiError

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,checksum,termination,expiration"
CHECKSUM_ALGORITHMS = "sha256"
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"


def check_version(headers: Mapping[str, str]) -> None:
    if headers.get("tus-resumable") != TUS_VERSION:
        raise ApiError("tus_version_unsupported", headers={"Tus-Version": TUS_VERSION})


def parse_length(value: str | None, maximum: int) -> int:
    if value is None or not value.isdigit() or len(value) > 18:
        raise ApiError("upload_length_invalid")
    length = int(value)
    if length > maximum:
        raise ApiError("upload_too_large", details={"max_bytes": maximum})
    return length


def parse_offset(value: str | None) -> int:
    if value is None or not value.isdigit() or len(value) > 18:
        raise ApiError("upload_offset_mismatch", "Upload-Offset is missing or not a non-negative integer.")
    return int(value)


def parse_metadata(value: str | None) -> dict[str, str]:
    """``key base64value,key2 base64value2``; values must be UTF-8."""
    result: dict[str, str] = {}
    if not value:
        return result
    for pair in value.split(","):
        parts = pair.strip().split(" ")
        if not parts[0] or len(parts) > 2 or parts[0] in result:
            raise ApiError("upload_metadata_invalid")
        try:
            result[parts[0]] = base64.b64decode(parts[1], validate=True).decode() if len(parts) == 2 else ""
        except (binascii.Error, UnicodeDecodeError):
            raise ApiError("upload_metadata_invalid") from None
    return result


def parse_checksum(value: str | None) -> bytes | None:
    """The expected SHA-256 digest of a PATCH body, or None when the client sent none."""
    if value is None:
        return None
    algorithm, _, encoded = value.strip().partition(" ")
    if algorithm.lower() != "sha256":
        raise ApiError("upload_checksum_unsupported", headers={"Tus-Checksum-Algorithm": CHECKSUM_ALGORITHMS})
    try:
        digest = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise ApiError("upload_checksum_unsupported", "Upload-Checksum is not base64.") from None
    if len(digest) != 32:
        raise ApiError("upload_checksum_unsupported", "Upload-Checksum is not a SHA-256 digest.")
    return digest
