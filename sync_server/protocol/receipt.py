"""The receipt: what the server attests it holds, signed with its Ed25519 key. Pure."""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crypto import sign_document

RECEIPT_TYPE = "clinphoto.receipt.v1"


def build_receipt(*, batch_id: str, device_id: str, issued_at: str, server: str,
                  photos: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    listed = [_entry(p) for p in sorted(photos, key=lambda p: p["photo_id"])]
    return {
        "type": RECEIPT_TYPE,
        "batch_id": batch_id,
        "device_id": device_id,
        "issued_at": issued_at,
        "server": server,
        "photo_count": len(listed),
        "photos": listed,
    }


def _entry(photo: Mapping[str, Any]) -> dict[str, Any]:
    """One photo of the receipt; ``taken_by`` names its person (id, and name when known), ``held`` the code
    of a photo filed in quarantine because of its person (``auth/capture.py``)."""
    entry = {"photo_id": photo["photo_id"], "sequence_id": photo["sequence_id"], "sha256": photo["sha256"],
             "sealed_sha256": photo["sealed_sha256"], "size": photo["size"]}
    if photo.get("person_id"):
        entry["taken_by"] = {"person_id": photo["person_id"],
                             **({"name": photo["person_name"]} if photo.get("person_name") else {})}
    if photo.get("held"):
        entry["held"] = photo["held"]
    return entry


def sign_receipt(receipt: Mapping[str, Any], key: Ed25519PrivateKey, key_id: str) -> dict[str, Any]:
    return {"receipt": dict(receipt), "signature": sign_document(receipt, key, key_id)}
